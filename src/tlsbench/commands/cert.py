"""`tlsbench cert`: generate (when needed) or show the listener's self-signed certificate.

    tlsbench cert                 make sure it exists (valid, covering the names) and show it
    tlsbench cert --name dev.test add a name (regenerates when the name is not covered yet)
    tlsbench cert --show          show it without generating; exit 1 when there is none
    tlsbench cert --path          print only the certificate's path (to pass to --cacert)

It lives in the user data directory (or $TLSBENCH_DATA_DIR).
"""

from __future__ import annotations

import sys

from tlsbench.commands.arguments import QuietParser, UsageError
from tlsbench.engine.records import jsonout
from tlsbench.errors import InputError
from tlsbench.engine.listener import certstore

EXIT_OK, EXIT_MISSING, EXIT_USAGE = 0, 1, 2


def build_parser() -> QuietParser:
    p = QuietParser(prog="tlsbench cert", description="Generate or show the listener's self-signed certificate.")
    p.add_argument("--name", action="append", default=[], metavar="NAME",
                   help="a DNS name or IP address it must cover (repeatable)")
    p.add_argument("--show", action="store_true", help="only show the existing certificate; never generate")
    p.add_argument("--path", action="store_true", help="print only the certificate's path")
    p.add_argument("--json", action="store_true", help="print the details as one JSON object")
    return p


def describe(info: certstore.CertInfo) -> list[str]:
    state = "generated just now" if info.generated else "existing"
    lines = [f"certificate  {info.cert_path} ({state})",
             f"key          {info.key_path}",
             f"subject      {info.subject}",
             f"names (SAN)  {', '.join(info.names)}",
             f"valid        {info.not_before:%Y-%m-%d %H:%M} UTC to {info.not_after:%Y-%m-%d %H:%M} UTC",
             f"SHA-256      {info.fingerprint}",
             f"pin-sha256   {info.pin_sha256} (curl --pinnedpubkey)",
             "to trust it (with the listener's port):"]
    lines += [f"  {hint}" for hint in certstore.trust_hints(info)]
    return lines


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        build_parser().print_help()
        return EXIT_OK
    try:
        args = build_parser().parse_args(argv)
        if args.show:
            if args.name:
                raise InputError("--show only shows; drop --name (or --show to add names)")
            info = certstore.existing()
            if info is None:
                print(f"tlsbench cert: no certificate yet in {certstore.data_dir()}; run 'tlsbench cert' to make one",
                      file=sys.stderr)
                return EXIT_MISSING
        else:
            info = certstore.ensure_certificate(args.name)
    except (UsageError, InputError) as exc:
        print(f"tlsbench cert: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.path:
        print(info.cert_path)
    elif args.json:
        print(jsonout.dumps(info.to_dict()))
    else:
        print("\n".join(describe(info)))
    return EXIT_OK

"""`tlsbench probe HOST:PORT [options]`: one connection, headless, as a waterfall or as JSON.

Exit codes: 0 the connection completed (warnings allowed), 1 it failed, 2 bad input.
Imports stay light: no Textual here, PySocks only when a proxy is used (in the proxy stage).
"""

from __future__ import annotations

import argparse
import sys

from tlsbench.commands import repeat
from tlsbench.commands.arguments import (apply_resolve, QuietParser, UsageError, add_connection_options, fail_usage,
                                         spec_from_args, unescape_send)
from tlsbench.engine.errors import InputError, TlsbenchError
from tlsbench.engine.spec import ConnectionSpec, build_spec, format_hostport

PROG = "tlsbench probe"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROXY_KINDS = ("socks4", "socks4a", "socks5", "socks5h")
TLS_OPTIONS = ("sni", "no_sni", "tls_min", "tls_max", "ciphers", "alpn", "cafile", "insecure", "cert", "key")
INSECURE_WARNING = ("WARNING: --insecure: the server's certificate is NOT verified; "
                    "anyone on the path could pose as this server.")


def make_parser() -> QuietParser:
    parser = QuietParser(prog=PROG, description="Open one connection, stage by stage, and explain what happened.",
                         epilog="Exit codes: 0 connected, 1 the connection failed, 2 bad input.")
    add_connection_options(parser, target_required=False)
    parser.set_defaults(timeout=None)  # None = not given, so a profile's value can stand
    out = parser.add_argument_group("output and profiles")
    out.add_argument("--json", action="store_true", help="print one JSON object at the end, nothing else")
    out.add_argument("--profile", metavar="NAME", help="start from a saved profile; options given here override it")
    out.add_argument("--save-profile", metavar="NAME", help="save this connection as a profile, then run it")
    repeat.add_options(parser)
    return parser


def spec_to_options(spec: ConnectionSpec) -> dict:
    """The build_spec() keyword arguments that rebuild `spec` (used to apply overrides to a profile)."""
    opts: dict = {"target": spec.target, "pin": spec.pin, "tls": spec.tls.enabled, "timeout": spec.timeout,
                  "http": spec.app.http, "send": spec.app.send}
    if spec.proxy is not None:
        p = spec.proxy
        opts.update(proxy_kind=p.kind, proxy=format_hostport(p.host, p.port), proxy_user=p.username,
                    proxy_password=p.password, proxy_password_env=p.password_env if p.password is None else None)
    t = spec.tls
    if t.enabled:
        opts.update(sni=t.sni_name if t.sni_mode == "override" else None, no_sni=t.sni_mode == "none",
                    tls_min=t.min_version, tls_max=t.max_version, ciphers=t.ciphers, alpn=list(t.alpn) or None,
                    cafile=t.cafile if t.verify == "cafile" else None, insecure=t.verify == "off",
                    cert=t.cert, key=t.key)
    return opts


def apply_overrides(opts: dict, args: argparse.Namespace) -> dict:
    """Lay the options given on the command line over a profile's options."""
    opts = dict(opts)
    if args.target:
        opts["target"] = args.target
    kind = next((k for k in PROXY_KINDS if getattr(args, k)), None)
    if kind:
        opts.update(proxy_kind=kind, proxy=getattr(args, kind))
    if args.proxy_user:
        opts.update(proxy_user=args.proxy_user, proxy_password=None, proxy_password_env=args.proxy_password_env)
    elif args.proxy_password_env:
        opts.update(proxy_password=None, proxy_password_env=args.proxy_password_env)
    if args.pin:
        opts["pin"] = args.pin
    if args.no_tls:
        opts["tls"] = False
        for name in TLS_OPTIONS:
            opts.pop(name, None)
    pairs = {"sni": "no_sni", "no_sni": "sni", "cafile": "insecure", "insecure": "cafile", "http": "send",
             "send": "http"}
    for name in TLS_OPTIONS + ("http", "send", "timeout"):
        value = getattr(args, name)
        if value in (None, False):
            continue
        opts[name] = unescape_send(value) if name == "send" else value
        other = pairs.get(name)
        if other:
            opts[other] = False if other in ("no_sni", "insecure", "http") else None
    return opts


def build_from_args(args: argparse.Namespace) -> ConnectionSpec:
    if args.profile:
        from tlsbench.profiles.store import ProfileStore

        saved = ProfileStore().get(args.profile).spec
        apply_resolve(args, args.target or saved.target)
        opts = apply_overrides(spec_to_options(saved), args)
        target = opts.pop("target")
        return build_spec(target, **opts)
    if args.timeout is None:
        args.timeout = "10"
    return spec_from_args(args)


def ask_proxy_password(spec: ConnectionSpec) -> ConnectionSpec:
    """A SOCKS5 user with no password anywhere: ask on a terminal, as curl -U USER does; else refuse."""
    proxy = spec.proxy
    if not (proxy and proxy.needs_password):
        return spec
    if not sys.stdin.isatty():
        raise InputError(f"proxy user {proxy.username!r} has no password: give USER:PASS, set "
                         f"${proxy.password_env}, or run on a terminal to be asked", field="proxy_password")
    import getpass

    password = getpass.getpass(f"proxy password for {proxy.username}@{format_hostport(proxy.host, proxy.port)}: ")
    return spec._replace(proxy=proxy._replace(password=password))


def main(argv: list[str]) -> int:
    parser = make_parser()
    if any(a in ("-h", "--help") for a in argv):
        parser.print_help()
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
        if not args.target and not args.profile:
            raise UsageError("no target given; expected HOST:PORT (or --profile NAME)")
        series = repeat.options(args) if repeat.wanted(args) else None
        spec = ask_proxy_password(build_from_args(args))
        if args.save_profile:
            from tlsbench.profiles.model import Profile
            from tlsbench.profiles.store import ProfileStore

            path = ProfileStore().save(Profile(args.save_profile, spec))
            print(f"saved profile {args.save_profile} to {path}", file=sys.stderr)
    except (UsageError, InputError, TlsbenchError) as exc:
        return fail_usage(PROG, " ".join(str(exc).split()))
    except OSError as exc:  # e.g. the profile directory cannot be read or written
        return fail_usage(PROG, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))

    if spec.tls.enabled and spec.tls.verify == "off":
        print(INSECURE_WARNING, file=sys.stderr)

    from tlsbench.commands.probe_output import Waterfall, want_colour, write_json
    from tlsbench.engine.runner import preflight, run_probe

    try:
        prepared = preflight(spec)
    except InputError as exc:  # a CA file, certificate or key that OpenSSL itself refuses
        return fail_usage(PROG, " ".join(str(exc).split()))
    if series is not None:
        return repeat.run_repeat(spec, series, prog=PROG)
    if args.json:
        result = run_probe(spec, prepared=prepared)
        write_json(result, sys.stdout)
    else:
        view = Waterfall(sys.stdout, colour=want_colour(sys.stdout))
        view.emit(f"tlsbench probe {spec.target}")
        result = run_probe(spec, on_event=view, prepared=prepared)
    return EXIT_OK if result.ok else EXIT_FAILED

"""Connection options shared by `probe` and the workbench launcher, named as the peers name them.

curl: --socks4/--socks4a/--socks5/--socks5h, --proxy-user, --resolve-style --pin, --cacert,
--insecure, --cert/--key, --alpn; openssl s_client: -servername (here --sni), -noservername
(here --no-sni), -cipher (here --ciphers).
"""

from __future__ import annotations

import argparse
import os
import sys

from tlsbench.engine.errors import InputError
from tlsbench.engine.spec import ConnectionSpec, build_spec, format_hostport, split_hostport


class UsageError(Exception):
    """argparse failed; the message is one line."""


def _formatter(prog: str) -> argparse.HelpFormatter:
    # argparse builds a formatter for every add_argument() and sizes it with shutil, whose import
    # (with bz2, lzma, zlib) costs a probe process more than parsing does; os alone can tell.
    try:
        width = os.get_terminal_size(2).columns
    except OSError:
        width = 80
    return argparse.HelpFormatter(prog, width=max(width - 2, 40))


class QuietParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def add_connection_options(parser: argparse.ArgumentParser, *, target_required: bool = True) -> None:
    parser.add_argument("target", nargs=None if target_required else "?", metavar="HOST:PORT",
                        help="where to connect; IPv6 in brackets: [::1]:443")
    route = parser.add_argument_group("route")
    kind = route.add_mutually_exclusive_group()
    for name, text in (("socks4", "SOCKS4 (tlsbench resolves the name)"),
                       ("socks4a", "SOCKS4a (the proxy resolves the name)"),
                       ("socks5", "SOCKS5 (tlsbench resolves the name)"),
                       ("socks5h", "SOCKS5 with remote DNS (the proxy resolves the name)")):
        kind.add_argument(f"--{name}", metavar="PROXY:PORT", help=text)
    route.add_argument("--proxy-user", metavar="USER[:PASS]",
                       help="proxy credentials; without :PASS the password is read from $TLSBENCH_PROXY_PASSWORD")
    route.add_argument("--proxy-password-env", metavar="VAR", help="read the proxy password from this variable")
    route.add_argument("--pin", metavar="ADDR", help="connect to ADDR instead of resolving HOST (like curl --resolve)")
    route.add_argument("--resolve", metavar="HOST:PORT:ADDR", help="curl's spelling of --pin, for the target's HOST:PORT")
    tls = parser.add_argument_group("tls")
    tls.add_argument("--no-tls", action="store_true", help="plain TCP: no TLS handshake")
    tls.add_argument("--sni", "--servername", dest="sni", metavar="NAME",
                     help="send NAME as SNI instead of the host (s_client -servername)")
    tls.add_argument("--no-sni", action="store_true", help="send no SNI at all (s_client -noservername)")
    tls.add_argument("--tls-min", metavar="VER", help="lowest TLS version: 1.0, 1.1, 1.2, 1.3")
    tls.add_argument("--tls-max", metavar="VER", help="highest TLS version: 1.0, 1.1, 1.2, 1.3")
    tls.add_argument("--ciphers", metavar="LIST", help="OpenSSL cipher list for TLS <= 1.2")
    tls.add_argument("--alpn", metavar="LIST", help="comma-separated ALPN protocols, e.g. h2,http/1.1 "
                     "(each 1-255 bytes as UTF-8)")
    tls.add_argument("--cafile", "--cacert", dest="cafile", metavar="FILE", help="trust these CA certificates")
    tls.add_argument("-k", "--insecure", action="store_true", help="do not verify the certificate (loud warning)")
    tls.add_argument("--cert", metavar="FILE", help="client certificate (PEM; may hold the key too)")
    tls.add_argument("--key", metavar="FILE", help="client private key (PEM)")
    other = parser.add_argument_group("other")
    other.add_argument("--timeout", metavar="SECONDS", default="10", help="per-stage timeout (default 10)")
    app = other.add_mutually_exclusive_group()
    app.add_argument("--http", action="store_true", help="send a minimal HTTP/1.1 GET and record the status line")
    app.add_argument("--send", metavar="TEXT", help="send TEXT as UTF-8 bytes and record the answer; escapes: "
                     "\\r \\n \\t \\\\ (a backslash) \\xHH (one byte); any other backslash is an error")


def proxy_choice(args: argparse.Namespace) -> tuple[str | None, str | None]:
    for kind in ("socks4", "socks4a", "socks5", "socks5h"):
        value = getattr(args, kind, None)
        if value:
            return kind, value
    return None, None


def unescape_send(text: str | None, field: str = "send") -> str | None:
    """--send TEXT as the text to send: escapes applied (tlsbench.engine.checks), InputError when invalid."""
    from tlsbench.engine.checks import unescape_text

    return unescape_text(text, field)


def apply_resolve(args: argparse.Namespace, target: str | None) -> None:
    """Turn curl's --resolve HOST:PORT:ADDR into --pin ADDR, after checking it names the target."""
    entry = getattr(args, "resolve", None)
    if not entry:
        return
    if args.pin:
        raise InputError("--resolve and --pin say the same thing; give one", field="pin")
    head, sep, addr = entry.rpartition(":") if not entry.endswith("]") else entry.rpartition(":[")
    if entry.endswith("]"):
        addr = "[" + addr
    if not sep or not head or not addr:
        raise InputError(f"--resolve {entry!r}: expected HOST:PORT:ADDR", field="pin")
    host, port = split_hostport(head, "--resolve")
    if target:
        t_host, t_port = split_hostport(target, "target")
        if (host.lower(), port) != (t_host.lower(), t_port):
            raise InputError(f"--resolve is for {format_hostport(host, port)}, but the target is "
                             f"{format_hostport(t_host, t_port)}", field="pin")
    args.pin = addr.strip("[]")


def spec_from_args(args: argparse.Namespace) -> ConnectionSpec:
    """Build the spec from parsed options; raises InputError (one line) when something is wrong."""
    if not args.target:
        raise InputError("no target given; expected HOST:PORT", field="target")
    apply_resolve(args, args.target)
    kind, proxy = proxy_choice(args)
    if args.proxy_user and not kind:
        raise InputError("--proxy-user needs a proxy (--socks4/--socks4a/--socks5/--socks5h)", field="proxy_user")
    return build_spec(
        args.target, pin=args.pin, proxy_kind=kind, proxy=proxy, proxy_user=args.proxy_user,
        proxy_password_env=args.proxy_password_env, tls=not args.no_tls, sni=args.sni, no_sni=args.no_sni,
        tls_min=args.tls_min, tls_max=args.tls_max, ciphers=args.ciphers, alpn=args.alpn, cafile=args.cafile,
        insecure=args.insecure, cert=args.cert, key=args.key, timeout=args.timeout, http=args.http,
        send=unescape_send(args.send),
    )


def fail_usage(prog: str, message: str) -> int:
    """Print one line naming what is wrong and return exit code 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2

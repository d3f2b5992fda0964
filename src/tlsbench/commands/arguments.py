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
        # Option names are exact, as curl's are: a prefix never stands for a longer option, so that
        # adding an option can never change what an existing command line means.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def add_connection_options(parser: argparse.ArgumentParser, *, target_required: bool = True) -> None:
    parser.add_argument("target", nargs=None if target_required else "?", metavar="HOST:PORT",
                        help="where to connect; IPv6 in brackets: [::1]:443")
    route = parser.add_argument_group("route")
    route.add_argument("-x", "--proxy", dest="proxies", action="append", metavar="[SCHEME://][USER[:PASS]@]HOST[:PORT]",
                       help="a proxy, curl's way: http:// (the default), https://, socks4://, socks4a://, socks5://, "
                            "socks5h://; give it again for a chain, first hop first")
    route.add_argument("--preproxy", metavar="URL", help="curl's name for a first hop in front of --proxy")
    route.add_argument("--proxy-cacert", dest="proxy_cafile", metavar="FILE",
                       help="trust this CA file for an https:// proxy's certificate")
    route.add_argument("--proxy-insecure", action="store_true", help="do not verify an https:// proxy's certificate")
    route.add_argument("--noproxy", metavar="LIST",
                       help="hosts that bypass the proxy from the environment (like NO_PROXY); '*' for all")
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
    local = parser.add_argument_group("local side")
    local.add_argument("--local-port", metavar="PORT[-PORT]", help="bind the client to this port (or the first free "
                       "one of a range) before connecting")
    local.add_argument("--interface", metavar="ADDR|NAME", help="bind the client to this address or network interface")
    family = local.add_mutually_exclusive_group()
    family.add_argument("-4", "--ipv4", dest="family", action="store_const", const=4, help="use IPv4 addresses only")
    family.add_argument("-6", "--ipv6", dest="family", action="store_const", const=6, help="use IPv6 addresses only")
    tls = parser.add_argument_group("tls")
    tls.add_argument("--no-tls", action="store_true", help="plain TCP: no TLS handshake")
    tls.add_argument("--sni", "--servername", dest="sni", metavar="NAME",
                     help="send NAME as SNI instead of the host (s_client -servername)")
    tls.add_argument("--no-sni", action="store_true", help="send no SNI at all (s_client -noservername)")
    tls.add_argument("--tls-min", metavar="VER", help="lowest TLS version: 1.0, 1.1, 1.2, 1.3")
    tls.add_argument("--tls-max", metavar="VER", help="highest TLS version: 1.0, 1.1, 1.2, 1.3")
    tls.add_argument("--ciphers", metavar="LIST", help="OpenSSL cipher list for TLS <= 1.2")
    tls.add_argument("--alpn", metavar="LIST", help="comma-separated ALPN protocols, e.g. h2,http/1.1")
    tls.add_argument("--cafile", "--cacert", dest="cafile", metavar="FILE", help="trust these CA certificates")
    tls.add_argument("-k", "--insecure", action="store_true", help="do not verify the certificate (loud warning)")
    tls.add_argument("--cert", metavar="FILE", help="client certificate (PEM; may hold the key too)")
    tls.add_argument("--key", metavar="FILE", help="client private key (PEM)")
    other = parser.add_argument_group("other")
    other.add_argument("--timeout", metavar="SECONDS", default="10", help="per-stage timeout (default 10)")
    app = other.add_mutually_exclusive_group()
    app.add_argument("--http", action="store_true", help="send a minimal HTTP/1.1 GET and record the status line")
    app.add_argument("--send", metavar="TEXT", help="send TEXT (\\r\\n escapes allowed) and record the answer")


def proxy_choice(args: argparse.Namespace) -> tuple[str | None, str | None]:
    for kind in ("socks4", "socks4a", "socks5", "socks5h"):
        value = getattr(args, kind, None)
        if value:
            return kind, value
    return None, None


def unescape_send(text: str | None) -> str | None:
    if text is None:
        return None
    return text.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t")


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


def route_from_args(args: argparse.Namespace, target: str, tls: bool, environ=None) -> list:
    """The proxy chain the command line asks for: --preproxy, then each -x/--proxy, then a --socks*
    option; with none of them, the proxy curl would take from the environment."""
    from tlsbench.engine.proxies import parse_proxy_url, proxy_from_environment

    hops = []
    if args.preproxy:
        hops.append(parse_proxy_url(args.preproxy, what="preproxy"))
    given = [p for p in (args.proxies or [])]
    if given == [""]:
        return hops  # curl: -x "" turns the environment's proxy off
    hops += [parse_proxy_url(p) for p in given]
    kind, proxy = proxy_choice(args)
    if kind:
        from tlsbench.engine.spec import ProxySpec

        host, port = split_hostport(proxy, "proxy", default_port=1080)
        hops.append(ProxySpec(kind, host, port))  # type: ignore[arg-type]
    if args.preproxy and len(hops) == 1:
        raise InputError("--preproxy needs --proxy (the hop behind it)", field="proxies")
    if not hops:
        host, _ = split_hostport(target, "target")
        found = proxy_from_environment(host, tls=tls, environ=os.environ if environ is None else environ,
                                       noproxy=args.noproxy)
        if found is not None:
            hops.append(found)
    return hops


def spec_from_args(args: argparse.Namespace) -> ConnectionSpec:
    """Build the spec from parsed options; raises InputError (one line) when something is wrong."""
    if not args.target:
        raise InputError("no target given; expected HOST:PORT", field="target")
    apply_resolve(args, args.target)
    hops = route_from_args(args, args.target, not args.no_tls)
    if (args.proxy_user or args.proxy_password_env) and not hops:
        raise InputError("--proxy-user needs a proxy (--proxy URL, or --socks5h ...)", field="proxy_user")
    return build_spec(
        args.target, pin=args.pin, proxies=hops, proxy_user=args.proxy_user,
        proxy_cafile=args.proxy_cafile, proxy_insecure=args.proxy_insecure, local_port=args.local_port,
        interface=args.interface, family=args.family, proxy_password_env=args.proxy_password_env, tls=not args.no_tls, sni=args.sni, no_sni=args.no_sni,
        tls_min=args.tls_min, tls_max=args.tls_max, ciphers=args.ciphers, alpn=args.alpn, cafile=args.cafile,
        insecure=args.insecure, cert=args.cert, key=args.key, timeout=args.timeout, http=args.http,
        send=unescape_send(args.send),
    )


def fail_usage(prog: str, message: str) -> int:
    """Print one line naming what is wrong and return exit code 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2

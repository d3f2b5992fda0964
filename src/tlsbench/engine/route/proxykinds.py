"""Every proxy type tlsbench speaks, one class each: its class attributes are its whole declaration
(the URL scheme, its title, default port, SOCKS version, who resolves names, what it can carry, curl's
option for it, tlsbench's own flag), and defining the class registers it in `TYPES`.

Parsing a proxy URL, the spec's checks, the options and their flags, "copy as command", paste, the
proxy findings, the form's choices and the profile codec all read the registry.
"""

from __future__ import annotations

TYPES: dict[str, type[ProxyType]] = {}  # by URL scheme, in the order lists show them


class ProxyType:
    name = ""  # the URL scheme (socks5h://); a subclass with one is registered
    title = ""  # "SOCKS5 (remote DNS)"
    reply_title = ""  # what its replies are called in findings (default: the title)
    default_port = 1080  # curl: 1080 unless the URL says otherwise
    socks = 0  # the SOCKS version it speaks; 0: not SOCKS
    http = False  # an HTTP CONNECT proxy
    tls = False  # the hop to the proxy is TLS itself (its certificate is checked)
    remote_dns = False  # the proxy, not tlsbench, resolves the name it is asked for
    password = True  # carries a password (SOCKS4 carries a user id only)
    ipv6 = True  # can name an IPv6 destination
    curl = ""  # curl's option for a proxy of this type ("" : -x URL)
    # The hop is a program tlsbench starts, which makes its own connection to the proxy (ssh): no
    # resolve or tcp stage of tlsbench's own, so it can only be the first hop; curl and s_client
    # cannot name it ("": a proxy they reach over TCP).
    program = ""
    flag = ""  # the help of tlsbench's own `--NAME PROXY:PORT` flag ("": none)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and cls.name:
            TYPES[cls.name] = cls


class Socks4(ProxyType):
    name = "socks4"
    title = "SOCKS4"
    socks = 4
    password = False
    ipv6 = False
    curl = "--socks4"
    flag = "SOCKS4 proxy (tlsbench resolves the name)"


class Socks4a(Socks4):
    name = "socks4a"
    title = "SOCKS4a"
    remote_dns = True
    curl = "--socks4a"
    flag = "SOCKS4a proxy (the proxy resolves the name)"


class Socks5(ProxyType):
    name = "socks5"
    title = "SOCKS5"
    socks = 5
    curl = "--socks5"
    flag = "SOCKS5 proxy (tlsbench resolves the name)"


class Socks5h(Socks5):
    name = "socks5h"
    title = "SOCKS5 (remote DNS)"
    reply_title = "SOCKS5"
    remote_dns = True
    curl = "--socks5-hostname"
    flag = "SOCKS5 proxy with remote DNS (the proxy resolves the name)"


class Http(ProxyType):
    name = "http"
    title = "HTTP CONNECT"
    http = True
    remote_dns = True


class Https(Http):
    name = "https"
    title = "HTTPS CONNECT"
    default_port = 443
    tls = True


class Ssh(ProxyType):
    """`ssh -W NEXT:PORT` to the next address, as OpenSSH's ProxyJump does (keys or the agent only)."""

    name = "ssh"
    title = "SSH (ssh -W)"
    reply_title = "SSH server"
    default_port = 22
    remote_dns = True  # the SSH server resolves the name -W names
    password = False  # BatchMode: keys or the agent, never a password
    program = "ssh"


def declared(kind: str) -> type[ProxyType]:
    return TYPES[kind]


def reply_title(kind: str) -> str:
    """What a proxy type's replies are called ('SOCKS4a', 'SOCKS5'); upper case for one not registered."""
    found = TYPES.get(kind)
    return (found.reply_title or found.title) if found else kind.upper()


def socks_schemes(version: int, *, remote_dns: bool) -> list[str]:
    """The schemes of one SOCKS version that resolve names remotely (or locally)."""
    return [k for k, t in TYPES.items() if t.socks == version and t.remote_dns == remote_dns]

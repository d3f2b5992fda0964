"""Proxies as people write them: curl's URLs, its environment variables and NO_PROXY rules.

`parse_proxy_url("socks5h://alice@127.0.0.1:1080")` gives a `ProxySpec`; no scheme means
`http://`, as in curl. `proxy_from_environment()` picks `https_proxy` (TLS targets) or
`http_proxy` (plain ones), then `all_proxy`, unless NO_PROXY (or `--noproxy`) matches the host —
lower case first, then upper case, except `HTTP_PROXY`, which curl ignores (a CGI program's
environment may carry a client's `Proxy:` header under that name).
"""


import ipaddress
from typing import Mapping, NamedTuple
from urllib.parse import unquote

from tlsbench.errors import InputError
from tlsbench.engine.route.hostport import format_hostport, is_ip, split_hostport
from tlsbench.engine.route.proxykinds import TYPES, ProxyType

ProxyKind = str  # a proxy type's URL scheme, one of PROXY_KINDS
PROXY_KINDS: tuple[str, ...] = tuple(TYPES)
SOCKS_KINDS: tuple[str, ...] = tuple(k for k, t in TYPES.items() if t.socks)
DEFAULT_PORTS = {k: t.default_port for k, t in TYPES.items()}
KIND_NAMES = {k: t.title for k, t in TYPES.items()}


class ProxySpec(NamedTuple):
    """One proxy hop: what it speaks, where it is, and how tlsbench authenticates to it."""

    kind: ProxyKind
    host: str
    port: int
    username: str | None = None
    password: str | None = None  # never shown by repr(), never saved
    # Name of the environment variable the password came from (kept in profiles instead of it).
    password_env: str | None = None
    # The environment variable this proxy came from ("https_proxy"), None when it was asked for.
    source: str | None = None
    # An HTTPS proxy's own certificate: trust this CA file (curl --proxy-cacert), or do not verify.
    cafile: str | None = None
    insecure: bool = False

    def __repr__(self) -> str:
        secret = "None" if self.password is None else "'***'"
        return (f"ProxySpec(kind={self.kind!r}, host={self.host!r}, port={self.port!r}, "
                f"username={self.username!r}, password={secret}, password_env={self.password_env!r}, "
                f"source={self.source!r}, cafile={self.cafile!r}, insecure={self.insecure!r})")

    @property
    def address(self) -> str:
        return format_hostport(self.host, self.port)

    @property
    def url(self) -> str:
        """The proxy as curl writes it, with the user but never the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.kind}://{user}{self.address}"

    @property
    def declared(self) -> type[ProxyType]:
        """The proxy type's declaration (proxykinds.py)."""
        return TYPES[self.kind]

    @property
    def is_socks(self) -> bool:
        return self.declared.socks > 0

    @property
    def is_http(self) -> bool:
        return self.declared.http

    @property
    def needs_password(self) -> bool:
        """A user with no password from anywhere: it must be asked for, not sent empty.
        (SOCKS4 carries a user id only, so it needs none.)"""
        return bool(self.username) and self.password is None and self.declared.password

    @property
    def remote_dns(self) -> bool:
        """True when the proxy, not tlsbench, resolves the name it is asked for."""
        return self.declared.remote_dns


def parse_proxy_url(text: str, *, what: str = "proxy", default_kind: str = "http") -> ProxySpec:
    """`[scheme://][user[:password]@]host[:port][/]` as curl reads `-x`; raises InputError."""
    raw = text.strip()
    if not raw:
        raise InputError(f"{what} is empty; expected [SCHEME://]HOST[:PORT]", field=what)
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = default_kind, raw
    scheme = scheme.lower()
    if scheme not in PROXY_KINDS:
        raise InputError(f"{what} {_redacted(raw)!r}: unknown scheme {scheme}:// (use one of "
                         f"{', '.join(k + '://' for k in PROXY_KINDS)})", field=what)
    if "/" in rest:
        rest, _, path = rest.partition("/")
        if path.strip("/"):
            raise InputError(f"{what} {_redacted(raw)!r}: a proxy URL has no path", field=what)
    user = password = None
    if "@" in rest:
        cred, _, rest = rest.rpartition("@")
        name, colon, secret = cred.partition(":")
        user = unquote(name)
        password = unquote(secret) if colon else None
        if not user:
            raise InputError(f"{what} {_redacted(raw)!r}: the user name before '@' is empty", field=what)
    host, port = split_hostport(rest, what, default_port=DEFAULT_PORTS[scheme])
    return ProxySpec(scheme, host, port, user, password)


def _redacted(text: str) -> str:
    """A proxy URL for an error message: a password in it is replaced by ***."""
    scheme, sep, rest = text.partition("://")
    body = rest if sep else scheme
    if "@" in body:
        cred, _, where = body.rpartition("@")
        if ":" in cred:
            body = f"{cred.partition(':')[0]}:***@{where}"
    return f"{scheme}://{body}" if sep else body


def no_proxy_matches(host: str, rules: str) -> bool:
    """curl's NO_PROXY: `*`, or comma-separated names matching as domain suffixes, IPs, CIDR ranges."""
    name = host.lower().rstrip(".")
    try:
        addr = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        addr = None
    for item in rules.split(","):
        rule = item.strip().lower().rstrip(".")
        if not rule:
            continue
        if rule == "*":
            return True
        if addr is not None:
            try:
                if addr in ipaddress.ip_network(rule.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        rule = rule.lstrip(".")
        if name == rule or name.endswith("." + rule):
            return True
    return False


def _env(environ: Mapping[str, str], name: str, *, upper: bool = True) -> tuple[str, str] | None:
    for key in (name, name.upper()) if upper else (name,):
        value = environ.get(key)
        if value:
            return key, value
    return None


def proxy_from_environment(host: str, *, tls: bool, environ: Mapping[str, str],
                           noproxy: str | None = None) -> ProxySpec | None:
    """The proxy curl would take from the environment for this target, or None."""
    rules = noproxy if noproxy is not None else (_env(environ, "no_proxy") or ("", ""))[1]
    if rules and no_proxy_matches(host, rules):
        return None
    found = (_env(environ, "https_proxy") if tls else _env(environ, "http_proxy", upper=False)) \
        or _env(environ, "all_proxy")
    if found is None:
        return None
    key, value = found
    proxy = parse_proxy_url(value, what=f"${key}")
    return proxy._replace(source=key)


def describe(proxy: ProxySpec) -> str:
    """'SOCKS5 (remote DNS) 127.0.0.1:1080 as alice', '(from $https_proxy)' when it came from there."""
    text = f"{KIND_NAMES.get(proxy.kind, proxy.kind)} {proxy.address}"
    if proxy.username:
        text += f" as {proxy.username}"
    if proxy.source:
        text += f" (from ${proxy.source})"
    return text


def is_ipv6(text: str) -> bool:
    return is_ip(text) and ":" in text

"""The connection spec: what the user asked for, validated and immutable.

`build_spec()` is the one door in: it checks every field and raises `InputError` with a
single line that names the field and what is wrong. Everything after it may trust the spec.
"""


import ipaddress
import os
import re
from typing import Literal, NamedTuple

from tlsbench.engine.checks import check_alpn, check_port, check_seconds, check_sni
from tlsbench.engine.errors import InputError

ProxyKind = Literal["socks4", "socks4a", "socks5", "socks5h"]
PROXY_KINDS: tuple[str, ...] = ("socks4", "socks4a", "socks5", "socks5h")
SniMode = Literal["host", "override", "none"]
VerifyMode = Literal["system", "cafile", "off"]
TLS_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")
PROXY_PASSWORD_ENV = "TLSBENCH_PROXY_PASSWORD"

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


class ProxySpec(NamedTuple):
    kind: ProxyKind
    host: str
    port: int
    username: str | None = None
    password: str | None = None  # never shown by repr()
    # Name of the environment variable the password came from (kept in profiles instead of it).
    password_env: str | None = None

    def __repr__(self) -> str:
        secret = "None" if self.password is None else "'***'"
        return (f"ProxySpec(kind={self.kind!r}, host={self.host!r}, port={self.port!r}, "
                f"username={self.username!r}, password={secret}, password_env={self.password_env!r})")

    @property
    def needs_password(self) -> bool:
        """A SOCKS5 user with no password from anywhere: it must be asked for, not sent empty."""
        return bool(self.username) and self.password is None and self.kind.startswith("socks5")

    @property
    def remote_dns(self) -> bool:
        """True when the proxy, not tlsbench, resolves the target name (SOCKS4a, SOCKS5h)."""
        return self.kind in ("socks4a", "socks5h")


class TlsSpec(NamedTuple):
    enabled: bool = True
    sni_mode: SniMode = "host"
    sni_name: str | None = None  # used when sni_mode == "override"
    min_version: str | None = None  # one of TLS_VERSIONS
    max_version: str | None = None
    ciphers: str | None = None
    alpn: tuple[str, ...] = ()
    verify: VerifyMode = "system"
    cafile: str | None = None
    cert: str | None = None
    key: str | None = None


class AppSpec(NamedTuple):
    http: bool = False  # send a minimal HTTP/1.1 GET with the right Host header
    send: str | None = None  # send this text and record the first bytes of the answer
    path: str = "/"


class ConnectionSpec(NamedTuple):
    host: str
    port: int
    pin: str | None = None  # an IP address used instead of DNS for the target
    proxy: ProxySpec | None = None
    tls: TlsSpec = TlsSpec()
    app: AppSpec = AppSpec()
    timeout: float = 10.0  # seconds, per stage

    @property
    def target(self) -> str:
        return format_hostport(self.host, self.port)

    @property
    def sni(self) -> str | None:
        """The server name that will be sent, or None when none will be."""
        if not self.tls.enabled or self.tls.sni_mode == "none":
            return None
        if self.tls.sni_mode == "override":
            return self.tls.sni_name
        # Like OpenSSL and Python, no SNI for an IP literal (RFC 6066 forbids it).
        return None if is_ip(self.host) else self.host.rstrip(".")

    def with_changes(self, **changes) -> "ConnectionSpec":
        return self._replace(**changes)


# --- small parsers -----------------------------------------------------------------------------

def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_port(text: str | int, what: str = "port") -> int:
    return check_port(text, what)


def check_host(host: str, what: str = "host") -> str:
    """Return the host (IP literal or DNS name) or raise InputError naming the problem."""
    if not host:
        raise InputError(f"{what} is empty", field=what)
    if is_ip(host):
        return host
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in host):
        raise InputError(f"{what} {host!r} contains spaces or control characters", field=what)
    try:
        # The idna codec (with unicodedata and stringprep) is loaded only for names that need it.
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        long = next((lab for lab in host.split(".") if len(lab) > 63), None)
        reason = f" (bad label {long[:20]!r}...: longer than 63 characters)" if long else ""
        raise InputError(f"{what} {host!r} is not a valid host name{reason}", field=what) from None
    name = ascii_host[:-1] if ascii_host.endswith(".") else ascii_host
    if len(name) > 253:
        raise InputError(f"{what} is {len(name)} characters long; DNS allows at most 253", field=what)
    for label in name.split("."):
        if not _LABEL.match(label):
            raise InputError(f"{what} {host!r} is not a valid host name (bad label {label!r})", field=what)
    return host


def split_hostport(text: str, what: str = "target", default_port: int | None = None) -> tuple[str, int]:
    """Parse HOST:PORT, [IPv6]:PORT, or HOST alone when a default port is given."""
    text = text.strip()
    if not text:
        raise InputError(f"{what} is empty; expected HOST:PORT", field=what)
    if "://" in text:
        raise InputError(f"{what} {text!r} looks like a URL; give HOST:PORT", field=what)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise InputError(f"{what} {text!r} has an unclosed '['", field=what)
        host, rest = text[1:end], text[end + 1:]
        try:
            if ipaddress.ip_address(host).version != 6:
                raise ValueError
        except ValueError:
            raise InputError(f"{what} {text!r}: brackets are only for IPv6 addresses", field=what) from None
        if not rest:
            port_text = None
        elif rest.startswith(":"):
            port_text = rest[1:]
        else:
            raise InputError(f"{what} {text!r}: expected ':PORT' after ']'", field=what)
    elif text.count(":") > 1:
        raise InputError(f"{what} {text!r}: put an IPv6 address in brackets, e.g. [::1]:443", field=what)
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
    else:
        host, port_text = text, None
    if port_text is None or port_text == "":
        if default_port is None:
            raise InputError(f"{what} {text!r} has no port; expected HOST:PORT", field=what)
        port = default_port
    else:
        port = parse_port(port_text, f"{what} port")
    return check_host(host, what), port


def _readable_file(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    if not path:
        raise InputError(f"{what} path is empty", field=what)
    expanded = os.path.expanduser(path)
    if not os.path.exists(expanded):
        raise InputError(f"{what} {path!r} does not exist", field=what)
    if not os.path.isfile(expanded):
        raise InputError(f"{what} {path!r} is not a file", field=what)
    if not os.access(expanded, os.R_OK):
        raise InputError(f"{what} {path!r} is not readable", field=what)
    return expanded


def _version(text: str | None, what: str) -> str | None:
    if text is None or text == "":
        return None
    norm = text.strip().lower().removeprefix("tlsv").removeprefix("tls")
    if norm not in TLS_VERSIONS:
        raise InputError(f"{what} {text!r} is not one of {', '.join(TLS_VERSIONS)}", field=what)
    return norm


# --- the one door in ---------------------------------------------------------------------------

def build_spec(
    target: str,
    *,
    pin: str | None = None,
    proxy_kind: str | None = None,
    proxy: str | None = None,
    proxy_user: str | None = None,
    proxy_password: str | None = None,
    proxy_password_env: str | None = None,
    tls: bool = True,
    sni: str | None = None,
    no_sni: bool = False,
    tls_min: str | None = None,
    tls_max: str | None = None,
    ciphers: str | None = None,
    alpn: str | list[str] | tuple[str, ...] | None = None,
    cafile: str | None = None,
    insecure: bool = False,
    cert: str | None = None,
    key: str | None = None,
    timeout: float | str = 10.0,
    http: bool = False,
    send: str | None = None,
    environ: dict[str, str] | None = None,
) -> ConnectionSpec:
    """Validate every field and return a ConnectionSpec, or raise InputError (one line)."""
    env = os.environ if environ is None else environ
    host, port = split_hostport(target, "target")

    if pin is not None:
        pin = pin.strip().strip("[]")
        if not is_ip(pin):
            raise InputError(f"pin {pin!r} is not an IP address (like curl's --resolve, it replaces DNS)", field="pin")

    proxy_spec = None
    if proxy_kind is not None or proxy is not None:
        if proxy_kind not in PROXY_KINDS:
            raise InputError(f"proxy type {proxy_kind!r} is not one of {', '.join(PROXY_KINDS)}", field="proxy_kind")
        if not proxy:
            raise InputError(f"--{proxy_kind} needs PROXY:PORT", field="proxy")
        p_host, p_port = split_hostport(proxy, "proxy", default_port=1080)
        user, password, password_env = None, None, None
        if proxy_user:
            user, sep, inline = proxy_user.partition(":")
            if sep:
                password = inline
            if not user:
                raise InputError("proxy user is empty", field="proxy_user")
        if proxy_password is not None:
            password = proxy_password
        if password is None and user is not None:
            password_env = proxy_password_env or PROXY_PASSWORD_ENV
            password = env.get(password_env)
            if password is None and proxy_password_env:
                raise InputError(f"environment variable {proxy_password_env} (proxy password) is not set",
                                 field="proxy_password")
        proxy_spec = ProxySpec(proxy_kind, p_host, p_port, user, password, password_env)  # type: ignore[arg-type]
        _check_proxy_limits(proxy_spec, host, pin)

    tls_spec = _build_tls(tls, host, sni, no_sni, tls_min, tls_max, ciphers, alpn, cafile, insecure, cert, key)

    if http and send is not None:
        raise InputError("--http and --send cannot be used together", field="send")
    if send is not None and send == "":
        raise InputError("--send needs some text to send", field="send")
    seconds = check_seconds(timeout)

    return ConnectionSpec(host=host, port=port, pin=pin, proxy=proxy_spec, tls=tls_spec,
                          app=AppSpec(http=http, send=send), timeout=seconds)


def _check_proxy_limits(proxy: ProxySpec, host: str, pin: str | None) -> None:
    """Refuse what PySocks would encode wrongly or what the protocol cannot carry."""
    for label, value in (("proxy user", proxy.username), ("proxy password", proxy.password)):
        if value is not None:
            size = len(value.encode("utf-8"))
            limit = 255 if proxy.kind.startswith("socks5") else 127
            if proxy.kind.startswith("socks4") and label == "proxy password":
                continue  # SOCKS4 has no password; it is ignored (a finding says so)
            if size > 255 or size >= 128:
                raise InputError(f"{label} is {size} bytes; tlsbench's SOCKS client sends at most 127 "
                                 f"(the protocol allows {limit}, but PySocks encodes longer ones wrongly)",
                                 field="proxy_user")
    dest = pin or host
    if proxy.kind == "socks4":
        if is_ip(dest) and ipaddress.ip_address(dest).version == 6:
            raise InputError("SOCKS4 cannot carry an IPv6 target; use --socks5", field="proxy_kind")
    if proxy.kind == "socks4a" and is_ip(dest) and ipaddress.ip_address(dest).version == 6:
        raise InputError("SOCKS4a cannot carry an IPv6 target; use --socks5", field="proxy_kind")
    if proxy.remote_dns and not is_ip(dest) and len(dest.encode("idna")) >= 128:
        raise InputError(f"target name is {len(dest)} bytes; tlsbench's SOCKS client sends names of at most 127",
                         field="target")


def _build_tls(enabled, host, sni, no_sni, tls_min, tls_max, ciphers, alpn, cafile, insecure, cert, key) -> TlsSpec:
    if not enabled:
        given = [name for name, value in (("--sni", sni), ("--no-sni", no_sni), ("--tls-min", tls_min),
                                          ("--tls-max", tls_max), ("--ciphers", ciphers), ("--alpn", alpn),
                                          ("--cafile", cafile), ("--insecure", insecure), ("--cert", cert),
                                          ("--key", key)) if value]
        if given:
            raise InputError(f"--no-tls conflicts with {', '.join(given)}", field="tls")
        return TlsSpec(enabled=False)
    if sni is not None and no_sni:
        raise InputError("--sni and --no-sni cannot be used together", field="sni")
    sni_mode: SniMode = "none" if no_sni else ("override" if sni is not None else "host")
    if sni is not None:
        sni = check_sni(sni)
    lo, hi = _version(tls_min, "tls-min"), _version(tls_max, "tls-max")
    if lo and hi and TLS_VERSIONS.index(lo) > TLS_VERSIONS.index(hi):
        raise InputError(f"tls-min {lo} is above tls-max {hi}", field="tls_min")
    if ciphers is not None:
        ciphers = ciphers.strip()
        if not ciphers:
            raise InputError("ciphers is empty", field="ciphers")
        import ssl  # validation by OpenSSL itself: it knows its cipher names

        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(ciphers)
        except ssl.SSLError:
            raise InputError(f"ciphers {ciphers!r} selects no cipher OpenSSL knows", field="ciphers") from None
    protocols: tuple[str, ...] = check_alpn(alpn)
    if insecure and cafile:
        raise InputError("--insecure and --cafile cannot be used together", field="cafile")
    verify: VerifyMode = "off" if insecure else ("cafile" if cafile else "system")
    cafile = _readable_file(cafile, "cafile")
    if key and not cert:
        raise InputError("--key needs --cert", field="key")
    cert = _readable_file(cert, "cert")
    key = _readable_file(key, "key")
    if cert:
        _check_pem(cert, "cert", b"CERTIFICATE")
    if key:
        _check_pem(key, "key", b"PRIVATE KEY")
    elif cert:
        _check_pem(cert, "cert (no --key given, so it must hold the key too)", b"PRIVATE KEY")
    return TlsSpec(True, sni_mode, sni, lo, hi, ciphers, protocols, verify, cafile, cert, key)


def _check_pem(path: str, what: str, marker: bytes) -> None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(1 << 20)
    except OSError as exc:
        raise InputError(f"{what} {path!r} cannot be read: {exc.strerror}", field=what.split()[0]) from None
    if marker not in data:
        kind = "a certificate" if marker == b"CERTIFICATE" else "a private key"
        raise InputError(f"{what} {path!r} holds no PEM {kind}", field=what.split()[0])

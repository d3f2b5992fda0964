"""The connection spec: what the user asked for, validated and immutable.

`build_spec()` is the one door in: it checks every field and raises `InputError` with a
single line that names the field and what is wrong. Everything after it may trust the spec.
Paths are kept as the user wrote them (`~/ca/ca.pem`); they are expanded where a file is opened.
"""


import ipaddress
import os
from typing import Any, Literal, Mapping, NamedTuple, Sequence

from tlsbench.engine.findings.checks import check_alpn, check_seconds, check_sni
from tlsbench.errors import InputError
from tlsbench.engine.route.hostport import check_host, format_hostport, is_ip, parse_port, split_hostport
from tlsbench.engine.hops.starttls.protocols import NAMES as STARTTLS_NAMES
from tlsbench.engine.route.proxies import PROXY_KINDS, ProxyKind, ProxySpec, parse_proxy_url

SniMode = Literal["host", "override", "none"]
VerifyMode = Literal["system", "cafile", "off"]
TLS_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")
PROXY_PASSWORD_ENV = "TLSBENCH_PROXY_PASSWORD"

__all__ = ["ConnectionSpec", "DnsSpec", "ProxySpec", "TlsSpec", "AppSpec", "LocalSpec", "StarttlsSpec", "ProxyKind",
           "PROXY_KINDS", "STARTTLS_PROTOCOLS",
           "PROXY_PASSWORD_ENV", "TLS_VERSIONS", "build_spec", "check_host", "format_hostport", "is_ip",
           "parse_port", "split_hostport", "expand_path"]


class TlsSpec(NamedTuple):
    enabled: bool = True
    sni_mode: SniMode = "host"
    sni_name: str | None = None  # used when sni_mode == "override"
    min_version: str | None = None  # one of TLS_VERSIONS
    max_version: str | None = None
    ciphers: str | None = None
    alpn: tuple[str, ...] = ()
    verify: VerifyMode = "system"
    cafile: str | None = None  # as written
    cert: str | None = None
    key: str | None = None
    keylog: str | None = None  # append the session secrets here (NSS key log format), as written
    keylog_from_env: bool = False  # keylog came from $SSLKEYLOGFILE, not from an option
    reconnect: bool = False  # a second connection offering the first one's session (resumption)
    check_revocation: bool = False  # ask the leaf's OCSP responder and CRL distribution point
    # --groups / --pq: key-exchange groups (IANA names, our order) offered by the hand-built TLS 1.3 client
    groups: tuple[str, ...] = ()


class AppSpec(NamedTuple):
    http: bool = False  # send a minimal GET with the right Host (HTTP/2 when ALPN chooses h2)
    send: str | None = None  # send this text and record the first bytes of the answer
    path: str = "/"
    # HTTP/3 over QUIC (curl's names): "race" (--http3: QUIC and TCP+TLS, the first to connect carries
    # the request), "only" (--http3-only), "off"
    http3: str = "off"


class LocalSpec(NamedTuple):
    """The client's own side: which local port(s) and address or interface, which IP family."""

    port_range: tuple[int, int] | None = None  # --local-port PORT[-PORT]
    interface: str | None = None  # --interface ADDR|NAME
    family: int | None = None  # 4 or 6 (-4 / -6); None: both, happy eyeballs
    haproxy_protocol: bool = False  # say who is connecting first: a PROXY protocol v1 header (curl's option)


# The protocols `openssl s_client -starttls` speaks, in its order (each declared by its dialogue).
STARTTLS_PROTOCOLS: tuple[str, ...] = STARTTLS_NAMES
STARTTLS_NAME = "mail.example.com"  # s_client's default -name (the EHLO/LHLO name)


class StarttlsSpec(NamedTuple):
    """Upgrade a plain-text protocol to TLS before the handshake (openssl s_client -starttls)."""

    protocol: str | None = None  # one of STARTTLS_PROTOCOLS, "auto" (from the greeting), None: TLS at once
    name: str = STARTTLS_NAME  # EHLO/LHLO name (s_client -name)
    xmpphost: str | None = None  # the XMPP stream's `to` (s_client -xmpphost); None: the target host


class DnsSpec(NamedTuple):
    """Who answers tlsbench's own DNS questions (curl's --dns-servers, --doh-url, --doh-insecure).

    With no server given, getaddrinfo decides (the system resolver) and tlsbench's own queries to
    the servers of /etc/resolv.conf only add detail; with servers, their answers decide."""

    servers: tuple[str, ...] = ()  # canonical spellings: "127.0.0.1:53", "[::1]:53", "tls://HOST:853"
    doh_url: str | None = None  # DNS over HTTPS (RFC 8484)
    doh_insecure: bool = False  # do not verify DoT/DoH servers (never the target)
    cafile: str | None = None  # the CA file DoT/DoH servers are verified with (--cafile), as written

    @property
    def decides(self) -> tuple[str, ...]:
        """The servers whose answers decide the addresses, in the order they are asked ((): the system)."""
        return (self.doh_url,) if self.doh_url else self.servers

    @property
    def uses_tls(self) -> bool:
        return bool(self.doh_url) or any(s.startswith("tls://") for s in self.servers)


class ConnectionSpec(NamedTuple):
    host: str
    port: int
    pin: str | None = None  # an IP address used instead of DNS for the target
    proxies: tuple[ProxySpec, ...] = ()  # the chain, first hop first; () for a direct connection
    tls: TlsSpec = TlsSpec()
    app: AppSpec = AppSpec()
    timeout: float = 10.0  # seconds, per stage
    local: LocalSpec = LocalSpec()
    starttls: StarttlsSpec = StarttlsSpec()
    dns: DnsSpec = DnsSpec()

    @property
    def target(self) -> str:
        return format_hostport(self.host, self.port)

    @property
    def proxy(self) -> ProxySpec | None:
        """The first hop (the one the TCP connection goes to), or None for a direct connection."""
        return self.proxies[0] if self.proxies else None

    @property
    def sni(self) -> str | None:
        """The server name that will be sent, or None when none will be."""
        if not self.tls.enabled or self.tls.sni_mode == "none":
            return None
        if self.tls.sni_mode == "override":
            return self.tls.sni_name
        # Like OpenSSL and Python, no SNI for an IP literal (RFC 6066 forbids it).
        return None if is_ip(self.host) else self.host.rstrip(".")

    # Any: each change has its own field's type (the NamedTuple's _replace takes them by name).
    def with_changes(self, **changes: Any) -> "ConnectionSpec":
        return self._replace(**changes)


def expand_path(path: str) -> str:
    """A path as written (`~/ca.pem`) as the file system needs it."""
    return os.path.expanduser(path)


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
    return path  # as written: a saved profile keeps "~/ca/ca.pem"


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
    proxies: Sequence[ProxySpec | str] | None = None,
    proxy_user: str | None = None,
    proxy_password: str | None = None,
    proxy_password_env: str | None = None,
    proxy_cafile: str | None = None,
    proxy_insecure: bool = False,
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
    keylog: str | None = None,
    reconnect: bool = False,
    check_revocation: bool = False,
    groups: str | Sequence[str] | None = None,
    timeout: float | str = 10.0,
    http: bool = False,
    send: str | None = None,
    path: str = "/",
    http3: str = "off",
    local_port: str | int | None = None,
    interface: str | None = None,
    family: int | None = None,
    haproxy_protocol: bool = False,
    environ: dict[str, str] | None = None,
    starttls: str | None = None,
    starttls_name: str | None = None,
    xmpphost: str | None = None,
    dns_servers: str | Sequence[str] | None = None,
    doh_url: str | None = None,
    doh_insecure: bool = False,
) -> ConnectionSpec:
    """Validate every field and return a ConnectionSpec, or raise InputError (one line).

    The route is `proxies` (URLs or ProxySpecs, first hop first). `proxy_user` and the password
    options apply to the last hop (curl's `-x` behind `--preproxy`); a hop's password comes from its
    URL, then `proxy_password`, then the environment variable `proxy_password_env` (default
    $TLSBENCH_PROXY_PASSWORD). Each group is built by its own builder below.
    """
    env = os.environ if environ is None else environ
    host, port, pin = build_target(target, pin)
    dns = build_dns(dns_servers, doh_url, doh_insecure)
    dns_cafile = None
    if not tls and cafile and dns.uses_tls:
        # --cafile verifies DoT/DoH servers too, also when the target speaks no TLS (as curl's --cacert for DoH)
        dns_cafile, cafile = _readable_file(cafile, "cafile"), None
    chain = build_route(proxies, dest=pin or host, user=proxy_user, password=proxy_password,
                        password_env=proxy_password_env, cafile=proxy_cafile, insecure=proxy_insecure, environ=env)
    tls_spec = build_tls(tls, host, sni=sni, no_sni=no_sni, tls_min=tls_min, tls_max=tls_max, ciphers=ciphers,
                         alpn=alpn, cafile=cafile, insecure=insecure, cert=cert, key=key, keylog=keylog,
                         reconnect=reconnect, check_revocation=check_revocation, groups=groups, environ=env)
    upgrade = _build_starttls(tls, starttls, starttls_name, xmpphost)
    app = build_app(http, send, path)
    if http3 != "off":
        app = _build_http3(app, http3, tls, upgrade)
        if http3 == "only" and tls_spec.max_version in ("1.0", "1.1", "1.2"):
            raise InputError(f"--http3-only speaks TLS 1.3 (QUIC's own); --tls-max {tls_spec.max_version} cannot "
                             "apply to it", field="http3")
    seconds = check_seconds(timeout)
    return ConnectionSpec(host=host, port=port, pin=pin, proxies=chain, tls=tls_spec, app=app, timeout=seconds,
                          local=build_local(local_port, interface, family, pin or host, chain, haproxy_protocol),
                          starttls=upgrade, dns=dns._replace(cafile=dns_cafile or tls_spec.cafile))


# --- the groups: target, route, TLS, app, local side ----------------------------------------------

def build_dns(servers: str | Sequence[str] | None, doh_url: str | None, doh_insecure: bool) -> DnsSpec:
    """The DNS servers tlsbench asks itself (none: the system resolver decides)."""
    from tlsbench.engine.dns.servers import check_doh_url, parse_server_list

    listed = parse_server_list(servers) if servers not in (None, "", [], ()) else ()
    url = check_doh_url(doh_url) if doh_url is not None and doh_url != "" else None
    if url and listed:
        raise InputError("--doh-url and --dns-servers: give one (with --doh-url, DNS goes over HTTPS only, "
                         "as with curl)", field="doh_url")
    if doh_insecure and not (url or any(s.startswith("tls://") for s in listed)):
        raise InputError("--doh-insecure is for a DNS-over-HTTPS (--doh-url) or DNS-over-TLS (tls://) server",
                         field="doh_insecure")
    return DnsSpec(listed, url, bool(doh_insecure))


def build_target(target: str, pin: str | None) -> tuple[str, int, str | None]:
    """(host, port, pin): where to connect, and the address that replaces DNS for it."""
    host, port = split_hostport(target, "target")
    if pin is not None:
        pin = pin.strip().strip("[]")
        if not is_ip(pin):
            raise InputError(f"pin {pin!r} is not an IP address (like curl's --resolve, it replaces DNS)", field="pin")
    return host, port, pin


def build_route(proxies: Sequence[ProxySpec | str] | None, *, dest: str, user: str | None = None,
                password: str | None = None, password_env: str | None = None, cafile: str | None = None,
                insecure: bool = False, environ: Mapping[str, str]) -> tuple[ProxySpec, ...]:
    """The proxy chain, first hop first: credentials for the last hop, trust for the TLS hops, each
    hop checked against what its protocol can carry (`dest`: what the last hop is asked for)."""
    hops = [parse_proxy_url(p, what="proxy") if isinstance(p, str) else p for p in (proxies or ())]
    if user is not None or password_env is not None or password is not None:
        if not hops:
            raise InputError("proxy credentials need a proxy (--proxy or --socks5h ...)", field="proxy_user")
        hops[-1] = _with_user(hops[-1], user, password, password_env)
    hops = with_proxy_trust(hops, cafile, insecure)
    if cafile:
        _readable_file(cafile, "proxy_cafile")
    chain = []
    for i, hop in enumerate(hops):
        if hop.declared.program:
            _check_program_hop(hops, i, dest)
        else:
            hop = _with_password(hop, environ, strict=password_env is not None and i + 1 == len(hops))
        nxt = hops[i + 1].host if i + 1 < len(hops) else dest
        _check_proxy_limits(hop, nxt, last=i + 1 == len(hops))
        chain.append(hop)
    return tuple(chain)


def _check_program_hop(hops: list[ProxySpec], i: int, dest: str) -> None:
    """A hop a program makes (ssh): it connects by itself, so it comes first, takes no password,
    and leaves no name for tlsbench to resolve behind it."""
    hop, program = hops[i], hops[i].declared.program
    if i > 0:
        raise InputError(f"{hop.kind}:// can only be the first hop ({program} makes its own connection; it is hop "
                         f"{i + 1} of {len(hops)}): for a jump host behind another, give ProxyJump in ssh's config",
                         field="proxy")
    if hop.password is not None:
        raise InputError(f"{hop.kind}:// takes no password: {program} signs in with a key or the agent only "
                         "(BatchMode)", field="proxy_password")
    for j in range(i + 1, len(hops)):
        name = hops[j + 1].host if j + 1 < len(hops) else dest
        if not hops[j].remote_dns and not is_ip(name):
            raise InputError(f"{hops[j].kind}:// behind {hop.kind}:// needs {name} resolved by tlsbench, which "
                             f"makes no lookup on a route {program} starts: give an address, or a hop that "
                             "resolves names itself (socks5h://, socks4a://, http://)", field="proxy_kind")


def with_proxy_trust(hops: list[ProxySpec], cafile: str | None, insecure: bool) -> list[ProxySpec]:
    """--proxy-cacert/--proxy-insecure: for the hops that are TLS themselves (an https:// proxy)."""
    if not (cafile or insecure):
        return hops
    if not any(h.declared.tls for h in hops):
        raise InputError("--proxy-cacert/--proxy-insecure are for an https:// proxy", field="proxy_cafile")
    if cafile and insecure:
        raise InputError("--proxy-insecure and --proxy-cacert cannot be used together", field="proxy_cafile")
    return [h._replace(cafile=cafile or h.cafile, insecure=h.insecure or bool(insecure)) if h.declared.tls else h
            for h in hops]


def build_tls(enabled: bool, host: str, *, sni: str | None = None, no_sni: bool = False, tls_min: str | None = None,
              tls_max: str | None = None, ciphers: str | None = None,
              alpn: str | list[str] | tuple[str, ...] | None = None, cafile: str | None = None,
              insecure: bool = False, cert: str | None = None, key: str | None = None, keylog: str | None = None,
              reconnect: bool = False, check_revocation: bool = False,
              groups: str | Sequence[str] | None = None, environ: Mapping[str, str]) -> TlsSpec:
    """The handshake's settings (with TLS off, none may be given)."""
    tls_spec = _build_tls(enabled, host, sni, no_sni, tls_min, tls_max, ciphers, alpn, cafile, insecure, cert, key)
    if not enabled and (keylog or reconnect or check_revocation or groups):
        conflicting = [n for n, v in (("--keylog", keylog), ("--reconnect", reconnect),
                                      ("--check-revocation", check_revocation), ("--groups", groups)) if v]
        raise InputError(f"--no-tls conflicts with {', '.join(conflicting)}", field="tls")
    if enabled:
        from_env = False
        if keylog is None and environ.get(KEYLOG_ENV):
            keylog, from_env = environ[KEYLOG_ENV], True  # honoured like curl does
        tls_spec = tls_spec._replace(keylog=_keylog_path(keylog, from_env), keylog_from_env=from_env and bool(keylog),
                                     reconnect=bool(reconnect), check_revocation=bool(check_revocation),
                                     groups=build_groups(groups, tls_spec.max_version))
    return tls_spec


PQ_GROUPS = ("X25519MLKEM768", "x25519")  # --pq: what browsers offer
# OpenSSL's other spellings of the groups (s_client -groups takes both)
_GROUP_ALIASES = {"p-256": "secp256r1", "prime256v1": "secp256r1", "p-384": "secp384r1", "p-521": "secp521r1"}


def build_groups(groups: str | Sequence[str] | None, max_version: str | None = None) -> tuple[str, ...]:
    """--groups LIST (colon- or comma-separated, OpenSSL's names) as IANA names, in order, each once."""
    from tlsbench.engine.tls.tlsnames import GROUPS

    if not groups:
        return ()
    items = groups.replace(":", ",").split(",") if isinstance(groups, str) else list(groups)
    known = {name.lower(): name for name in GROUPS.values()}
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            raise InputError("--groups has an empty name (give names separated by : or ,)", field="groups")
        name = known.get(_GROUP_ALIASES.get(item.lower(), item.lower()))
        if name is None:
            raise InputError(f"--groups: unknown group {item[:40]!r} (e.g. X25519MLKEM768, x25519, secp256r1, "
                             "secp384r1, secp521r1, x448, ffdhe2048)", field="groups")
        if name not in out:
            out.append(name)
    if max_version is not None and max_version != "1.3":
        raise InputError("--groups/--pq are offered in a TLS 1.3 hello: they conflict with --tls-max "
                         f"{max_version}", field="groups")
    return tuple(out)


HTTP3_MODES = ("off", "race", "only")


def _build_http3(app: AppSpec, mode: str, tls: bool, upgrade: StarttlsSpec) -> AppSpec:
    """--http3 / --http3-only: an HTTP GET, over QUIC (and over TCP+TLS too, for --http3)."""
    if mode not in HTTP3_MODES:
        raise InputError(f"http3 {mode!r} is not one of {', '.join(HTTP3_MODES)}", field="http3")
    if not tls:
        raise InputError("--http3 needs TLS: QUIC is always encrypted (drop --no-tls)", field="http3")
    if upgrade.protocol:
        raise InputError("--http3 and --starttls cannot be used together (QUIC carries no STARTTLS)",
                         field="http3")
    if app.send is not None:
        raise InputError("--http3 sends an HTTP request; it cannot be used with --send", field="http3")
    return app._replace(http=True, http3=mode)


def build_app(http: bool, send: str | None, path: str) -> AppSpec:
    """What to say once connected: an HTTP GET of `path`, or `send`'s text."""
    if http and send is not None:
        raise InputError("--http and --send cannot be used together", field="send")
    if send is not None and send == "":
        raise InputError("--send needs some text to send", field="send")
    if not path.startswith("/") or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in path):
        raise InputError(f"path {path!r} must start with '/' and hold no spaces or control characters",
                         field="path")
    return AppSpec(http=http, send=send, path=path)


def _build_starttls(tls: bool, protocol: str | None, name: str | None, xmpphost: str | None) -> StarttlsSpec:
    if protocol in (None, "", "none"):
        if name not in (None, "", STARTTLS_NAME) or xmpphost:
            what = "--name" if name not in (None, "", STARTTLS_NAME) else "--xmpphost"
            raise InputError(f"{what} is for --starttls (give the protocol, e.g. --starttls smtp)",
                             field="starttls_name" if what == "--name" else "xmpphost")
        return StarttlsSpec()
    text = str(protocol).strip().lower()
    if text not in STARTTLS_PROTOCOLS and text != "auto":
        raise InputError(f"starttls {protocol!r} is not one of {', '.join(STARTTLS_PROTOCOLS)} or auto",
                         field="starttls")
    if not tls:
        raise InputError("--no-tls conflicts with --starttls (STARTTLS is the way TLS starts)", field="tls")
    return StarttlsSpec(text, _protocol_name(name, "starttls_name") if name else STARTTLS_NAME,
                        _protocol_name(xmpphost, "xmpphost") if xmpphost else None)


def _protocol_name(value: str, field: str) -> str:
    """A name that goes into a protocol command (EHLO NAME, <stream to='NAME'>): printable ASCII, one word."""
    text = value.strip()
    what = "--name" if field == "starttls_name" else "--xmpphost"
    if not text:
        raise InputError(f"{what} is empty", field=field)
    if len(text) > 255 or not all(0x21 <= ord(c) <= 0x7E for c in text) or any(c in "<>'\"&" for c in text):
        raise InputError(f"{what} {text!r} must be one word of printable ASCII (a host name), at most 255 "
                         "characters, without quotes or angle brackets", field=field)
    return text


def proxy_user(hop: ProxySpec, user_text: str | None, password_env: str | None) -> tuple[str | None, str | None]:
    """(user, password) for a hop from `USER[:PASS]` (the hop's own when None); the rules a proxy
    user follows wherever it is given."""
    user, inline = hop.username, hop.password
    if user_text is not None:
        user, sep, secret = user_text.partition(":")
        inline = secret if sep else None
        if not user:
            raise InputError("proxy user is empty", field="proxy_user")
    if password_env is not None and not user:
        raise InputError("--proxy-password-env needs a proxy user", field="proxy_password")
    return user, inline


def _with_user(hop: ProxySpec, user_text: str | None, password: str | None, password_env: str | None) -> ProxySpec:
    user, inline = proxy_user(hop, user_text or None, password_env)
    if password is not None:
        inline = password
    return hop._replace(username=user, password=inline, password_env=password_env or hop.password_env)


def _with_password(hop: ProxySpec, env: Mapping[str, str], strict: bool) -> ProxySpec:
    """A user without a password takes it from the hop's variable (default $TLSBENCH_PROXY_PASSWORD).
    A variable named on the command line must be set (`strict`); one a profile names may be unset:
    the password is then asked for at run time."""
    if hop.username is None or hop.password is not None:
        return hop
    named = hop.password_env
    var = named or PROXY_PASSWORD_ENV
    password = env.get(var)
    if password is None and named and strict:
        raise InputError(f"environment variable {named} (proxy password) is not set", field="proxy_password")
    return hop._replace(password=password, password_env=var)


def _check_proxy_limits(proxy: ProxySpec, dest: str, *, last: bool) -> None:
    """Refuse what a hop's protocol cannot carry, or what PySocks would encode wrongly."""
    what = "target" if last else "next proxy"
    if proxy.is_socks:
        for label, value in (("proxy user", proxy.username), ("proxy password", proxy.password)):
            if value is None or (not proxy.declared.password and label == "proxy password"):
                continue  # SOCKS4 has no password; it is ignored (a finding says so)
            size = len(value.encode("utf-8"))
            if size >= 128:
                limit = 255 if proxy.declared.socks == 5 else 127
                raise InputError(f"{label} is {size} bytes; tlsbench's SOCKS client sends at most 127 "
                                 f"(the protocol allows {limit}, but PySocks encodes longer ones wrongly)",
                                 field="proxy_user")
        v6 = is_ip(dest) and ipaddress.ip_address(dest).version == 6
        if not proxy.declared.ipv6 and v6:
            raise InputError(f"{proxy.kind.upper()} cannot carry an IPv6 {what}; use socks5", field="proxy_kind")
        if proxy.remote_dns and not is_ip(dest) and len(dest.encode("idna")) >= 128:
            raise InputError(f"{what} name is {len(dest)} bytes; tlsbench's SOCKS client sends names of at most 127",
                             field="target")


KEYLOG_ENV = "SSLKEYLOGFILE"


def _keylog_path(path: str | None, from_env: bool) -> str | None:
    """A key log path as written; refused (InputError) when it names something that cannot take one:
    a directory, a FIFO, a device, a missing folder. Nothing is created here (see stages/tls.py)."""
    if path is None:
        return None
    what = f"${KEYLOG_ENV}" if from_env else "keylog"
    if not path.strip():
        raise InputError(f"{what} path is empty", field="keylog")
    expanded = expand_path(path)
    import stat

    try:
        st = os.stat(expanded)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(expanded))
        if not os.path.isdir(folder):
            raise InputError(f"{what} {path!r}: its folder does not exist", field="keylog") from None
        return path
    except OSError as exc:
        raise InputError(f"{what} {path!r} cannot be used: {exc.strerror}", field="keylog") from None
    if not stat.S_ISREG(st.st_mode):
        from tlsbench.safe_files import file_kind

        raise InputError(f"{what} {path!r} is {file_kind(st.st_mode)}, not a regular file", field="keylog")
    return path


def build_local(local_port: str | int | None, interface: str | None, family: int | None, dest: str,
                chain: Sequence[ProxySpec], haproxy_protocol: bool = False) -> LocalSpec:
    port_range = None
    if local_port is not None and str(local_port).strip():
        text = str(local_port).strip()
        low_text, dash, high_text = text.partition("-")
        low = parse_port(low_text, "local_port")
        high = parse_port(high_text, "local_port") if dash else low
        if high < low:
            raise InputError(f"local_port range {text!r} ends below its start", field="local_port")
        port_range = (low, high)
    if interface is not None:
        interface = interface.strip()
        if not interface:
            raise InputError("interface is empty", field="interface")
        if not is_ip(interface) and not _interface_name(interface):
            raise InputError(f"interface {interface!r} is neither an IP address nor a network interface name",
                             field="interface")
    if family not in (None, 4, 6):
        raise InputError(f"address family {family!r} must be 4 or 6", field="family")
    if chain and chain[0].declared.program and (port_range or interface or haproxy_protocol):
        asked = "--local-port" if port_range else "--interface" if interface else "--haproxy-protocol"
        raise InputError(f"{asked} cannot apply to a {chain[0].kind}:// first hop: {chain[0].declared.program} "
                         "makes that connection itself", field="local_port" if port_range else "interface"
                         if interface else "haproxy_protocol")
    first = chain[0].host if chain else dest
    if family and is_ip(first) and ipaddress.ip_address(first).version != family:
        raise InputError(f"-{family} conflicts with the address {first}", field="family")
    if family and interface and is_ip(interface) and ipaddress.ip_address(interface).version != family:
        raise InputError(f"-{family} conflicts with --interface {interface}", field="interface")
    return LocalSpec(port_range, interface, family, bool(haproxy_protocol))


def _interface_name(name: str) -> bool:
    """True when `name` is a network interface of this host (Linux: /sys/class/net)."""
    import socket

    try:
        return any(n == name for _, n in socket.if_nameindex())
    except OSError:
        return False


def _build_tls(enabled: bool, host: str, sni: str | None, no_sni: bool, tls_min: str | None, tls_max: str | None,
               ciphers: str | None, alpn: str | list[str] | tuple[str, ...] | None, cafile: str | None,
               insecure: bool, cert: str | None, key: str | None) -> TlsSpec:
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
        with open(expand_path(path), "rb") as fh:
            data = fh.read(1 << 20)
    except OSError as exc:
        raise InputError(f"{what} {path!r} cannot be read: {exc.strerror}", field=what.split()[0]) from None
    if marker not in data:
        kind = "a certificate" if marker == b"CERTIFICATE" else "a private key"
        raise InputError(f"{what} {path!r} holds no PEM {kind}", field=what.split()[0])

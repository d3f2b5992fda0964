"""Every connection option, declared once: its value in a spec, CLI flags, form field, profile key, help.

The front-ends are derived from this table: `tlsbench probe`'s argparse options
(commands/arguments.py), the workbench's compose form (tui/widgets/option_fields.py), the profile
file (profiles/codec.py), the profile description (profiles/describe.py) and the equivalent
command lines (engine/equivalents.py). A value set is a dict {option name: value}; `values_of(spec)`
reads one from a spec and `spec_from_values(values)` builds (and validates) a spec from one.
Validation errors (InputError.field) name a field that `owner()` maps back to its option.

No I/O and no heavy imports here: the CLI parses its arguments from this before anything else.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, NamedTuple, overload

from tlsbench.engine.hops.starttls.protocols import DIALOGUES
from tlsbench.engine.route.proxykinds import TYPES
from tlsbench.engine.spec import (PQ_GROUPS, STARTTLS_NAME, STARTTLS_PROTOCOLS, ConnectionSpec, TlsSpec, build_spec,
                                  proxy_user, with_proxy_trust)

HTTP2_ALPN = ("h2", "http/1.1")  # what curl --http2 offers
GROUPS = ("target", "route", "local", "tls", "app", "other")
GROUP_TITLES = {"target": "Target", "route": "Route", "local": "Local side", "tls": "TLS", "app": "Application",
                "other": "Other"}


class Field(NamedTuple):
    """How the compose form shows an option."""

    label: str
    widget: str  # "input" | "select" | "switch" | "hops"
    placeholder: str = ""
    choices: Sequence[tuple[str, str]] = ()  # (label, value) for a select
    # Shown only when this returns True for the form's current values (None: always).
    visible: Callable[[dict], bool] | None = None


class Flag(NamedTuple):
    """One command-line option. `apply(values, arg)` folds its argument into the value set."""

    names: tuple[str, ...]  # primary first, then aliases (curl's, s_client's)
    help: str
    metavar: str | None = None
    kind: str = "value"  # "value" | "switch" (no argument) | "append" (repeatable)
    apply: Callable[[dict, Any], None] | None = None  # None: values[option.name] = arg
    excludes: tuple[str, ...] = ()  # option names a profile's value of which this flag clears
    # The words that say a value set's value again (for "copy as command"); None: the generic rule
    # (a switch that sets one value, or the flag and the value as it is).
    render: Callable[[dict], list[str]] | None = None


class Option(NamedTuple):
    name: str  # canonical: the key in a value set
    group: str
    help: str
    get: Callable[[ConnectionSpec], Any]  # its value in a spec
    default: Any = None
    flags: tuple[Flag, ...] = ()
    field: Field | None = None
    toml: tuple[str, str] | None = None  # (table, key) in a profile file; None: custom or not saved
    toml_type: Any = str  # what the profile file holds: str, int, float, bool, list, (int, str)
    errors: tuple[str, ...] = ()  # InputError.field values this option owns (its name is implied)
    describe: str | None = None  # its label in a profile's description; None: not listed
    curl: str | None = None  # curl's option when it maps one to one
    openssl: str | None = None  # s_client's option when it maps one to one


class _set:
    """A switch's apply: it sets one option to one value (and says so, for rendering back)."""

    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value

    def __call__(self, values: dict, arg: Any) -> None:
        values[self.name] = self.value


def _socks_proxy(kind: str) -> Callable[[dict, Any], None]:
    """The apply of a proxy type's own flag (--socks5h PROXY:PORT): a proxy of that kind."""
    return lambda values, arg: values.update(_socks=(kind, arg))


class _WhenRead(Sequence[tuple[str, str]]):
    """A select's choices made when first read: the STARTTLS protocols' titles are their classes', whose
    modules a run that speaks no STARTTLS does not import (hops/starttls/protocols.py)."""

    def __init__(self, make: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self._make = make
        self._made: tuple[tuple[str, str], ...] | None = None

    def _items(self) -> tuple[tuple[str, str], ...]:
        if self._made is None:
            self._made = tuple(self._make())
        return self._made

    @overload
    def __getitem__(self, i: int) -> tuple[str, str]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[str, str]]: ...

    def __getitem__(self, i: int | slice) -> tuple[str, str] | Sequence[tuple[str, str]]:
        return self._items()[i]

    def __len__(self) -> int:
        return len(self._items())


STARTTLS_CHOICES: Sequence[tuple[str, str]] = _WhenRead(lambda: (
    ("none (TLS at once)", "none"), ("auto (from the greeting)", "auto"),
    *((d.choice or d.title, p) for p, d in DIALOGUES.items())))


def _says(values: dict, what: str) -> bool:
    """Whether the STARTTLS protocol chosen (or auto) says the client's name ("says_name") or the
    server's domain ("says_host") in its opening; only that protocol's module is read."""
    protocol = values.get("starttls")
    if not protocol or protocol == "none":
        return False
    return protocol == "auto" or (protocol in DIALOGUES and bool(getattr(DIALOGUES[protocol], what)))

_STARTTLS_LIST = ", ".join(STARTTLS_PROTOCOLS)


def _dns_tls(values: dict) -> bool:
    """The value set names a DoT or DoH server (which --cafile verifies, TLS to the target or not)."""
    return bool(values.get("doh_url") or any(str(s).startswith("tls://") for s in values.get("dns_servers") or ()))


def _tls(spec: ConnectionSpec) -> TlsSpec:
    return spec.tls


OPTIONS: tuple[Option, ...] = (
    # --- target ---------------------------------------------------------------------------------
    Option("target", "target", "where to connect: HOST:PORT (IPv6 in brackets: [::1]:443), or an https:// or "
           "http:// URL (port 443/80 and an HTTP GET of its path)",
           lambda s: s.target, errors=("target port", "host", "port")),
    Option("pin", "target", "connect to ADDR instead of resolving HOST; the name is still used for SNI, "
           "verification and Host (curl --resolve)", lambda s: s.pin,
           flags=(Flag(("--pin",), "connect to ADDR instead of resolving HOST (like curl --resolve)", "ADDR"),
                  Flag(("--resolve",), "curl's spelling of --pin, for the target's HOST:PORT", "HOST:PORT:ADDR",
                       apply=lambda v, a: v.update(_resolve=a))),
           field=Field("Pinned IP (instead of DNS)", "input", "optional"), toml=("", "pin"), describe="pinned to"),
    # --- route ----------------------------------------------------------------------------------
    Option("proxies", "route", "the proxy chain, first hop first", lambda s: list(s.proxies), default=[],
           flags=(Flag(("--proxy", "-x"), "a proxy, curl's way: http:// (the default), "
                       f"{', '.join(k + '://' for k in sorted(TYPES, key=lambda k: not TYPES[k].http) if k != 'http')}"
                       "; again for a chain, first hop first",
                       "[SCHEME://][USER[:PASS]@]HOST[:PORT]", kind="append",
                       apply=lambda v, a: v.setdefault("_proxy", []).append(a), render=lambda v: _route_words(v)),
                  Flag(("--preproxy",), "curl's name for a first hop in front of --proxy", "URL",
                       apply=lambda v, a: v.update(_preproxy=a)),
                  *(Flag((f"--{kind}",), t.flag, "PROXY:PORT", apply=_socks_proxy(kind))
                    for kind, t in TYPES.items() if t.flag),
                  Flag(("--proxy-user", "-U"), "proxy credentials for the last hop; without :PASS the password "
                       "comes from $TLSBENCH_PROXY_PASSWORD (or --proxy-password-env), else it is asked for",
                       "USER[:PASS]", apply=lambda v, a: v.update(_proxy_user=a)),
                  Flag(("--proxy-password-env",), "read the proxy password from this variable", "VAR",
                       apply=lambda v, a: v.update(_proxy_password_env=a)),
                  Flag(("--proxy-cacert",), "trust this CA file for an https:// proxy's certificate", "FILE",
                       apply=lambda v, a: v.update(_proxy_cafile=a)),
                  Flag(("--proxy-insecure",), "do not verify an https:// proxy's certificate", kind="switch",
                       apply=lambda v, a: v.update(_proxy_insecure=True)),
                  Flag(("--noproxy",), "hosts that bypass the environment's proxy (like NO_PROXY); '*' for all",
                       "LIST", apply=lambda v, a: v.update(_noproxy=a))),
           field=Field("Proxies", "hops"),
           errors=("proxy", "proxy port", "proxy_kind", "proxy_user", "proxy_password", "proxy_password_input",
                   "proxy_cafile", "preproxy")),
    Option("dns_servers", "route", "DNS servers tlsbench asks itself, in order: ADDR[:PORT] (UDP, TCP when "
           "truncated), tls://HOST[:PORT] (DNS over TLS); their answers decide the addresses",
           lambda s: list(s.dns.servers), default=[],
           flags=(Flag(("--dns-servers", "--dns-server"), "ask these DNS servers instead of the system resolver "
                       "(curl's name): ADDR[:PORT] (IPv6 as [::1]:53), tls://HOST[:PORT] for DNS over TLS "
                       "(port 853, verified like the target: --cafile)", "ADDR[:PORT][,...]",
                       apply=lambda v, a: v.update(dns_servers=[p.strip() for p in a.split(",")]),
                       render=lambda v: ["--dns-servers", ",".join(v["dns_servers"])] if v.get("dns_servers")
                       else []),),
           field=Field("DNS servers", "input", "the system's; or ADDR,tls://NAME"),
           toml=("dns", "servers"), toml_type=list, describe="DNS servers", errors=("dns_servers",)),
    Option("doh_url", "route", "resolve over DNS over HTTPS at this URL (curl --doh-url)", lambda s: s.dns.doh_url,
           flags=(Flag(("--doh-url",), "resolve names with DNS over HTTPS at this https:// URL (curl's name; "
                       "verified like the target: --cafile)", "URL"),),
           field=Field("DoH URL", "input", "https://dns.example/dns-query"),
           toml=("dns", "doh_url"), describe="DoH URL"),
    Option("doh_insecure", "route", "do not verify the DNS-over-HTTPS or DNS-over-TLS server's certificate",
           lambda s: s.dns.doh_insecure, default=False,
           flags=(Flag(("--doh-insecure",), "do not verify the DoH (or DoT) server's certificate, as curl "
                       "--doh-insecure (the target's is still verified)", kind="switch",
                       apply=_set("doh_insecure", True)),),
           field=Field("DNS unverified", "switch",  # the form's values: the server list is text there
                       visible=lambda v: bool(v.get("doh_url")) or "tls://" in str(v.get("dns_servers") or "")),
           toml=("dns", "doh_insecure"), toml_type=bool, describe="DNS server unverified", curl="--doh-insecure"),
    # --- local side ---------------------------------------------------------------------------------
    Option("local_port", "local", "bind the client to this port, or the first free one of a range",
           lambda s: (None if not s.local.port_range else str(s.local.port_range[0]) if
                      s.local.port_range[0] == s.local.port_range[1] else "%d-%d" % s.local.port_range),
           flags=(Flag(("--local-port",), "bind the client to this port (or the first free one of a range)",
                       "PORT[-PORT]"),),
           field=Field("Local port (or range)", "input", "any: the OS picks one"), toml=("local", "port"),
           toml_type=(int, str), describe="local port", curl="--local-port"),
    Option("interface", "local", "bind the client to this address or network interface",
           lambda s: s.local.interface,
           flags=(Flag(("--interface",), "bind the client to this address or network interface", "ADDR|NAME"),),
           field=Field("Local address or interface", "input", "any"), toml=("local", "interface"),
           describe="interface", curl="--interface"),
    Option("family", "local", "IP version: 4 or 6 (default: both, IPv6 and IPv4 raced as curl does)",
           lambda s: s.local.family,
           flags=(Flag(("--ipv4", "-4"), "use IPv4 addresses only", kind="switch", apply=_set("family", 4)),
                  Flag(("--ipv6", "-6"), "use IPv6 addresses only", kind="switch", apply=_set("family", 6))),
           field=Field("IP version", "select", choices=(("both (happy eyeballs)", "any"), ("IPv4 only", "4"),
                                                        ("IPv6 only", "6"))),
           toml=("local", "family"), toml_type=int, describe="IP version"),
    Option("haproxy_protocol", "local", "send a PROXY protocol v1 header first, naming this connection's two ends "
           "(for a server or balancer that expects one: haproxy's accept-proxy)",
           lambda s: s.local.haproxy_protocol, default=False,
           flags=(Flag(("--haproxy-protocol",), "send a PROXY protocol v1 header first, as curl --haproxy-protocol "
                       "(for a server that expects one: haproxy's accept-proxy)", kind="switch",
                       apply=_set("haproxy_protocol", True)),),
           toml=("local", "haproxy_protocol"), toml_type=bool, describe="PROXY protocol header",
           curl="--haproxy-protocol"),
    # --- TLS ------------------------------------------------------------------------------------
    Option("tls", "tls", "run a TLS handshake (off: plain TCP)", lambda s: s.tls.enabled, default=True,
           flags=(Flag(("--no-tls",), "plain TCP: no TLS handshake", kind="switch", apply=_set("tls", False)),),
           field=Field("TLS handshake", "switch"), toml=("tls", "enabled"), toml_type=bool),
    Option("sni_mode", "tls", "which server name to send: the host's, another (override), or none",
           lambda s: s.tls.sni_mode if s.tls.enabled else "host", default="host",
           flags=(Flag(("--no-sni",), "send no SNI at all (s_client -noservername)", kind="switch",
                       apply=_set("sni_mode", "none"), excludes=("sni",)),),
           field=Field("SNI", "select", choices=(("from host", "host"), ("override", "override"), ("none", "none")),
                       visible=lambda v: v.get("tls", True)),
           toml=("tls", "sni"), errors=("no_sni",)),
    Option("sni", "tls", "the server name to send instead of the host's", lambda s: s.tls.sni_name,
           flags=(Flag(("--sni", "--servername"), "send NAME as SNI instead of the host (s_client -servername)",
                       "NAME", apply=lambda v, a: v.update(sni=a, sni_mode="override"),
                       render=lambda v: ["--sni", v["sni"]] if v.get("sni_mode") == "override" else []),),
           field=Field("SNI name", "input", "server name to send",
                       visible=lambda v: v.get("tls", True) and v.get("sni_mode") == "override"),
           toml=("tls", "sni_name"), describe="SNI", openssl="-servername"),
    Option("tls_min", "tls", "lowest TLS version: 1.0, 1.1, 1.2, 1.3", lambda s: s.tls.min_version,
           flags=(Flag(("--tls-min",), "lowest TLS version: 1.0, 1.1, 1.2, 1.3", "VER"),),
           field=Field("Min version", "select", choices=(("any", "any"), ("1.0", "1.0"), ("1.1", "1.1"),
                                                         ("1.2", "1.2"), ("1.3", "1.3")),
                       visible=lambda v: v.get("tls", True)),
           toml=("tls", "min_version"), errors=("tls-min",), describe="lowest TLS"),
    Option("tls_max", "tls", "highest TLS version: 1.0, 1.1, 1.2, 1.3", lambda s: s.tls.max_version,
           flags=(Flag(("--tls-max",), "highest TLS version: 1.0, 1.1, 1.2, 1.3", "VER"),),
           field=Field("Max version", "select", choices=(("any", "any"), ("1.0", "1.0"), ("1.1", "1.1"),
                                                         ("1.2", "1.2"), ("1.3", "1.3")),
                       visible=lambda v: v.get("tls", True)),
           toml=("tls", "max_version"), errors=("tls-max",), describe="highest TLS", curl="--tls-max"),
    Option("ciphers", "tls", "OpenSSL cipher list for TLS 1.2 and below", lambda s: s.tls.ciphers,
           flags=(Flag(("--ciphers", "--cipher"), "OpenSSL cipher list for TLS <= 1.2", "LIST"),),
           field=Field("Ciphers (OpenSSL list)", "input", "default", visible=lambda v: v.get("tls", True)),
           toml=("tls", "ciphers"), describe="ciphers", curl="--ciphers", openssl="-cipher"),
    Option("alpn", "tls", "ALPN protocols to offer, e.g. h2,http/1.1", lambda s: list(s.tls.alpn), default=[],
           flags=(Flag(("--alpn",), "comma-separated ALPN protocols, e.g. h2,http/1.1 (each 1-255 bytes as UTF-8)",
                       "LIST",
                       apply=lambda v, a: v.update(alpn=[p.strip() for p in a.split(",")]),
                       render=lambda v: ["--alpn", ",".join(v["alpn"])]
                       if v.get("alpn") and v["alpn"] != list(HTTP2_ALPN) else []),
                  # curl's --http2: after --alpn in this table, so a list given with --alpn wins over it
                  Flag(("--http2",), "offer h2,http/1.1 through ALPN, as curl --http2 does (--alpn wins)",
                       kind="switch", apply=lambda v, a: v.setdefault("alpn", list(HTTP2_ALPN)),
                       render=lambda v: ["--http2"] if v.get("alpn") == list(HTTP2_ALPN) else [])),
           field=Field("ALPN", "input", "e.g. h2,http/1.1", visible=lambda v: v.get("tls", True)),
           toml=("tls", "alpn"), toml_type=(list, str), describe="ALPN", openssl="-alpn"),
    Option("groups", "tls", "key-exchange groups to offer in a hand-built TLS 1.3 hello, e.g. X25519MLKEM768:x25519",
           lambda s: list(s.tls.groups), default=[],
           flags=(Flag(("--groups", "--curves"), "key-exchange groups (OpenSSL names, : or , between) offered by "
                       "tlsbench's own TLS 1.3 client over one more connection, e.g. X25519MLKEM768:x25519",
                       "LIST", apply=lambda v, a: v.update(groups=a),
                       render=lambda v: ["--groups", ":".join(v["groups"])]
                       if v.get("groups") and list(v["groups"]) != list(PQ_GROUPS) else []),
                  Flag(("--pq",), "offer the post-quantum hybrid as browsers do (= --groups X25519MLKEM768,x25519)",
                       kind="switch", apply=lambda v, a: v.setdefault("groups", list(PQ_GROUPS)),
                       render=lambda v: ["--pq"] if list(v.get("groups") or ()) == list(PQ_GROUPS) else [])),
           field=Field("Groups", "input", "e.g. X25519MLKEM768:x25519",
                       visible=lambda v: v.get("tls", True)),
           toml=("tls", "groups"), toml_type=(list, str), describe="groups", openssl="-groups"),
    Option("verify", "tls", "how the certificate is verified: system store, a CA file, or not at all",
           lambda s: s.tls.verify if s.tls.enabled or not s.dns.cafile else "cafile", default="system",
           flags=(Flag(("--insecure", "-k"), "do not verify the certificate (loud warning)", kind="switch",
                       apply=_set("verify", "off"), excludes=("cafile",)),),
           field=Field("Verification", "select", choices=(("system store", "system"), ("CA file", "cafile"),
                                                          ("off (insecure)", "off")),
                       visible=lambda v: v.get("tls", True)),
           toml=("tls", "verify"), errors=("insecure",)),
    Option("cafile", "tls", "trust only the CA certificates in this file", lambda s: s.tls.cafile or s.dns.cafile,
           flags=(Flag(("--cafile", "--cacert"), "trust these CA certificates (curl --cacert)", "FILE",
                       apply=lambda v, a: v.update(cafile=a, verify="cafile"),
                       render=lambda v: ["--cafile", v["cafile"]] if v.get("verify") == "cafile" else []),),
           field=Field("CA file", "input", "/path/to/ca.pem",
                       visible=lambda v: (v.get("tls", True) or _dns_tls(v)) and v.get("verify") == "cafile"),
           toml=("tls", "cafile"), describe="CA file", curl="--cacert", openssl="-CAfile"),
    Option("cert", "tls", "client certificate (PEM; may hold the key too)", lambda s: s.tls.cert,
           flags=(Flag(("--cert",), "client certificate (PEM; may hold the key too)", "FILE"),),
           field=Field("Client certificate", "input", "optional PEM", visible=lambda v: v.get("tls", True)),
           toml=("tls", "cert"), describe="client certificate", curl="--cert", openssl="-cert"),
    Option("key", "tls", "client private key (PEM)", lambda s: s.tls.key,
           flags=(Flag(("--key",), "client private key (PEM)", "FILE"),),
           field=Field("Client key", "input", "optional PEM", visible=lambda v: v.get("tls", True)),
           toml=("tls", "key"), describe="client key", curl="--key", openssl="-key"),
    Option("starttls", "tls", "upgrade a plain-text protocol to TLS first (openssl s_client -starttls): "
           f"{_STARTTLS_LIST}, or auto",
           lambda s: s.starttls.protocol,
           flags=(Flag(("--starttls",), "upgrade to TLS in the protocol first, as openssl s_client -starttls: "
                       f"{_STARTTLS_LIST}; or auto (from the "
                       "server's greeting and the port)", "PROTO"),),
           field=Field("STARTTLS", "select", choices=STARTTLS_CHOICES, visible=lambda v: v.get("tls", True)),
           toml=("tls", "starttls"), describe="STARTTLS", openssl="-starttls"),
    Option("starttls_name", "tls", "the name said in EHLO/LHLO before STARTTLS (openssl s_client -name)",
           lambda s: s.starttls.name, default=STARTTLS_NAME,
           flags=(Flag(("--name",), f"the EHLO/LHLO name for --starttls smtp/lmtp (s_client -name; default "
                       f"{STARTTLS_NAME})", "NAME"),),
           field=Field("EHLO/LHLO name", "input", STARTTLS_NAME,
                       visible=lambda v: v.get("tls", True) and _says(v, "says_name")),
           toml=("tls", "starttls_name"), describe="EHLO name", openssl="-name"),
    Option("xmpphost", "tls", "the XMPP domain asked for in the stream header (openssl s_client -xmpphost)",
           lambda s: s.starttls.xmpphost,
           flags=(Flag(("--xmpphost",), "the XMPP domain for --starttls xmpp (s_client -xmpphost; default the "
                       "target host)", "NAME"),),
           field=Field("XMPP domain", "input", "the target host",
                       visible=lambda v: v.get("tls", True) and _says(v, "says_host")),
           toml=("tls", "xmpphost"), describe="XMPP domain", openssl="-xmpphost"),
    Option("keylog", "tls", "append the TLS session secrets to FILE (NSS key log format, read by Wireshark); "
           "$SSLKEYLOGFILE does the same, as with curl",
           lambda s: None if s.tls.keylog_from_env else s.tls.keylog,
           flags=(Flag(("--keylog",), "append the TLS session secrets to FILE (NSS key log format, for Wireshark; "
                       "created 0600); $SSLKEYLOGFILE does the same, as with curl", "FILE"),),
           field=Field("Key log file (secrets!)", "input", "optional: for Wireshark",
                       visible=lambda v: v.get("tls", True)),
           toml=("tls", "keylog"), describe="key log", openssl="-keylogfile"),
    Option("reconnect", "tls", "connect a second time offering the first connection's session (resumption)",
           lambda s: s.tls.reconnect, default=False,
           flags=(Flag(("--reconnect",), "connect again offering the first connection's session: is it resumed, "
                       "and how much faster (s_client -reconnect)", kind="switch", apply=_set("reconnect", True)),),
           field=Field("Reconnect (resumption)", "switch", visible=lambda v: v.get("tls", True)),
           toml=("tls", "reconnect"), toml_type=bool, describe="reconnect"),
    Option("check_revocation", "tls", "ask the leaf's OCSP responder and CRL distribution point whether it is revoked",
           lambda s: s.tls.check_revocation, default=False,
           flags=(Flag(("--check-revocation",), "ask the leaf certificate's OCSP responder and CRL distribution "
                       "point (plain HTTP, bounded) whether it is revoked", kind="switch",
                       apply=_set("check_revocation", True)),),
           field=Field("Check revocation (OCSP, CRL)", "switch", visible=lambda v: v.get("tls", True)),
           toml=("tls", "check_revocation"), toml_type=bool, describe="check revocation"),
    # --- application ------------------------------------------------------------------------------
    Option("app", "app", "after connecting: nothing, a minimal HTTP GET, or text",
           lambda s: "http" if s.app.http else ("send" if s.app.send is not None else "none"), default="none",
           flags=(Flag(("--http",), "send a minimal GET (HTTP/2 when ALPN chooses h2) and record the status", kind="switch",
                       apply=_set("app", "http"), excludes=("send",),
                       # --http3 and --http3-only say it already
                       render=lambda v: ["--http"] if v.get("app") == "http" and v.get("http3", "off") in ("off", None)
                       else []),),
           field=Field("Application", "select", choices=(("none", "none"), ("HTTP GET", "http"),
                                                         ("send text", "send")))),
    Option("path", "app", "the path of the HTTP GET", lambda s: s.app.path, default="/",
           flags=(Flag(("--path",), "the path --http asks for (default /)", "PATH"),),
           field=Field("HTTP path", "input", "/", visible=lambda v: v.get("app") == "http"),
           toml=("app", "path"), describe="HTTP path"),
    Option("http3", "app", "HTTP/3 over QUIC: off; race (QUIC and TCP+TLS as browsers try them, the first to "
           "connect carries the request); only (QUIC alone)", lambda s: s.app.http3, default="off",
           flags=(Flag(("--http3",), "HTTP/3 over QUIC and HTTP over TCP+TLS, both tried as browsers do; shows both "
                       "attempts and which won (curl --http3)", kind="switch",
                       apply=lambda v, a: v.update(http3="race", app="http"), excludes=("send",),
                       render=lambda v: ["--http3"] if v.get("http3") == "race" else []),
                  Flag(("--http3-only",), "HTTP/3 over QUIC only, no TCP (curl --http3-only)", kind="switch",
                       apply=lambda v, a: v.update(http3="only", app="http"), excludes=("send",),
                       render=lambda v: ["--http3-only"] if v.get("http3") == "only" else [])),
           field=Field("HTTP/3 (QUIC)", "select", choices=(("off", "off"), ("QUIC and TCP, first wins", "race"),
                                                           ("QUIC only", "only")),
                       visible=lambda v: v.get("tls", True) and v.get("app") == "http"),
           toml=("app", "http3"), describe="HTTP/3"),
    Option("send", "app", "text to send after connecting", lambda s: s.app.send,
           flags=(Flag(("--send",), "send TEXT as UTF-8 bytes and record the answer; escapes: \\r \\n \\t \\\\ "
                       "(a backslash) \\xHH (one byte); any other backslash is an error", "TEXT",
                       apply=lambda v, a: v.update(send=unescape(a), app="send"), excludes=("path",),
                       render=lambda v: ["--send", escape(v["send"])] if v.get("app") == "send" else []),),
           field=Field("Text to send (\\r \\n \\t \\\\ \\xHH)", "input", "EHLO x\\r\\n",
                       visible=lambda v: v.get("app") == "send"),
           toml=("app", "send")),
    # --- other ------------------------------------------------------------------------------------
    Option("timeout", "other", "seconds each stage may take", lambda s: s.timeout, default=10.0,
           flags=(Flag(("--timeout",), "per-stage timeout in seconds (default 10)", "SECONDS"),),
           field=Field("Timeout per stage (s)", "input", "10"), toml=("", "timeout"), toml_type=(int, float),
           describe="timeout"),
)

BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}

# Flags that say opposite things: giving both on one command line is an error, not "the last wins".
CONFLICTS: tuple[tuple[str, str], ...] = (("--sni", "--no-sni"), ("--cafile", "--insecure"), ("--http", "--send"),
                                          ("--ipv4", "--ipv6"), ("--proxy-cacert", "--proxy-insecure"),
                                          ("--http3", "--http3-only"), ("--http3", "--send"), ("--http3-only", "--send"),
                                          ("--http3", "--no-tls"), ("--http3-only", "--no-tls"))


def check_conflicts(flags: list[str], values: dict | None = None) -> None:
    """Raise InputError when two flags given together contradict each other (`flags`: primary names;
    `values`: what they set, when known)."""
    from tlsbench.errors import InputError

    for a, b in CONFLICTS:
        if a in flags and b in flags:
            raise InputError(f"{a} and {b} cannot be used together", field=(owner_of_flag(b) or OPTIONS[0]).name)
    if "--no-tls" in flags:
        # --cafile also verifies DoT/DoH servers (as curl's --cacert does DoH's), with or without TLS to the target
        dns_tls = _dns_tls(values) if values is not None else ("--doh-url" in flags or "--dns-servers" in flags)
        tls_flags = [f for f in flags if f != "--no-tls" and (owner_of_flag(f) or OPTIONS[0]).group == "tls"
                     and not (dns_tls and f == "--cafile")]
        if tls_flags:
            raise InputError(f"--no-tls conflicts with {', '.join(tls_flags)}", field="tls")


def owner_of_flag(name: str) -> Option | None:
    return next((o for o in OPTIONS for f in o.flags if name in f.names), None)


def owner(field: str | None) -> Option | None:
    """The option an InputError's field belongs to."""
    if field is None:
        return None
    return BY_NAME.get(field) or next((o for o in OPTIONS if field in o.errors), None)


def unescape(text: str) -> str:
    """`--send` text with its escapes applied (engine/findings/checks.py: \\r \\n \\t \\\\ \\xHH)."""
    from tlsbench.engine.findings.checks import unescape_text

    return unescape_text(text, "send") or ""


def escape(text: str) -> str:
    from tlsbench.engine.findings.checks import escape_text

    return escape_text(text)


def finish_flags(values: dict[str, Any], *, target: str | None, tls: bool, environ: Mapping[str, str] | None,
                 base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fold what the route flags gathered (hops, credentials, --resolve) into plain values.

    The hops given replace the base's (a profile's) route; with none given and no base, the
    proxy comes from the environment as curl takes it (`-x ""` turns that off). --proxy-user and
    --proxy-password-env apply to the last hop, --proxy-cacert/--proxy-insecure to https:// hops.
    """
    from tlsbench.errors import InputError
    from tlsbench.engine.route.hostport import format_hostport, split_hostport
    from tlsbench.engine.route.proxies import DEFAULT_PORTS, ProxySpec, parse_proxy_url, proxy_from_environment

    out = {k: v for k, v in values.items() if not k.startswith("_")}
    urls = values.get("_proxy") or []
    given = bool(urls or values.get("_preproxy") or values.get("_socks"))
    hops: list[ProxySpec] = []
    if values.get("_preproxy"):
        hops.append(parse_proxy_url(values["_preproxy"], what="preproxy"))
    hops += [parse_proxy_url(u) for u in urls if u != ""]
    if values.get("_socks"):
        kind, where = values["_socks"]
        host, port = split_hostport(where, "proxy", default_port=DEFAULT_PORTS[kind])
        hops.append(ProxySpec(kind, host, port))
    if values.get("_preproxy") and len(hops) == 1:
        raise InputError("--preproxy needs --proxy (the hop behind it)", field="preproxy")
    if not given:
        hops = list((base or {}).get("proxies") or [])
        if base is None and urls != [""] and target and environ is not None:
            host, _ = split_hostport(target, "target")
            found = proxy_from_environment(host, tls=tls, environ=environ, noproxy=values.get("_noproxy"))
            hops = [found] if found is not None else []
    user, var = values.get("_proxy_user"), values.get("_proxy_password_env")
    if user is not None or var is not None:
        if not hops:
            raise InputError("--proxy-user needs a proxy (--proxy URL, or --socks5h ...)", field="proxy_user")
        last = hops[-1]
        name, secret = proxy_user(last, user, var)
        if user is not None:
            last = last._replace(username=name, password=secret, password_env=None)
        if var is not None:
            import os as _os

            env = _os.environ if environ is None else environ
            if env.get(var) is None:
                raise InputError(f"environment variable {var} (proxy password) is not set", field="proxy_password")
            last = last._replace(password_env=var, password=env[var] if last.password is None else last.password)
        hops[-1] = last
    cafile, insecure = values.get("_proxy_cafile"), values.get("_proxy_insecure")
    if cafile or insecure:
        hops = [h._replace(cafile=cafile, insecure=bool(insecure)) if h.declared.tls else h
                for h in with_proxy_trust(hops, cafile, bool(insecure))]
    if given or user is not None or var is not None or cafile or insecure or base is None:
        out["proxies"] = hops
    entry = values.get("_resolve")
    if entry:
        if out.get("pin"):
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
        out["pin"] = addr.strip("[]")
    return out


def peer_switches() -> tuple[Option, ...]:
    """The on/off options that curl or s_client spell as a switch of their own (`curl=`, `openssl=`):
    copy-as-command and paste carry them with no code of their own."""
    return tuple(o for o in OPTIONS if (o.curl or o.openssl) and o.toml_type is bool
                 and len(o.flags) == 1 and o.flags[0].kind == "switch")


def applies(option: Option, values: dict) -> bool:
    """Whether an option means anything with the other values (e.g. an SNI name with SNI off: no)."""
    field = option.field
    return field is None or field.visible is None or bool(field.visible(values))


def command_words(values: dict[str, Any]) -> list[str]:
    """The `tlsbench probe` flags (unquoted words) that give this value set, defaults left out."""
    words: list[str] = []
    for option in OPTIONS:
        if not applies(option, values):
            continue
        for flag in option.flags:
            if flag.render is not None:
                words += flag.render(values)
            elif isinstance(flag.apply, _set):
                if values.get(flag.apply.name) == flag.apply.value:
                    words.append(flag.names[0])
            elif flag.apply is None and flag.kind == "value":
                value = values.get(option.name)
                if value in (None, "", []) or value == option.default:
                    continue
                words += [flag.names[0], f"{value:g}" if isinstance(value, float) else str(value)]
    return words


def _route_words(values: dict[str, Any]) -> list[str]:
    """-x URL for each hop; the last hop's password variable and the https hops' trust as flags."""
    from tlsbench.engine.spec import PROXY_PASSWORD_ENV

    hops = values.get("proxies") or []
    words: list[str] = []
    for hop in hops:
        words += ["--proxy", hop.url]
    if hops and hops[-1].username and hops[-1].password_env not in (None, PROXY_PASSWORD_ENV):
        words += ["--proxy-password-env", hops[-1].password_env]
    https = [h for h in hops if h.declared.tls]
    if any(h.insecure for h in https):
        words.append("--proxy-insecure")
    elif any(h.cafile for h in https):
        words += ["--proxy-cacert", next(h.cafile for h in https if h.cafile)]
    return words


def values_of(spec: ConnectionSpec) -> dict[str, Any]:
    """The value set that rebuilds `spec` (a proxy from the environment included)."""
    return {o.name: o.get(spec) for o in OPTIONS}


def defaults() -> dict[str, Any]:
    return {o.name: (list(o.default) if isinstance(o.default, list) else o.default) for o in OPTIONS}


def spec_from_values(values: dict[str, Any], *, environ: dict[str, str] | None = None) -> ConnectionSpec:
    """Validate a value set into a spec; raises InputError (one line) whose field `owner()` knows."""
    v = defaults()
    v.update({k: val for k, val in values.items() if val is not None})
    tls = bool(v["tls"])
    sni_mode = v["sni_mode"]
    verify = v["verify"]
    family = v["family"]
    if family in ("any", "", None):
        family = None
    elif isinstance(family, str):
        family = int(family) if family in ("4", "6") else family
    tls_args: dict[str, Any] = {}
    if tls:
        tls_args = dict(sni=v["sni"] if sni_mode == "override" else None, no_sni=sni_mode == "none",
                        tls_min=None if v["tls_min"] in ("any", "") else v["tls_min"],
                        tls_max=None if v["tls_max"] in ("any", "") else v["tls_max"],
                        ciphers=v["ciphers"], alpn=v["alpn"] or None,
                        cafile=v["cafile"] if verify == "cafile" else None, insecure=verify == "off",
                        cert=v["cert"], key=v["key"], keylog=v["keylog"] or None, reconnect=bool(v["reconnect"]),
                        check_revocation=bool(v["check_revocation"]), groups=v["groups"] or None)
        starttls = v["starttls"] if v["starttls"] not in ("none", "") else None
        if starttls is not None:
            # The protocol's names only mean something with STARTTLS (the form keeps hidden fields).
            tls_args["starttls"] = starttls
            for name in ("starttls_name", "xmpphost"):
                if applies(BY_NAME[name], v):
                    tls_args[name] = v[name]
        if sni_mode == "override" and not v["sni"]:
            from tlsbench.errors import InputError

            raise InputError("SNI name is empty (send the host's name, none, or type a name)", field="sni")
        if verify == "cafile" and not v["cafile"]:
            from tlsbench.errors import InputError

            raise InputError("CA file is empty (verify with the system store, or give a CA file)", field="cafile")
    if not tls and v["cafile"] and verify == "cafile" and _dns_tls(v):
        tls_args["cafile"] = v["cafile"]  # for the DoT/DoH servers (build_spec checks they use TLS)
    app = v["app"]
    return build_spec(v["target"], pin=v["pin"], proxies=v["proxies"], tls=tls, timeout=v["timeout"],
                      http=app == "http", send=v["send"] if app == "send" else None, path=v["path"] or "/",
                      http3=(v["http3"] or "off") if app == "http" and tls else "off",
                      local_port=v["local_port"], interface=v["interface"], family=family,
                      haproxy_protocol=bool(v["haproxy_protocol"]), environ=environ,
                      dns_servers=v["dns_servers"] or None, doh_url=v["doh_url"] or None,
                      doh_insecure=bool(v["doh_insecure"]),
                      **tls_args)

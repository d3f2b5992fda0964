"""Per-stage details: frozen records of what each stage asked, saw and chose.

Each has `to_dict()` giving the JSON `detail` object of its stage. Tuples, not lists, so a
detail can be shared between threads without copying.
"""


from typing import TYPE_CHECKING, Any, NamedTuple, Union

if TYPE_CHECKING:
    from tlsbench.engine.records.result import StageRecord
    from tlsbench.engine.stages.h2frames import H2Frame
    from tlsbench.engine.tls.fingerprint import HelloFingerprint
    from tlsbench.engine.tls.tlsfacts import ClientCertRequest


def plain(value: Any) -> Any:
    """A record as JSON-ready data: records become objects, tuples become lists.

    (Any: what comes back is JSON-shaped data whose shape is the record's, a dict for a record.)"""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class DnsRecord(NamedTuple):
    """One record of an answer, as received (the value in presentation format, e.g. "edge.lab.test.")."""

    name: str
    type: str  # "A" | "AAAA" | "CNAME" | "HTTPS" | ...
    ttl: int  # seconds
    value: str

    def to_dict(self) -> dict:
        return plain(self)


class DnsQuery(NamedTuple):
    """One query tlsbench sent itself, and what came back."""

    type: str  # "A" | "AAAA" | "HTTPS"
    server: str  # as asked: "127.0.0.1:53", "tls://dns.lab.test:853", a DoH URL
    rcode: str | None = None  # "NOERROR", "NXDOMAIN", "SERVFAIL", ...; None when no answer came
    ms: float | None = None  # on the wire: sent to answered (or to giving up)
    answers: tuple[DnsRecord, ...] = ()  # the answer section, in order (at most lookup.MAX_ANSWERS)
    error: str | None = None  # why no usable answer came
    sent_ms: float | None = None  # when it was sent, ms since the run began
    over: str = "udp"  # "udp" | "tcp" (the UDP answer was truncated) | "tls" | "https"
    more_answers: int = 0  # records of the answer section past the bound, not kept

    def to_dict(self) -> dict:
        return plain(self)


class HttpsRecord(NamedTuple):
    """The HTTPS (SVCB) record of the name (RFC 9460): where and how a browser may connect."""

    name: str  # its owner (the last name of the CNAME chain, usually)
    priority: int  # 0: alias mode (`target` names the service); otherwise service mode
    target: str  # "." for the owner itself
    alpn: tuple[str, ...] = ()  # e.g. ("h3", "h2")
    no_default_alpn: bool = False
    port: int | None = None
    ech: bool = False  # an Encrypted ClientHello configuration is published
    ipv4hint: tuple[str, ...] = ()
    ipv6hint: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return plain(self)


class DnsResolver(NamedTuple):
    """Who decided the addresses, and where the DNS detail comes from."""

    kind: str  # "system" (getaddrinfo decides) | "servers" (tlsbench's own queries decide)
    servers: tuple[str, ...] = ()  # the servers asked (system: the detail's, from resolv.conf)
    source: str | None = None  # "/etc/resolv.conf" | "--dns-servers" | "--doh-url" | "/etc/hosts"
    note: str | None = None  # e.g. why there is no detail: "answered by /etc/hosts (nsswitch: files dns)"

    def to_dict(self) -> dict:
        return plain(self)


class ResolveDetail(NamedTuple):
    name: str  # what was looked up (the target, or the proxy for remote-DNS proxies)
    role: str  # "target" | "proxy"
    addresses: tuple[str, ...] = ()  # every address returned, in order
    chosen: str | None = None
    family: str | None = None  # "IPv4" | "IPv6"
    pinned: bool = False  # --pin replaced DNS
    skipped_reason: str | None = None  # e.g. "the proxy resolves the name (socks5h)"
    error: str | None = None
    # Through a proxy: the target's own addresses when tlsbench resolves it (socks4/socks5),
    # and the address or name the proxy is asked for.
    target_addresses: tuple[str, ...] = ()
    target_chosen: str | None = None
    hop_requests: tuple[str, ...] = ()  # in a chain: what each proxy hop is asked to connect to
    # tlsbench's own DNS queries (engine/dns): the resolver, each query, the CNAME chain from the name
    # asked to the one holding the addresses, the HTTPS record, and a DoT/DoH server's own connection.
    resolver: DnsResolver | None = None
    queries: tuple[DnsQuery, ...] = ()
    cname_chain: tuple[str, ...] = ()
    https: HttpsRecord | None = None
    connection: "tuple[StageRecord, ...]" = ()

    def to_dict(self) -> dict:
        d = plain(self._replace(connection=()))
        # Each as the run's own stages are in `stages`, with its `key` and `parent` (the stage it ran in).
        d["connection"] = [{**r.to_dict(), "key": r.id, "parent": r.parent} for r in self.connection]
        return d


class ConnectTry(NamedTuple):
    """One connect attempt: which address, when it started (ms since the run began), how it ended."""

    address: str
    family: str
    started_ms: float
    duration_ms: float
    result: str  # "connected", the OS's words for the error, "abandoned: ...", "not tried ..."
    errno_name: str | None = None
    won: bool = False  # the attempt whose connection the run used

    def to_dict(self) -> dict:
        return plain(self)


class TcpDetail(NamedTuple):
    role: str  # "target" | "proxy"
    peer_address: str
    peer_port: int
    local_address: str | None = None
    local_port: int | None = None  # the ephemeral port the OS picked
    family: str | None = None
    attempts: tuple[str, ...] = ()  # "ADDR: result" for each address tried
    error: str | None = None
    errno_name: str | None = None  # "ECONNREFUSED", "ETIMEDOUT", ...
    tries: tuple[ConnectTry, ...] = ()  # every attempt, with its time
    happy_eyeballs: bool = False  # IPv6 and IPv4 raced (RFC 8305: interleaved, each attempt 250 ms after the last)
    local_bind: str | None = None  # what the client bound to: "port 40000-40010", "interface eth0"

    def to_dict(self) -> dict:
        return plain(self)


class ProxyDetail(NamedTuple):
    kind: str  # the proxy type (proxykinds.TYPES)
    proxy: str  # "HOST:PORT"
    auth: str  # "none" | "username/password" | "userid" | "basic"
    address_type: str  # what was sent: "IPv4" | "IPv6" | "domain name"
    requested: str  # the address or name asked for, and port, e.g. "example.com:443"
    reply_code: int | None = None
    reply_meaning: str | None = None
    bound_address: str | None = None  # BND.ADDR:BND.PORT from the reply
    auth_method: str | None = None  # the method the SOCKS5 proxy chose
    error: str | None = None
    sent_hex: str | None = None  # the request bytes as sent (credentials redacted)
    received_hex: str | None = None  # the reply bytes as received
    # HTTP CONNECT: the request and the answer as text (credentials redacted), and a refusal's body
    sent_text: str | None = None
    received_text: str | None = None
    status_line: str | None = None
    body_text: str | None = None

    def to_dict(self) -> dict:
        return plain(self)


class TlsDetail(NamedTuple):
    sni: str | None  # the name sent in SNI, or None
    sni_sent: bool
    version: str | None = None  # "TLSv1.3"
    cipher: str | None = None
    cipher_bits: int | None = None
    alpn: str | None = None  # negotiated protocol
    alpn_offered: tuple[str, ...] = ()
    verify: str = "system"  # system | cafile | off
    verified: bool | None = None  # None when verification was off
    session_reused: bool = False
    bytes_sent: int = 0
    bytes_received: int = 0
    first_bytes_hex: str | None = None  # what the peer sent when it was not TLS (first bytes)
    first_bytes_text: str | None = None  # the same bytes decoded latin-1 (control chars kept)
    alert: str | None = None  # alert name when one ended the handshake
    alert_direction: str | None = None  # "received" | "sent"
    error: str | None = None  # OpenSSL's own words (for reference; findings explain)
    error_reason: str | None = None  # OpenSSL reason code, e.g. WRONG_VERSION_NUMBER
    verify_code: int | None = None
    verify_message: str | None = None
    # Read from the handshake messages' bytes (engine/tls/tlsfacts.py):
    group: str | None = None  # key exchange group: "x25519", "secp256r1", "DH 2048 bits"; None: RSA key transport
    signature_algorithm: str | None = None  # the server's handshake signature, e.g. "rsa_pss_rsae_sha256"
    server_extensions: tuple = ()  # tlsfacts.ServerExtension: what the server returned, and where
    peer_key: str | None = None  # the server certificate's key, e.g. "EC (secp256r1) 256 bits"
    client_cert_request: "ClientCertRequest | None" = None  # when the server asked for a certificate
    hello_retry_group: str | None = None  # the group a HelloRetryRequest asked for (TLS 1.3)
    key_exchange: str | None = None  # "ECDHE", "DHE", "RSA" (from the suite); "(EC)DHE" in TLS 1.3
    client_hello: "HelloFingerprint | None" = None  # JA3 and JA4 of the (first) ClientHello sent

    def to_dict(self) -> dict:
        return plain(self)


class KeyExchangeDetail(NamedTuple):
    """--groups/--pq: what the server did with the groups a hand-built TLS 1.3 hello offered."""

    offered: tuple[str, ...]  # supported_groups, in our order
    shared: tuple[str, ...]  # the groups the first hello carried a key share for
    outcome: str  # finished | alert | failed | closed | timeout | unreachable | cancelled | not-tls13
    selected: str | None = None  # the group of the server's key share
    hello_retry: str | None = None  # the group a HelloRetryRequest asked for
    server_share_bytes: int | None = None
    decrypted: bool = False  # EncryptedExtensions decrypted with the keys from that share's secret
    suite: str | None = None
    signature: str | None = None  # the CertificateVerify's scheme
    signature_problem: str | None = None  # None when it verifies with the leaf's key
    finished_ok: bool | None = None
    alert: str | None = None  # an alert the server sent instead
    reason: str | None = None  # why it ended early, in words
    hello_bytes: tuple[int, ...] = ()  # each ClientHello record sent
    mss: int | None = None  # tcpi_snd_mss of that connection
    # After no answer to a large hello: the small hello tried over the same route, and whether it was answered
    small_hello_bytes: int | None = None
    small_answered: bool | None = None

    def to_dict(self) -> dict:
        return plain(self)


class CertInfo(NamedTuple):
    position: int  # 0 = leaf, as sent by the peer
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: str  # ISO 8601 UTC
    not_after: str
    days_left: int
    serial: str  # hex
    key_type: str  # "RSA" | "EC" | "Ed25519" | ...
    key_bits: int | None
    signature_algorithm: str
    sha256: str  # colon-separated hex
    is_ca: bool
    self_signed: bool
    verified: bool | None = None  # part of the verified chain (None when not checked)
    status: str = ""  # "ok" | "expired" | "not yet valid" | "untrusted" | ...
    pem: str = ""
    sent: bool = True  # the peer sent it (in the verified path: False for what came from the trust store)
    anchor: bool = False  # the trust anchor the verified path ends at
    pin_sha256: str = ""  # the key as curl's --pinnedpubkey takes it: "sha256//" + base64(SHA-256(SPKI DER))

    def to_dict(self) -> dict:
        return plain(self)

    @property
    def lifetime(self) -> str:
        """'N days left', or 'expired N days ago' (days_left is negative then)."""
        return lifetime_words(self.days_left)


def whole_days_left(seconds_left: float) -> int:
    """Whole days until a certificate ends, truncated toward zero; once it has ended, minus the whole
    days since then (at least 1). The one rule for every place that counts them: a certificate that
    ended 30 days and 5 hours ago is -30 ("expired 30 days ago"), never -31."""
    days = int(seconds_left / 86400)
    return days if seconds_left >= 0 else -max(1, -days)


def lifetime_words(days_left: int) -> str:
    """'12 days left', '1 day left', 'expired 30 days ago' from whole_days_left()'s count."""
    count = abs(days_left)
    unit = "day" if count == 1 else "days"
    return f"expired {count} {unit} ago" if days_left < 0 else f"{count} {unit} left"


class ChainDetail(NamedTuple):
    certificates: tuple[CertInfo, ...] = ()
    verified: bool | None = None
    verify_code: int | None = None
    verify_message: str | None = None
    hostname: str | None = None  # the name checked against the leaf
    hostname_match: bool | None = None
    trust_source: str = "system"  # system | cafile PATH | off
    # The path OpenSSL built and verified, leaf first, ending at the trust anchor (empty unless verified)
    verified_path: tuple[CertInfo, ...] = ()
    anchor_source: str | None = None  # where the anchor came from: "CA file PATH" | "system store (PATH)"
    scts: tuple = ()  # ct.Sct: the leaf's embedded Signed Certificate Timestamps

    def to_dict(self) -> dict:
        return plain(self)


class ProxyTlsDetail(NamedTuple):
    """TLS to an HTTPS proxy: the handshake and the proxy's own certificate chain."""

    proxy: str  # HOST:PORT
    tls: TlsDetail
    chain: "ChainDetail | None" = None
    messages: tuple = ()  # result.TlsMessage records of this handshake

    def to_dict(self) -> dict:
        return {"proxy": self.proxy, "tls": self.tls.to_dict(),
                "chain": self.chain.to_dict() if self.chain else None,
                "messages": [m.to_dict() for m in self.messages]}


class AppDetail(NamedTuple):
    mode: str  # "http" | "send"
    request: str  # what was sent (text)
    status_line: str | None = None
    first_bytes_text: str | None = None
    first_bytes_hex: str | None = None
    ttfb_ms: float | None = None  # time to first byte after the request was sent
    bytes_received: int = 0
    error: str | None = None
    protocol: str = "none"  # "http/1.1" | "h2" for a request (h2 when ALPN chose it); "text" for --send
    status: int | None = None  # the response's status code
    headers: tuple[tuple[str, str], ...] = ()  # h2: the response's header fields, as received
    frames: "tuple[H2Frame, ...]" = ()  # h2: every frame both ways, with its time
    race: "RaceDetail | None" = None  # --http3: the QUIC and TCP attempts, and which one carried the request

    def to_dict(self) -> dict:
        return plain(self)


class RaceDetail(NamedTuple):
    """--http3: the two attempts placed on one timeline, QUIC first and TCP+TLS `head_start_ms` behind."""

    winner: str  # "quic" | "tcp" | "none"
    head_start_ms: float
    quic_ms: float | None = None  # QUIC: Initial sent to handshake done (None: it did not complete)
    tcp_ms: float | None = None  # TCP connect plus TLS handshake (None: they did not complete)
    quic_result: str = ""  # "handshake done", or what ended it
    alt_svc: str | None = None  # the Alt-Svc header the TCP response carried, as received
    reason: str = ""  # why the winner won, in words

    def to_dict(self) -> dict:
        return plain(self)


class QuicDetail(NamedTuple):
    """The quic stage: one QUIC handshake over UDP (aioquic), on tlsbench's clock."""

    peer_address: str
    peer_port: int
    attempt: str  # "race" (--http3, beside TCP) | "only" (--http3-only)
    local_address: str | None = None
    local_port: int | None = None
    alpn_offered: tuple[str, ...] = ("h3",)
    version: str | None = None  # the QUIC version spoken: "QUICv1"
    alpn: str | None = None
    initial_sent_ms: float | None = None  # since the run began
    first_packet_ms: float | None = None  # the first datagram from the server
    handshake_done_ms: float | None = None
    handshake_ms: float | None = None  # Initial sent to handshake done
    datagrams_sent: int = 0
    datagrams_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    tls: TlsDetail | None = None  # the TLS 1.3 inside QUIC: version, cipher, group, SNI, verification
    # "no-answer" | "stalled" (answered, then no handshake) | "icmp" | "version-negotiation" | "closed" | "socket" | "cert"
    failure: str | None = None
    error: str | None = None  # what ended it, in words
    errno_name: str | None = None
    close_code: int | None = None  # CONNECTION_CLOSE's error code
    close_name: str | None = None  # "CRYPTO_ERROR 0x178 (TLS alert no_application_protocol)"
    closed_by: str | None = None  # "peer" | "local"
    close_reason: str | None = None  # the frame's reason phrase, as received
    server_versions: tuple[str, ...] = ()  # a Version Negotiation packet's list

    def to_dict(self) -> dict:
        return plain(self)


class DohQuery(NamedTuple):
    """One DNS query of a DNS-over-HTTPS lookup: its HTTP/2 stream and what came back on it."""

    stream_id: int
    sent_ms: float  # when the query's last byte was sent, ms since the run began
    ms: float | None  # from sent to its answer's last frame (or to giving up)
    query_bytes: int
    status: int | None = None  # the HTTP status
    content_type: str | None = None  # as received
    answer: bytes = b""  # the response body as received (a DNS message when all is well)
    error: str | None = None  # why this query has no usable answer

    def to_dict(self) -> dict:
        d = plain(self._replace(answer=b""))
        del d["answer"]
        d["answer_bytes"] = len(self.answer)
        return d


class DohDetail(NamedTuple):
    """The doh stage (inside the resolve stage's lookup): the DNS queries as HTTP/2 POSTs on one
    connection to the DoH server, each with its answer, and every frame both ways."""

    url: str  # the DoH server's URL (never holds credentials: they are refused)
    queries: tuple[DohQuery, ...] = ()
    protocol: str | None = None  # what ALPN chose; DoH is spoken over "h2" only
    frames: "tuple[H2Frame, ...]" = ()
    error: str | None = None  # the connection's: "timeout", "closed", GOAWAY ..., what h2 refused

    def to_dict(self) -> dict:
        return {"url": self.url, "protocol": self.protocol, "queries": [q.to_dict() for q in self.queries],
                "frames": plain(self.frames), "error": self.error}


class ReconnectDetail(NamedTuple):
    """--reconnect: the second connection, offering the first one's session."""

    offered: str | None  # "ticket" | "session ID" | None (the server gave nothing to resume)
    resumed: bool | None  # None: not tried (nothing to offer, or the connection failed)
    tickets: int = 0  # NewSessionTicket messages the first connection received
    ticket_lifetime_s: int | None = None  # the (first) ticket's lifetime hint
    first_handshake_ms: float | None = None
    resumed_handshake_ms: float | None = None  # the second handshake, resumed or not
    faster_pct: float | None = None  # how much shorter the second handshake was, in %
    connect_ms: float | None = None  # the second connection's TCP connect (and proxies)
    version: str | None = None
    cipher: str | None = None
    psk: bool = False  # TLS 1.3: the ServerHello accepted a pre-shared key
    error: str | None = None
    tls: "TlsDetail | None" = None  # the second handshake's detail
    messages: tuple = ()  # result.TlsMessage records of the second handshake

    def to_dict(self) -> dict:
        d = plain(self._replace(messages=()))
        d["messages"] = [m.to_dict() for m in self.messages]
        return d


class RevocationCheck(NamedTuple):
    """One source's answer about the leaf: its OCSP responder or a CRL distribution point."""

    method: str  # "ocsp" | "crl"
    url: str
    status: str  # good | revoked | unknown | unreachable
    reason: str | None = None  # revoked: the CRL/OCSP reason (keyCompromise, ...); else why unknown/unreachable
    revoked_at: str | None = None  # ISO 8601 UTC
    this_update: str | None = None
    next_update: str | None = None
    produced_at: str | None = None  # OCSP
    signed_by: str | None = None  # who signed the answer, and whether the signature verified
    http_status: str | None = None  # the responder's HTTP status line
    duration_ms: float | None = None
    answer: str | None = None  # the responder's answer in words (the evidence)

    def to_dict(self) -> dict:
        return plain(self)


class RevocationDetail(NamedTuple):
    status: str  # good | revoked | unknown | unreachable | no-source
    checks: tuple[RevocationCheck, ...] = ()
    leaf: str | None = None  # the leaf's subject
    serial: str | None = None
    issuer: str | None = None  # the issuer used for the request and to check signatures
    not_checked: tuple[str, ...] = ()  # sources named but not asked (e.g. https:// or ldap:// URLs)
    # The server's stapled OCSP response (a TLS 1.2 status_request, or the TLS 1.3 Certificate's): status
    # "none" when it sent none, "unreachable" when no first flight came; otherwise read like a responder's answer.
    stapled: RevocationCheck | None = None

    def to_dict(self) -> dict:
        return plain(self)


StageDetail = Union[ResolveDetail, TcpDetail, ProxyDetail, ProxyTlsDetail, TlsDetail, ChainDetail, AppDetail, QuicDetail]

"""The outcome of a run: stage records, the socket, TLS facts, the chain and the findings.

`ProbeResult.to_json_dict()` is the JSON contract of `tlsbench probe --json` (docs/json.md).
"""


from typing import TYPE_CHECKING, Any, NamedTuple

from tlsbench.engine.records.details import ChainDetail, StageDetail, TlsDetail
from tlsbench.engine.findings.model import Finding

if TYPE_CHECKING:
    from tlsbench.engine.tls.tlspump import CloseInfo

SCHEMA = 3  # the version of the JSON contract (docs/json.md)


class TcpInfo(NamedTuple):
    """A TCP_INFO snapshot (Linux). Times in milliseconds."""

    state: int
    rtt_ms: float
    rttvar_ms: float
    rto_ms: float
    retransmits: int  # tcpi_retransmits: current consecutive retransmits
    total_retrans: int  # tcpi_total_retrans
    lost: int
    snd_mss: int
    rcv_mss: int

    def to_dict(self) -> dict:
        return self._asdict()


class SocketInfo(NamedTuple):
    local_address: str | None = None
    local_port: int | None = None  # the ephemeral port
    peer_address: str | None = None
    peer_port: int | None = None
    family: str | None = None  # "IPv4" | "IPv6"
    via_proxy: bool = False  # the peer is the proxy, not the target
    ephemeral_range: tuple[int, int] | None = None
    tcp_info: TcpInfo | None = None

    def to_dict(self) -> dict:
        return {
            "local_address": self.local_address,
            "local_port": self.local_port,
            "peer_address": self.peer_address,
            "peer_port": self.peer_port,
            "family": self.family,
            "via_proxy": self.via_proxy,
            "ephemeral_range": list(self.ephemeral_range) if self.ephemeral_range else None,
            "tcp_info": self.tcp_info.to_dict() if self.tcp_info else None,
        }


class StageRecord(NamedTuple):
    name: str  # the stage kind: resolve | tcp | proxy-tls | proxy | tls | chain | app
    status: str  # ok | failed | skipped | cancelled
    started_ms: float  # since the run started: when its exchange on the wire began
    duration_ms: float  # the exchange on the wire only (local set-up is done before)
    detail: StageDetail | None = None
    summary: str = ""  # one line for a waterfall, e.g. "127.0.0.1 (IPv4)"
    key: str = ""  # unique in the run ("proxy#2"); the name when there is one of its kind
    index: int | None = None  # type: ignore[assignment]  # hides tuple.index; hop number of a proxy / proxy-tls stage
    local: bool = False  # no wire exchange: the time is tlsbench's own work
    peer: str | None = None  # the proxy it talked to (URL, no password)
    label: str = ""
    parent: str | None = None  # a nested stage: the path of the stage it ran in ("resolve"); None at the top

    @property
    def id(self) -> str:
        return self.key or self.name

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "index": self.index,
            "proxy": self.peer,
            "local": self.local,
            "status": self.status,
            "started_ms": round(self.started_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "summary": self.summary,
            "detail": self.detail.to_dict() if self.detail is not None else None,
        }


class TlsMessage(NamedTuple):
    at_ms: float
    direction: str  # sent | received
    content_type: str
    name: str
    version: str
    length: int
    stage: str = "tls"
    data: bytes = b""  # the message's bytes (a handshake message with its 4-byte header)

    def to_dict(self, include_bytes: bool = False) -> dict:
        d = self._asdict()
        d.pop("stage")
        data = d.pop("data")
        d["at_ms"] = round(self.at_ms, 3)
        if include_bytes:
            d["hex"] = data.hex()
        return d


class ProbeResult(NamedTuple):
    ok: bool
    target: str  # HOST:PORT as asked
    stages: tuple[StageRecord, ...]
    socket: SocketInfo
    tls: TlsDetail | None
    messages: tuple[TlsMessage, ...]
    chain: ChainDetail | None
    findings: tuple[Finding, ...]
    total_ms: float
    cancelled: bool = False
    spec_summary: dict | None = None  # the options used, for the record
    closing: "CloseInfo | None" = None  # how the TLS connection ended (None without TLS)
    tickets: int = 0  # session tickets received

    def stage(self, key: str) -> StageRecord | None:
        """The stage with this key ("tls", "proxy#2"), or the first of this kind ("proxy")."""
        return next((s for s in self.stages if s.id == key), None) or next(
            (s for s in self.stages if s.name == key), None)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def _resumption(self) -> dict | None:
        """--reconnect's answer (the reconnect stage's detail without its trace), or None."""
        record = self.stage("reconnect")
        detail = getattr(record, "detail", None)
        if detail is None:
            return None
        keep = ("offered", "resumed", "tickets", "ticket_lifetime_s", "first_handshake_ms", "resumed_handshake_ms",
                "faster_pct", "psk", "version", "cipher", "error")
        return {k: round(v, 3) if isinstance(v, float) else v for k in keep for v in (getattr(detail, k),)}

    def _key_exchange(self) -> dict:
        """The key exchange: OpenSSL's handshake's, or with --groups/--pq what the server did with the
        groups tlsbench's own TLS 1.3 hello offered (the key-exchange stage)."""
        assert self.tls is not None
        out: dict[str, Any] = {"method": self.tls.key_exchange, "offered": None, "selected": self.tls.group,
               "hello_retry": self.tls.hello_retry_group, "by": "openssl"}
        record = self.stage("key-exchange")
        detail = getattr(record, "detail", None)
        if detail is not None:
            out.update(offered=list(detail.offered), shared=list(detail.shared), selected=detail.selected,
                       hello_retry=detail.hello_retry, by="tlsbench", outcome=detail.outcome,
                       decrypted=detail.decrypted, server_share_bytes=detail.server_share_bytes,
                       hello_bytes=list(detail.hello_bytes), mss=detail.mss,
                       small_hello_bytes=detail.small_hello_bytes, small_answered=detail.small_answered)
        return out

    def _revocation(self) -> dict | None:
        """--check-revocation's answer (the revocation stage's detail), or None."""
        record = self.stage("revocation")
        detail = getattr(record, "detail", None)
        return detail.to_dict() if detail is not None else None

    def to_json_dict(self, include_bytes: bool = False) -> dict:
        """The JSON contract; `include_bytes` adds each TLS message's bytes ("hex")."""
        tls = None
        if self.tls is not None:
            tls = {
                "version": self.tls.version,
                "cipher": self.tls.cipher,
                "alpn": self.tls.alpn,
                "sni": self.tls.sni,
                "sni_sent": self.tls.sni_sent,
                "verified": self.tls.verified,
                "key_exchange": self._key_exchange(),
                "group": self.tls.group,
                "hello_retry_group": self.tls.hello_retry_group,
                "signature_algorithm": self.tls.signature_algorithm,
                "key": self.tls.peer_key,
                "extensions": [{"name": e.name, "id": e.id, "in": e.where} for e in self.tls.server_extensions],
                "client_certificate_request": (self.tls.client_cert_request.to_dict()
                                               if self.tls.client_cert_request is not None else None),
                "client_hello": self.tls.client_hello.to_dict() if self.tls.client_hello is not None else None,
                "session_tickets": self.tickets,
                "resumption": self._resumption(),
                "close": self.closing.to_dict() if self.closing is not None else None,
                "messages": [m.to_dict(include_bytes) for m in self.messages],
            }
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "target": self.target,
            "total_ms": round(self.total_ms, 3),
            "cancelled": self.cancelled,
            "options": self.spec_summary or {},
            "stages": [s.to_dict() for s in self.stages],
            "socket": self.socket.to_dict(),
            "tls": tls,
            "chain": [c.to_dict() for c in self.chain.certificates] if self.chain else [],
            "chain_verification": (
                {k: v for k, v in self.chain.to_dict().items() if k not in ("certificates", "verified_path", "scts")}
                if self.chain else None
            ),
            # The path OpenSSL verified, leaf first, up to the trust anchor (its last entry, "anchor": true)
            "chain_verified": [c.to_dict() for c in self.chain.verified_path] if self.chain else [],
            # The leaf's embedded Signed Certificate Timestamps (certificate transparency)
            "certificate_transparency": ({"embedded_scts": len(self.chain.scts),
                                          "scts": [s._asdict() for s in self.chain.scts]}
                                         if self.chain and self.chain.certificates else None),
            "revocation": self._revocation(),
            "findings": [f.to_dict() for f in self.findings],
        }

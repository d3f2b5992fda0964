"""The outcome of a run: stage records, the socket, TLS facts, the chain and the findings.

`ProbeResult.to_json_dict()` is the JSON contract of `tlsbench probe --json` (see README).
"""


from typing import NamedTuple

from tlsbench.engine.details import ChainDetail, StageDetail, TlsDetail
from tlsbench.engine.findings import Finding

SCHEMA = 2  # the version of the JSON contract (README: "The JSON contract")


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
    index: int | None = None  # hop number of a proxy / proxy-tls stage
    local: bool = False  # no wire exchange: the time is tlsbench's own work
    peer: str | None = None  # the proxy it talked to (URL, no password)
    label: str = ""

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

    def to_dict(self) -> dict:
        d = self._asdict()
        d.pop("stage")
        d["at_ms"] = round(self.at_ms, 3)
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
    closing: object | None = None  # tlspump.CloseInfo: how the TLS connection ended (None without TLS)
    tickets: int = 0  # session tickets received

    def stage(self, key: str) -> StageRecord | None:
        """The stage with this key ("tls", "proxy#2"), or the first of this kind ("proxy")."""
        return next((s for s in self.stages if s.id == key), None) or next(
            (s for s in self.stages if s.name == key), None)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_json_dict(self) -> dict:
        tls = None
        if self.tls is not None:
            tls = {
                "version": self.tls.version,
                "cipher": self.tls.cipher,
                "alpn": self.tls.alpn,
                "sni": self.tls.sni,
                "sni_sent": self.tls.sni_sent,
                "verified": self.tls.verified,
                "session_tickets": self.tickets,
                "close": self.closing.to_dict() if self.closing is not None else None,
                "messages": [m.to_dict() for m in self.messages],
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
                {k: v for k, v in self.chain.to_dict().items() if k != "certificates"} if self.chain else None
            ),
            "findings": [f.to_dict() for f in self.findings],
        }

"""Typed, immutable events the listener emits; each has `to_dict()` with an "event" field.

(`to_dict` copies `vars(self)`: `dataclasses.asdict` deep-copies, and cost a tenth of a
millisecond per handshake at a few hundred handshakes a second.)

Times are milliseconds since the listener started (monotonic clock). Text that came from a
client (SNI, ALPN names, bytes) is kept as received; front-ends make it visible on display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from tlsbench.engine.findings.model import Finding


@dataclass(frozen=True)
class Listening:
    address: str
    port: int
    backlog: int  # what was asked
    effective_backlog: int | None  # what the kernel applies (TCP_INFO tcpi_sacked)
    somaxconn: int | None
    tls: bool
    paused: bool = False
    at_ms: float = 0.0
    open_files_limit: int | None = None  # RLIMIT_NOFILE in force: one descriptor per client

    def to_dict(self) -> dict:
        return {"event": "listening", **vars(self)}


@dataclass(frozen=True)
class QueueChanged:
    """The kernel's accept queue for the listening socket changed length."""

    length: int
    backlog: int | None
    paused: bool = False
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "queue", **vars(self)}


@dataclass(frozen=True)
class PauseChanged:
    paused: bool
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "paused" if self.paused else "resumed", "at_ms": self.at_ms}


@dataclass(frozen=True)
class Accepted:
    client_id: int
    peer_address: str
    peer_port: int  # the client's ephemeral port
    local_address: str
    local_port: int
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "accepted", **vars(self)}


@dataclass(frozen=True)
class ClientHelloSeen:
    client_id: int
    sni: str | None
    alpn: tuple[str, ...]
    versions: tuple[str, ...]  # offered, e.g. ("TLS 1.3", "TLS 1.2"); () when not reached
    cipher_count: int
    legacy_version: str = ""
    complete: bool = True  # False when the ClientHello was cut short or did not parse
    at_ms: float = 0.0
    length: int = 0  # bytes of the ClientHello message that arrived
    declared_length: int | None = None  # its length as its header declares it (None: not arrived)
    records: int = 0  # TLS records it arrived in
    extensions: tuple[str, ...] = ()  # extension names, in the client's order
    problem: str | None = None  # what did not parse, in words
    ciphers_reached: bool = True  # False: the hello was cut short inside (or before) its cipher list
    # Fingerprints of a whole ClientHello (engine/tls/fingerprint.py); None when it was not whole
    ja3: str | None = None
    ja3_hash: str | None = None
    ja4: str | None = None
    ja4_r: str | None = None

    @property
    def cut_short(self) -> bool:
        """Fewer bytes arrived than the hello declares: what it lacks (SNI, ALPN) is unknown, not absent."""
        return not self.complete and (self.declared_length is None or self.length < self.declared_length)

    def to_dict(self) -> dict:
        d = dict(vars(self))
        d["alpn"], d["versions"], d["extensions"] = list(self.alpn), list(self.versions), list(self.extensions)
        return {"event": "client-hello", **d}


@dataclass(frozen=True)
class HandshakeDone:
    client_id: int
    ok: bool
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    duration_ms: float = 0.0
    failure: str | None = None  # what went wrong, in words
    alert: str | None = None  # the alert the client sent, e.g. "unknown_ca"
    client_cert_subject: str | None = None
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "handshake", **vars(self)}


@dataclass(frozen=True)
class ProxyHeaderSeen:
    """The client started with a PROXY protocol header: the addresses it says the real client and
    server have (a balancer in front speaking for them; nothing checks that they are true)."""

    client_id: int
    family: str  # "TCP4" | "TCP6" | "UNKNOWN"
    source: tuple[str, int] | None
    destination: tuple[str, int] | None
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "proxy-header", **vars(self)}


@dataclass(frozen=True)
class DataReceived:
    """The first bytes a client sent (application data after TLS, or raw on a plain port)."""

    client_id: int
    data: bytes = field(repr=False)
    truncated: bool = False  # more arrived than is kept here
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "data", "client_id": self.client_id, "length": len(self.data),
                "hex": self.data.hex(), "text": self.data.decode("latin-1"),
                "truncated": self.truncated, "at_ms": self.at_ms}


@dataclass(frozen=True)
class ClientFinding:
    client_id: int | None
    finding: Finding
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "finding", "client_id": self.client_id, **self.finding.to_dict(), "at_ms": self.at_ms}


@dataclass(frozen=True)
class Closed:
    client_id: int
    bytes_received: int
    bytes_sent: int
    duration_ms: float
    reason: str = ""  # e.g. "the client closed cleanly (close_notify)", "idle deadline: ..."
    at_ms: float = 0.0
    deadline: str | None = None  # the deadline that ended it: idle, handshake, total, write
    client_close: str | None = None  # how the client closed: close_notify, eof, reset (None: it did not)

    def to_dict(self) -> dict:
        return {"event": "closed", **vars(self)}


@dataclass(frozen=True)
class Stopped:
    clients_served: int
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "stopped", **vars(self)}


@dataclass(frozen=True)
class ListenerError:
    """Something went wrong on the listener's side (not a client's doing)."""

    message: str
    client_id: int | None = None
    at_ms: float = 0.0
    code: str | None = None  # e.g. "descriptors-exhausted"

    def to_dict(self) -> dict:
        return {"event": "error", **vars(self)}


@dataclass(frozen=True)
class Notice:
    """Something the listener did on its own that the user should know (not an error)."""

    message: str
    code: str | None = None  # e.g. "accepting-again"
    at_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"event": "notice", **vars(self)}


ListenerEvent = Union[Listening, QueueChanged, PauseChanged, Accepted, ProxyHeaderSeen, ClientHelloSeen,
                      HandshakeDone, DataReceived, ClientFinding, Closed, Stopped, ListenerError, Notice]

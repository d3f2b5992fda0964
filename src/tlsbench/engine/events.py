"""Typed, immutable events the engine emits while a connection runs.

Front-ends (the CLI waterfall, the JSON writer, the TUI) consume only these. Times are
milliseconds since the run started (monotonic clock). Every event is an immutable typed
record (a NamedTuple) whose name says what already happened.
"""


from typing import Literal, NamedTuple, Union

from tlsbench.engine.details import StageDetail
from tlsbench.engine.findings import Finding
from tlsbench.engine.result import ProbeResult, SocketInfo, StageRecord

StageName = Literal["resolve", "tcp", "proxy", "tls", "chain", "app"]
STAGES: tuple[str, ...] = ("resolve", "tcp", "proxy", "tls", "chain", "app")


class StageStarted(NamedTuple):
    stage: StageName
    at_ms: float
    # What is being attempted, in words, e.g. "connecting to 127.0.0.1:443" (data, not markup).
    doing: str = ""


class TlsMessageSeen(NamedTuple):
    """One TLS handshake message, alert or ChangeCipherSpec, in either direction."""

    at_ms: float
    direction: Literal["sent", "received"]
    content_type: str  # "handshake" | "alert" | "change_cipher_spec" | "application_data"
    name: str  # "ClientHello", "ServerHello", "Certificate", "alert: unrecognized_name", ...
    version: str  # record/protocol version as reported, e.g. "TLS 1.2"
    length: int  # bytes of the message body


class SocketUpdated(NamedTuple):
    """The socket's addresses or TCP_INFO changed (after connect, after each stage)."""

    at_ms: float
    socket: SocketInfo


class StageFinished(NamedTuple):
    record: StageRecord


class StageSkipped(NamedTuple):
    stage: StageName
    reason: str


class FindingRaised(NamedTuple):
    finding: Finding


class RunFinished(NamedTuple):
    result: ProbeResult


Event = Union[StageStarted, TlsMessageSeen, SocketUpdated, StageFinished, StageSkipped, FindingRaised, RunFinished]

__all__ = [
    "STAGES", "StageName", "StageStarted", "TlsMessageSeen", "SocketUpdated", "StageFinished",
    "StageSkipped", "FindingRaised", "RunFinished", "Event", "StageDetail",
]

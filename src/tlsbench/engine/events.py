"""Typed, immutable events the engine emits while a connection runs.

Front-ends (the CLI waterfall, the JSON writer, the TUI) consume only these. Times are
milliseconds since the run started (monotonic clock). Every event is a frozen dataclass
whose name says what already happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from tlsbench.engine.details import StageDetail
from tlsbench.engine.findings import Finding
from tlsbench.engine.result import ProbeResult, SocketInfo, StageRecord

StageName = Literal["resolve", "tcp", "proxy", "tls", "chain", "app"]
STAGES: tuple[str, ...] = ("resolve", "tcp", "proxy", "tls", "chain", "app")


@dataclass(frozen=True)
class StageStarted:
    stage: StageName
    at_ms: float
    # What is being attempted, in words, e.g. "connecting to 127.0.0.1:443" (data, not markup).
    doing: str = ""


@dataclass(frozen=True)
class TlsMessageSeen:
    """One TLS handshake message, alert or ChangeCipherSpec, in either direction."""

    at_ms: float
    direction: Literal["sent", "received"]
    content_type: str  # "handshake" | "alert" | "change_cipher_spec" | "application_data"
    name: str  # "ClientHello", "ServerHello", "Certificate", "alert: unrecognized_name", ...
    version: str  # record/protocol version as reported, e.g. "TLS 1.2"
    length: int  # bytes of the message body


@dataclass(frozen=True)
class SocketUpdated:
    """The socket's addresses or TCP_INFO changed (after connect, after each stage)."""

    at_ms: float
    socket: SocketInfo


@dataclass(frozen=True)
class StageFinished:
    record: StageRecord


@dataclass(frozen=True)
class StageSkipped:
    stage: StageName
    reason: str


@dataclass(frozen=True)
class FindingRaised:
    finding: Finding


@dataclass(frozen=True)
class RunFinished:
    result: ProbeResult


Event = Union[StageStarted, TlsMessageSeen, SocketUpdated, StageFinished, StageSkipped, FindingRaised, RunFinished]

__all__ = [
    "STAGES", "StageName", "StageStarted", "TlsMessageSeen", "SocketUpdated", "StageFinished",
    "StageSkipped", "FindingRaised", "RunFinished", "Event", "StageDetail",
]

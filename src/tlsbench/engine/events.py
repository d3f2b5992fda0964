"""Typed, immutable events the engine emits while a connection runs.

Front-ends (the CLI waterfall, the JSON writer, the TUI) consume only these. Times are
milliseconds since the run started (monotonic clock). Every event is an immutable typed
record (a NamedTuple) whose name says what already happened.
"""


from typing import Literal, NamedTuple, Union

from tlsbench.engine.records.details import StageDetail
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.records.result import ProbeResult, SocketInfo, StageRecord

class StepInfo(NamedTuple):
    """One step of the plan as front-ends see it (no secrets): what row to draw."""

    key: str  # unique in the run: "tls", "proxy#2"
    name: str  # the stage kind's JSON name: "proxy"
    label: str  # "tls handshake", "proxy 2"
    index: int | None = None  # type: ignore[assignment]  # hides tuple.index; the hop number of a proxy or proxy-tls step
    doing: str = ""
    skip: str | None = None  # the plan skips it, and why
    local: bool = False  # no wire exchange in this stage
    peer: str | None = None  # the proxy it talks to, as a URL without password


class PlanReady(NamedTuple):
    """The first event of a run: every stage it will show, in order."""

    steps: tuple[StepInfo, ...]


class StageStarted(NamedTuple):
    stage: str  # the step's key
    at_ms: float
    # What is being attempted, in words, e.g. "connecting to 127.0.0.1:443" (data, not markup).
    doing: str = ""
    parent: str | None = None  # a nested stage: the path of the stage it runs in ("resolve"); None at the top


class TlsMessageSeen(NamedTuple):
    """One TLS handshake message, alert or ChangeCipherSpec, in either direction."""

    at_ms: float
    direction: Literal["sent", "received"]
    content_type: str  # "handshake" | "alert" | "change_cipher_spec" | "application_data"
    name: str  # "ClientHello", "ServerHello", "Certificate", "alert: unrecognized_name", ...
    version: str  # record/protocol version as reported, e.g. "TLS 1.2"
    length: int  # bytes of the message body
    stage: str = "tls"  # the step's key: "tls", or "proxy-tls" for TLS to an HTTPS proxy
    parent: str | None = None  # in a nested stage: the path of the stage it runs in


class SocketUpdated(NamedTuple):
    """The socket's addresses or TCP_INFO changed (after connect, after each stage)."""

    at_ms: float
    socket: SocketInfo


class StageFinished(NamedTuple):
    record: StageRecord


class StageSkipped(NamedTuple):
    stage: str  # the step's key
    reason: str
    parent: str | None = None  # in a nested plan: the path of the stage it runs in


class FindingRaised(NamedTuple):
    finding: Finding


class RunFinished(NamedTuple):
    result: ProbeResult


Event = Union[PlanReady, StageStarted, TlsMessageSeen, SocketUpdated, StageFinished, StageSkipped, FindingRaised, RunFinished]


def nested_in(parent: str, event: Event) -> Event:
    """The event of a stage nested in `parent` (a stage's path): stamped with it, unless a deeper
    level already did."""
    if isinstance(event, (StageStarted, TlsMessageSeen, StageSkipped)) and event.parent is None:
        return event._replace(parent=parent)
    if isinstance(event, StageFinished) and event.record.parent is None:
        return StageFinished(event.record._replace(parent=parent))
    return event

__all__ = [
    "StepInfo", "PlanReady", "StageStarted", "TlsMessageSeen", "SocketUpdated", "StageFinished",
    "StageSkipped", "FindingRaised", "RunFinished", "Event", "StageDetail", "nested_in",
]

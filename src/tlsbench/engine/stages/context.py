"""What every stage gets: the spec, a clock, an event sink, the cancel token, and the run's state.

A stage's clock covers only its exchange on the wire: the stage calls `ctx.begin()` right before
its first byte (or connect, or lookup) and `ctx.end()` right after its last; what it does before
(choosing, building) and after (parsing, diagnosing) is not the network's time.

A stage may run a whole plan of its own inside it (a lookup's own connection): that plan's stages
get a context `nested()` under the stage's, on the same clock, and their events name the stage
they run in (`parent`). The contract as a whole is described in stages/contract.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.events import Event, nested_in
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.records.result import SocketInfo
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.stages.shared import StageOutcome

if TYPE_CHECKING:
    from tlsbench.engine.records.details import ChainDetail, HttpsRecord
    from tlsbench.engine.hops.starttls import Handoff
    from tlsbench.engine.stages.quic import QuicAttempt
    from tlsbench.engine.stages.resolve import Route
    from tlsbench.engine.stages.shared import TlsOutcome
    from tlsbench.engine.stream import Datagrams, Link, Stream
    from tlsbench.engine.tls.tlspump import CloseInfo

__all__ = ["RunState", "StageContext", "StageOutcome"]


@dataclass(eq=False)
class RunState:
    """What stages leave for the ones after them (mutable, one per run or nested run, one thread).

    Every hand-off between stages is a field here, typed: a stage that needs a new one adds it.
    """

    plan: Plan
    route: Route | None = None
    link: Link | None = None  # the socket, its deadline and cancel token
    stream: Stream | None = None  # the byte stream the next stage talks through (TCP, a tunnel, TLS)
    datagrams: Datagrams | None = None  # the datagram socket a datagram-transport stage talks through
    tls: TlsOutcome | None = None  # the target's handshake (--http3-only: the one inside QUIC)
    quic: QuicAttempt | None = None  # --http3: the QUIC attempt, its session open when it connected
    chain: ChainDetail | None = None
    socket_info: SocketInfo = field(init=False)
    # Hand-offs between particular stages:
    tcp_connect_ms: float | None = None  # the tcp stage's connect time (the tls stage tells a queued accept by it)
    https_record: HttpsRecord | None = None  # the target's HTTPS DNS record, when tlsbench's own queries saw one
    starttls: Handoff | None = None  # what the starttls stage agreed, for the tls and app stages
    # A hop before the handshake may know better what a failed one means (plaintext after STARTTLS).
    tls_review: Callable[[StageOutcome], StageOutcome] | None = None
    # A stage that closed the connection itself (reconnect, revocation) leaves how it ended; the
    # runner reports that rather than closing again.
    closed: bool = False
    closing: CloseInfo | None = None

    def __post_init__(self) -> None:
        self.socket_info = SocketInfo(via_proxy=bool(self.plan.spec.proxies))

    @property
    def spec(self) -> ConnectionSpec:
        return self.plan.spec

    # For stages that run only once an earlier one left what they need (the plan orders them so;
    # the runner turns a broken order into an internal-error finding).
    def need_route(self) -> Route:
        """The route the resolve stage found."""
        if self.route is None:
            raise RuntimeError("no route: the resolve stage has not run")
        return self.route

    def need_stream(self) -> Stream:
        """The stream the stages before left to talk through."""
        if self.stream is None:
            raise RuntimeError("no stream: no stage before this one connected")
        return self.stream

    def need_tls(self) -> TlsOutcome:
        """The target's handshake."""
        if self.tls is None:
            raise RuntimeError("no handshake: the tls stage has not run")
        return self.tls


class StageContext:
    def __init__(self, spec: ConnectionSpec, emit: Callable[[Event], None], cancel: CancelToken,
                 started: float | None = None, state: RunState | None = None, parent: str | None = None,
                 listening: bool = True) -> None:
        self.spec = spec
        self.emit = emit
        # False when no one takes the events (a run of `--count`): a stage may then skip building
        # those that only report progress, as long as its records are the same.
        self.listening = listening
        self.cancel = cancel
        self.started = time.monotonic() if started is None else started
        self.state = state
        self.parent = parent  # the path of the stage this one runs inside ("resolve"), None at the top
        self.step: Step | None = None
        self.wire_start: float | None = None
        self.wire_end: float | None = None

    @property
    def path(self) -> str:
        """The stage in flight, named from the top: "tls", or "resolve/tls" inside the resolve stage."""
        key = self.step.key if self.step is not None else ""
        return f"{self.parent}/{key}" if self.parent else key

    def nested(self, spec: ConnectionSpec, state: RunState | None = None) -> StageContext:
        """A context for stages run inside the one in flight: the same clock and cancel token, and
        a sink that stamps their events with this stage's path (`parent`)."""
        path, emit = self.path, self.emit

        def stamped(event: Event) -> None:
            emit(nested_in(path, event))

        return StageContext(spec, stamped, self.cancel, started=self.started, state=state, parent=path,
                            listening=self.listening)

    def now_ms(self) -> float:
        """Milliseconds since the run started."""
        return (time.monotonic() - self.started) * 1000.0

    def enter(self, step: Step) -> None:
        self.step = step
        self.wire_start = self.wire_end = None

    def begin(self) -> None:
        """The stage's exchange on the wire starts now (the first call counts)."""
        if self.wire_start is None:
            self.wire_start = self.now_ms()

    def end(self) -> None:
        """The stage's exchange on the wire is over (the last call counts)."""
        self.wire_end = self.now_ms()

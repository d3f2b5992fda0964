"""What every stage gets: the spec, a clock, an event sink, the cancel token, and the run's state.

A stage's clock covers only its exchange on the wire: the stage calls `ctx.begin()` right before
its first byte (or connect, or lookup) and `ctx.end()` right after its last; what it does before
(choosing, building) and after (parsing, diagnosing) is not the network's time.
"""


import time
from typing import TYPE_CHECKING, Callable, NamedTuple

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.events import Event
from tlsbench.engine.findings import Finding
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.result import SocketInfo
from tlsbench.engine.spec import ConnectionSpec

if TYPE_CHECKING:
    from tlsbench.engine.details import ChainDetail
    from tlsbench.engine.stages.resolve import Route
    from tlsbench.engine.stages.tls import TlsOutcome
    from tlsbench.engine.stream import Link, Stream


class StageOutcome(NamedTuple):
    """What a stage returns to the runner: ok or not, its detail, findings, a one-line summary."""

    ok: bool
    detail: object
    summary: str = ""
    findings: tuple[Finding, ...] = ()


class RunState:
    """What stages leave for the ones after them (mutable, one per run, one thread)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.spec = plan.spec
        self.route: Route | None = None
        self.link: Link | None = None  # the socket, its deadline and cancel token
        self.stream: Stream | None = None  # the stream the next stage talks through
        self.tls: TlsOutcome | None = None  # the target's handshake
        self.chain: ChainDetail | None = None
        self.socket_info = SocketInfo(via_proxy=bool(plan.spec.proxies))
        self.extra: dict = {}  # per-kind hand-offs that no other stage reads


class StageContext:
    def __init__(self, spec: ConnectionSpec, emit: Callable[[Event], None], cancel: CancelToken,
                 started: float | None = None, state: RunState | None = None) -> None:
        self.spec = spec
        self.emit = emit
        self.cancel = cancel
        self.started = time.monotonic() if started is None else started
        self.state = state
        self.step: Step | None = None
        self.wire_start: float | None = None
        self.wire_end: float | None = None

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

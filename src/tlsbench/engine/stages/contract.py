"""The stage contract: what a stage is, how the runner finds, prepares and runs one, and how stages
nest.

A *stage kind* is declared once, in plan.py's `KINDS` table: its JSON name, its label, whether
it touches the wire, the transport it talks over, and where its code lives ("module:Class"). The
table holds names, not classes, so that front-ends can draw a plan's rows without importing ssl
or sockets; `stage_factory(kind)` is the one loader that turns the name into the class.

A *stage* is an object made from `(step, plan)` before any clock starts (imports, SSL contexts
and CA files loaded then: a stage's time is its exchange on the wire), then run once or more:

    class TcpStage:
        def __init__(self, step: Step, plan: Plan) -> None: ...        # local set-up only
        def run(self, ctx: StageContext, state: RunState) -> StageOutcome: ...

`run` reads what earlier stages left in `state` (a RunState: the route, the link, the stream,
the handshake, ... each a typed field; `state.need_stream()` and its kin for what the plan's order
guarantees) and leaves its own there; a new hand-off is a new field. It calls `ctx.begin()` and
`ctx.end()` around its exchange on the wire, emits events through `ctx.emit` (TlsMessageSeen as
messages cross), and returns a StageOutcome (ok, detail, summary, findings). It raises
`Cancelled` when the run is cancelled; any other exception becomes an `internal-error` finding.
Two hooks are optional: `doing(state) -> str` words the stage's row once earlier stages have
run (`DescribesItself`), and `runs_after(state, failed) -> bool` lets a stage run after an
earlier one failed (`RunsAfterFailure`: the chain stage explains a failed handshake).

*Transports.* A kind's `transport` is "stream" (it talks through `state.stream`, a byte stream:
TCP, a proxy's tunnel, TLS over either) or "datagram" (through `state.datagrams`, whole
datagrams: QUIC; stream.DatagramSocket over a connected UDP socket). Both sit on a `Link`, so
deadlines, cancelling and the per-stage transcript are the same; the runner resets both for each
stage and closes both at the end of the run.

*Nesting.* A stage may run a plan of its own inside it (a DNS-over-HTTPS lookup's connection
inside the resolve stage): the stage prepares the sub-plan in its `__init__` (`runner.preflight`,
before any clock), and `runner.run_nested(ctx, prepared)` runs it with a state of its own and a
context `ctx.nested(...)` on the same clock. The nested stages' events (StageStarted,
StageFinished, StageSkipped, TlsMessageSeen) carry `parent`, the path of the stage they ran in
("resolve", or "resolve/app" deeper); the run's own events have none, so a front-end that draws
only the plan's rows skips events with a parent. Their times lie inside the parent's, whose wire
clock covers the whole sub-run. Their records and findings come back to the parent stage, which
puts what it wants in its own detail and outcome; the run's result lists top-level stages only.

Types the stages share with the diagnosis (StageOutcome, TlsTarget, TlsOutcome) live in
stages/shared.py; the context and the run state in stages/context.py.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

from tlsbench.engine.plan import Plan, StageKind, Step
from tlsbench.engine.stages.context import RunState, StageContext
from tlsbench.engine.stages.shared import StageOutcome


class Stage(Protocol):
    """One stage of a run, prepared for one plan (see the module's docstring)."""

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome: ...


@runtime_checkable
class DescribesItself(Protocol):
    """A stage whose row says what it does from what the stages before it found."""

    def doing(self, state: RunState) -> str: ...


@runtime_checkable
class RunsAfterFailure(Protocol):
    """A stage that may still run after an earlier stage failed."""

    def runs_after(self, state: RunState, failed: Step) -> bool: ...


# How a stage is made: its class, called with the step and its plan before any clock.
StageFactory = Callable[[Step, Plan], Stage]

_loaded: dict[str, StageFactory] = {}


def stage_factory(kind: StageKind) -> StageFactory:
    """The class implementing a stage kind, imported the first time it is asked for."""
    factory = _loaded.get(kind.impl)
    if factory is None:
        module, _, name = kind.impl.partition(":")
        found = getattr(import_module(module), name)
        if not callable(getattr(found, "run", None)):
            raise TypeError(f"{kind.impl} is not a stage: it has no run()")
        factory = _loaded[kind.impl] = found
    return factory


def make_stage(step: Step, plan: Plan) -> Stage:
    """The step's stage, prepared for the plan."""
    return stage_factory(step.kind)(step, plan)


if TYPE_CHECKING:
    # mypy holds every class plan.KINDS names to the contract (at run time they load lazily, above).
    from tlsbench.engine.why.firstwords import FirstWordsStage
    from tlsbench.engine.hops import ProxyStage
    from tlsbench.engine.hops.starttls import StarttlsStage
    from tlsbench.engine.stages.app import AppStage
    from tlsbench.engine.stages.chain import ChainStage
    from tlsbench.engine.stages.doh import DohStage
    from tlsbench.engine.stages.keyexchange import KeyExchangeStage
    from tlsbench.engine.stages.quic import QuicStage
    from tlsbench.engine.stages.reconnect import ReconnectStage
    from tlsbench.engine.stages.resolve import ResolveStage
    from tlsbench.engine.stages.revocation import RevocationStage
    from tlsbench.engine.stages.tcp import TcpStage
    from tlsbench.engine.stages.tls import ProxyTlsStage, TlsStage

    _CONFORM: tuple[StageFactory, ...] = (
        ResolveStage, TcpStage, ProxyTlsStage, ProxyStage, StarttlsStage, TlsStage, ChainStage, AppStage,
        RevocationStage, ReconnectStage, FirstWordsStage, DohStage, KeyExchangeStage, QuicStage)

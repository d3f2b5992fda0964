"""The route of a plan, run again quietly: more connections to the same target the same way.

`RouteOpener(plan)` prepares the plan's resolve, tcp, proxy (proxy-tls included) and starttls
stages before any clock — the whole way to the ClientHello; `resolve()` looks the first hop up
once, `open(route)` makes one more connection over the same path and returns the run state holding
its stream. The stages' events are not emitted: these connections serve another stage
(--reconnect, the staple, --groups) or the enumeration, which report on their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.engine.cancel import CancelToken
from tlsbench.errors import Cancelled
from tlsbench.engine.plan import Plan
from tlsbench.engine.stages.context import RunState, StageContext
from tlsbench.engine.stages.contract import make_stage
from tlsbench.engine.stream import Transcript

if TYPE_CHECKING:
    from tlsbench.engine.stages.resolve import Route
    from tlsbench.engine.tls.tlspump import CloseInfo

ROUTE_STAGES = ("tcp", "proxy-tls", "proxy", "starttls")  # the whole way to the ClientHello


class RouteOpener:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.spec = plan.spec
        self.resolver = next(((s, make_stage(s, plan)) for s in plan.steps if s.name == "resolve"), None)
        self.stages = [(s, make_stage(s, plan)) for s in plan.steps if s.name in ROUTE_STAGES and s.skip is None]

    def _ctx(self, state: RunState, cancel: CancelToken) -> StageContext:
        return StageContext(spec=self.spec, emit=lambda event: None, cancel=cancel, state=state)

    def resolve(self, cancel: CancelToken) -> tuple[Route | None, str | None]:
        """(route, None) or (None, why it failed)."""
        state = RunState(self.plan)
        ctx = self._ctx(state, cancel)
        assert self.resolver is not None  # every plan starts with its resolve step
        step, stage = self.resolver
        if step.skip is not None:
            return None, None  # a first hop that looks itself up (ssh://): no route of tlsbench's own
        ctx.enter(step)
        try:
            outcome = stage.run(ctx, state)
        except Cancelled:
            return None, "cancelled"
        if not outcome.ok:
            return None, f"{step.label}: {outcome.summary}"
        return state.route, None

    def open(self, route: Route | None, cancel: CancelToken, peer: str | None = None,
             timeout: float | None = None) -> tuple[RunState, str | None]:
        """One more connection over the route (to `peer`'s address when given): (state, None) with
        `state.stream` ready, or (state, why it failed) with its socket closed."""
        state = RunState(self.plan)
        if route is not None and peer:
            same = tuple(a for a in route.addresses if a[1][0] == peer)
            route = route._replace(addresses=same or route.addresses)
        state.route = route
        ctx = self._ctx(state, cancel)
        limit = self.spec.timeout if timeout is None else timeout
        for step, stage in self.stages:
            ctx.enter(step)
            if state.link is not None:
                state.link.set_timeout(limit)
            if state.stream is not None:
                state.stream.transcript = Transcript()
            try:
                outcome = stage.run(ctx, state)
            except Cancelled:
                close(state)
                return state, "cancelled"
            if not outcome.ok:
                close(state)
                return state, f"{step.label}: {outcome.summary}"
        if state.link is not None:
            state.link.set_timeout(limit)
        return state, None


def close(state: RunState) -> None:
    if state.link is not None:
        try:
            state.link.sock.close()
        except OSError:
            pass


def close_first(state: RunState, limit: float = 0.2) -> CloseInfo | None:
    """Close the run's connection cleanly now (close_notify, the TLS 1.3 tickets read), once: a stage
    that needs another connection to a server serving one at a time (s_server) closes it first. The
    runner reports how it ended (`state.closing`)."""
    if state.closed:
        return state.closing
    stream = state.stream
    info = None
    finish = getattr(stream, "finish", None)
    try:
        if finish is not None:
            info = finish(limit)
        if stream is not None:
            stream.close()
    except (OSError, TimeoutError):
        pass
    state.closed = True
    state.closing = info
    state.stream = None
    return info

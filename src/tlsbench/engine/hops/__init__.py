"""Proxy hops: each takes the run's stream and leaves a tunnel to the next hop (or the target).

`ProxyStage` is the plan's `proxy` stage; it hands the exchange to the hop's protocol (SOCKS
through PySocks, HTTP CONNECT, `ssh -W`) and words a failure so that it says which hop failed and whether
it was the hop itself or what lies behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.engine.findings.model import Evidence
from tlsbench.engine.route.hostport import format_hostport

if TYPE_CHECKING:  # the STARTTLS protocols (in this package) are read by the spec, which the plan imports
    from tlsbench.engine.plan import Plan, Step
    from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
    from tlsbench.engine.hops.http_connect import HttpConnectHop
    from tlsbench.engine.hops.socks import SocksHop
    from tlsbench.engine.hops.ssh import SshHop


class ProxyStage:
    def __init__(self, step: Step, plan: Plan) -> None:
        self.step = step
        self.spec = plan.spec
        self.hops = plan.spec.proxies
        self.number = step.index or 1
        assert step.hop is not None  # a proxy step always names its hop
        self.hop = step.hop
        self.impl: SocksHop | HttpConnectHop | SshHop
        if self.hop.declared.program == "ssh":
            from tlsbench.engine.hops.ssh import SshHop

            self.impl = SshHop(step, plan)
        elif self.hop.is_socks:
            from tlsbench.engine.hops.socks import SocksHop

            self.impl = SocksHop(step, plan)
        else:
            from tlsbench.engine.hops.http_connect import HttpConnectHop

            self.impl = HttpConnectHop(step, plan)

    def _dest(self, state: RunState) -> tuple[str, int]:
        i = self.number - 1
        last = self.number == len(self.hops)
        dests = state.route.hop_dests if state.route is not None else ()
        # No route of tlsbench's own (a first hop that looks itself up, ssh://): every name goes as it is.
        dest = dests[i] if i < len(dests) else (self.spec.pin or self.spec.host) if last else self.hops[self.number].host
        return dest, self.spec.port if last else self.hops[self.number].port

    def behind(self) -> str:
        return "the target" if self.number == len(self.hops) else f"proxy {self.number + 1}"

    def doing(self, state: RunState) -> str:
        dest, port = self._dest(state)
        return f"{self.hop.kind} request for {format_hostport(dest, port)}"

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        dest, port = self._dest(state)
        outcome = self.impl.run(ctx, state, dest, port, self.behind())
        if len(self.hops) == 1 or outcome.ok:
            return outcome
        where = f"{self.number} of {len(self.hops)}: {self.hop.url}"
        findings = tuple(f._replace(title=f"Proxy {self.number}: {f.title}", stage=self.step.key,
                                    evidence=f.evidence + (Evidence("hop", where),
                                                           Evidence("behind it", self.behind())))
                         for f in outcome.findings)
        return outcome._replace(findings=findings, summary=f"proxy {self.number}: {outcome.summary}")

"""The starttls stage: upgrade a plain-text protocol to TLS on the run's stream (the TCP connection,
or the tunnel a proxy chain opened), as `openssl s_client -starttls` does.

One small sans-IO module per protocol (protocols.py lists them; line.py holds what the line
protocols share, ber.py LDAP's encoding), each a `Dialogue` whose class attributes declare the
protocol (base.py), driven over the stream by driver.py, every line timed as it crosses the wire. The stage ends when the server agreed
(the tls stage then runs on the same connection) or with findings (findings.py). `--starttls auto`
reads the greeting first (detect.py); a port that speaks TLS at once is detected from its silence
or its bytes, and the run goes on without STARTTLS. After the handshake the app stage asks the
capabilities again over TLS (after.py): that is an exchange of its own, with its own time, and the
row can say what appears only inside TLS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the protocols' declarations are read by the spec, which the plan and stage context import
    from tlsbench.engine.hops.starttls.base import Dialogue
    from tlsbench.engine.plan import Plan, Step
    from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome

IMPLICIT_WAIT = 1.5  # seconds of silence on an implicit-TLS port before it counts as TLS at once


class Handoff:
    """What the starttls stage leaves for the tls and app stages (RunState.starttls)."""

    def __init__(self, protocol: str | None, dialogue: Dialogue | None, implicit: bool, asked: str) -> None:
        self.protocol, self.dialogue, self.implicit, self.asked = protocol, dialogue, implicit, asked


class StarttlsStage:
    def __init__(self, step: Step, plan: Plan) -> None:
        # Every protocol's code is loaded now, before any clock (auto may need any of them).
        from tlsbench.engine.hops.starttls import protocols, run

        self.spec = plan.spec
        self._run = run.run_starttls
        self._protocols = protocols

    def doing(self, state: RunState) -> str:
        upgrade = self.spec.starttls
        if upgrade.protocol == "auto":
            return "STARTTLS auto: reading the greeting"
        return f"STARTTLS {upgrade.protocol}"

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        return self._run(ctx, state, self.spec)

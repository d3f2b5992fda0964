"""The app stage after STARTTLS: the capabilities asked again inside TLS, compared with what the
server listed in clear (AUTH mechanisms typically appear only now).

This is the app stage's work, not the starttls stage's: it is an exchange over TLS, after the
handshake, with a time of its own; the starttls stage's clock ends at the server's "go ahead".
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls import findings as fnd
from tlsbench.engine.hops.starttls.detail import StarttlsDetail
from tlsbench.engine.hops.starttls.driver import Recorder, converse
from tlsbench.engine.hops.starttls.findings import LISTS
from tlsbench.engine.hops.starttls.ports import TITLES
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.hops.starttls.base import Dialogue, Facts
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome


def run_after_tls(ctx: StageContext, state: RunState) -> StageOutcome:
    from tlsbench.engine.hops.starttls.protocols import dialogue as make_dialogue
    from tlsbench.engine.hops.starttls.run import settings

    hand = state.starttls
    spec = ctx.spec
    if hand is None or hand.protocol is None:
        return StageOutcome(True, None, "nothing asked over TLS: the protocol is not known")
    protocol = hand.protocol
    implicit = hand.dialogue is None
    dialogue = hand.dialogue if hand.dialogue is not None else make_dialogue(protocol, **settings(spec))
    if not dialogue.asks_again:
        return StageOutcome(True, None, f"{TITLES[protocol]} lists nothing again over TLS")
    rec = Recorder(ctx)
    ctx.begin()
    try:
        dialogue.begin_tls(implicit=implicit)
        end = converse(ctx, state.need_stream(), dialogue, rec)
    finally:
        ctx.end()
    facts = dialogue.facts
    before = facts.capabilities if not implicit else None
    after = facts.capabilities_tls
    only_after = tuple(i for i in after or () if before is not None and i not in before)
    only_before = tuple(i for i in before or () if after is not None and i not in after)
    detail = StarttlsDetail(asked=hand.asked, protocol=protocol, phase="tls", exchange=tuple(rec.lines),
                            capabilities=after, implicit_tls=implicit, password_auth=facts.password_auth_tls,
                            only_after_tls=only_after, only_before_tls=only_before,
                            started_ms=ctx.wire_start or 0.0)
    listed = LISTS.get(protocol, "capabilities")
    if dialogue.status == "done":
        if after is None:
            summary = f"{listed} over TLS: none listed"
        elif implicit:
            summary = f"{listed} over TLS: {len(after)} listed"
        elif only_after:
            summary = f"{listed} over TLS: only now {', '.join(only_after)}"
        else:
            summary = f"{listed} over TLS: nothing new" + (f" (gone: {', '.join(only_before)})" if only_before else "")
        return StageOutcome(True, detail, summary)
    main = _failure(protocol, facts, dialogue, end, spec)
    return StageOutcome(False, detail._replace(error=main.title), main.title, (main,))


def _failure(protocol: str, facts: Facts, dialogue: Dialogue, end: str, spec: ConnectionSpec) -> Finding:
    if facts.unexpected is not None:
        finding = fnd.unexpected(protocol, facts, spec.port)
    elif facts.closed:
        finding = fnd.closed(protocol, facts, spec.port, sent=True)
    elif facts.session_refused:
        finding = fnd.refused(protocol, facts)
    elif end in ("timeout", "quiet"):
        finding = fnd.timeout(protocol, facts, facts.awaiting or dialogue.step, spec.timeout)
    else:
        finding = fnd.stream_error(protocol, end or "the exchange stopped")
    return finding._replace(stage="app")

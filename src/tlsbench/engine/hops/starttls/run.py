"""The starttls stage's run: choose the protocol (given, or auto), drive its dialogue over the
stream, and turn what happened into the stage's detail, summary and findings."""

from __future__ import annotations

from typing import Callable

from tlsbench.errors import Cancelled
from tlsbench.engine.hops.starttls import IMPLICIT_WAIT, Handoff, detect
from tlsbench.engine.hops.starttls import findings as fnd
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.hops.starttls.base import Dialogue, Facts, Message
from tlsbench.engine.hops.starttls.detail import StarttlsDetail
from tlsbench.engine.hops.starttls.driver import Recorder, converse
from tlsbench.engine.hops.starttls.ports import CLIENT_FIRST, TITLES, implicit_tls
from tlsbench.engine.hops.starttls.protocols import DIALOGUES
from tlsbench.engine.hops.starttls.protocols import dialogue as make_dialogue
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stream import CHUNK, Stream


def settings(spec: ConnectionSpec) -> dict[str, str]:
    upgrade = spec.starttls
    return {"name": upgrade.name, "xmpphost": upgrade.xmpphost or spec.host.rstrip(".")}


def _read_greeting(ctx: StageContext, stream: Stream, wait: float | None) -> tuple[list[tuple[bytes, float]], str]:
    """For auto: the first bytes of a greeting, with their times, and how the wait ended
    ("" when enough arrived, "quiet", "timeout", "eof" or the error's words)."""
    chunks: list[tuple[bytes, float]] = []
    data = b""
    while not detect.greeting_complete(data):
        limit = wait if wait is not None and not data else None
        try:
            chunk = stream.recv(CHUNK, limit) if limit is not None else stream.recv(CHUNK)
        except TimeoutError:
            return chunks, "quiet" if (limit is not None and stream.link.remaining() > 0) else "timeout"
        except OSError as exc:
            if ctx.cancel.cancelled:
                raise Cancelled("cancelled during STARTTLS") from None
            return chunks, f"{type(exc).__name__}: {exc}"
        if not chunk:
            return chunks, "eof"
        chunks.append((chunk, ctx.now_ms()))
        data += chunk
    return chunks, ""


def _raw_lines(rec: Recorder, chunks: list[tuple[bytes, float]]) -> None:
    """Bytes no dialogue took (auto could not choose): on record as lines, each as it came."""
    for data, at in chunks:
        messages = [Message("received", line.decode("latin-1"), line) for line in data.splitlines()[:40]]
        rec.stamp(messages, at)


def run_starttls(ctx: StageContext, state: RunState, spec: ConnectionSpec) -> StageOutcome:
    upgrade = spec.starttls
    asked = upgrade.protocol or "auto"
    port = spec.port
    stream = state.need_stream()
    rec = Recorder(ctx)
    names = settings(spec)
    protocol: str | None = None if asked == "auto" else asked
    because: str | None = None
    dialogue: Dialogue | None = None
    end = ""
    chunks: list[tuple[bytes, float]] = []
    implicit_because: str | None = None
    early: list[Finding] = []  # findings known before any dialogue (auto's)
    service = implicit_tls(port)
    ctx.begin()
    try:
        if asked == "auto":
            choice = detect.by_port(port)
            if choice is None:
                chunks, end = _read_greeting(ctx, stream, IMPLICIT_WAIT if service else None)
                data = b"".join(c for c, _ in chunks)
                if data:
                    choice = detect.by_greeting(data, port)
                    if choice.implicit:
                        early.append(fnd.implicit_spoilt("auto", port, data, how="sent a TLS record before any "
                                                                                 "request"))
                    elif choice.protocol is None:
                        early.append(fnd.undecided(choice.because, data))
                elif end == "quiet" or (end == "timeout" and service is None):
                    choice = detect.on_silence(port, IMPLICIT_WAIT if end == "quiet" else spec.timeout)
                    if choice.implicit:
                        implicit_because = choice.because
                    else:
                        early.append(fnd.timeout(None, None, "a greeting", spec.timeout, asked))
                elif end == "eof":
                    choice = detect.Choice(None, "the server closed the connection without a greeting")
                else:
                    choice = detect.Choice(None, f"reading the greeting failed: {end}")
            protocol, because = choice.protocol, choice.because
            if implicit_because is not None or early:
                protocol = choice.protocol
            elif protocol is not None:
                dialogue = make_dialogue(protocol, **names)
                for data, at in chunks:
                    dialogue.receive(data)
                    rec.stamp(dialogue.take_received(), at)
                end = converse(ctx, stream, dialogue, rec)
        else:
            assert protocol is not None  # asked for by name
            dialogue = make_dialogue(protocol, **names)
            first_wait = IMPLICIT_WAIT if (service is not None and protocol not in CLIENT_FIRST) else None
            end = converse(ctx, stream, dialogue, rec, first_wait=first_wait)
            if end == "quiet":
                implicit_because = (f"no {TITLES[protocol]} greeting within {IMPLICIT_WAIT:g} s on port {port} "
                                    f"({service[1] if service else 'implicit TLS'})")
    finally:
        ctx.end()
    if dialogue is None and chunks:
        _raw_lines(rec, chunks)
    return _outcome(ctx, state, spec, asked, protocol, because, dialogue, end, rec, implicit_because, early)


def _detail(spec: ConnectionSpec, asked: str, protocol: str | None, because: str | None, dialogue: Dialogue | None,
            rec: Recorder, implicit: bool = False, error: str | None = None) -> StarttlsDetail:
    facts = dialogue.facts if dialogue is not None else None
    upgrade = spec.starttls
    declared = DIALOGUES.get(protocol or "")
    return StarttlsDetail(
        asked=asked, protocol=protocol, phase="plain", chosen_because=because,
        name=upgrade.name if declared is not None and declared.says_name else None,
        xmpphost=(upgrade.xmpphost or spec.host) if declared is not None and declared.says_host else None,
        exchange=tuple(rec.lines),
        greeting=facts.greeting if facts else (),
        capabilities=facts.capabilities if facts else None,
        starttls_offered=facts.offered if facts else None,
        command=facts.command if facts else None,
        reply=facts.reply if facts else (),
        accepted=facts.accepted if facts else None,
        implicit_tls=implicit,
        password_auth=facts.password_auth if facts else (),
        notes=tuple(facts.notes) if facts else (),
        error=error, started_ms=rec.ctx.wire_start or 0.0)


def _outcome(ctx: StageContext, state: RunState, spec: ConnectionSpec, asked: str, protocol: str | None,
             because: str | None, dialogue: Dialogue | None, end: str, rec: Recorder, implicit_because: str | None,
             early: list[Finding]) -> StageOutcome:
    port = spec.port
    title = TITLES.get(protocol or "", "?")
    head = f"auto: {title}" if asked == "auto" and protocol else title
    if implicit_because is not None:
        finding = fnd.implicit(protocol, port, asked, implicit_because)
        rec.note(f"{implicit_because}: TLS at once, STARTTLS dropped")
        detail = _detail(spec, asked, protocol, because or implicit_because, dialogue, rec, implicit=True)
        state.starttls = Handoff(protocol, None, True, asked)
        return StageOutcome(True, detail, f"port {port} speaks TLS at once: STARTTLS dropped", (finding,))
    if early:
        detail = _detail(spec, asked, protocol, because, dialogue, rec, error=early[0].title)
        return StageOutcome(False, detail, early[0].title, tuple(early))
    if dialogue is None:
        # auto: nothing to decide from (the server closed, or the read failed)
        finding = fnd.stream_error(asked, because or end) if end not in ("eof",) else fnd.closed_before_greeting()
        detail = _detail(spec, asked, protocol, because, None, rec, error=finding.title)
        return StageOutcome(False, detail, finding.title, (finding,))
    assert protocol is not None  # a dialogue speaks a protocol it was made for
    facts = dialogue.facts
    findings = []
    if facts.password_auth:
        findings.append(fnd.auth_before_tls(protocol, facts))
    if dialogue.status == "ready":
        if facts.offered is False:
            findings.insert(0, fnd.not_offered(protocol, facts))  # listed nowhere, yet accepted: a warning
        if facts.leftover:
            state.need_stream().unread(facts.leftover)
            rec.note(f"{len(facts.leftover)} byte(s) came after the reply, before any TLS: left for the handshake "
                     "to show")
        state.starttls = Handoff(protocol, dialogue, False, asked)
        state.tls_review = _reviewer(protocol, facts)
        detail = _detail(spec, asked, protocol, because, dialogue, rec)
        return StageOutcome(True, detail, f"{head}: {_ready_words(protocol, facts)}", tuple(findings))
    main = _failure(protocol, facts, dialogue, end, port, spec.timeout)
    findings.insert(0, main)
    detail = _detail(spec, asked, protocol, because, dialogue, rec, error=main.title)
    return StageOutcome(False, detail, main.title, tuple(findings))


def _ready_words(protocol: str, facts: Facts) -> str:
    if DIALOGUES[protocol].ready_words:
        return DIALOGUES[protocol].ready_words
    offered = {True: "offered", False: "not listed, accepted anyway", None: "sent (no capability list)"}[facts.offered]
    return f"{facts.command} {offered}; {facts.reply[-1] if facts.reply else 'no reply'}"


def _failure(protocol: str, facts: Facts, dialogue: Dialogue, end: str, port: int, timeout: float) -> Finding:
    if facts.unexpected is not None:
        return fnd.unexpected(protocol, facts, port)
    if protocol in ("smtp", "lmtp") and facts.capabilities is None and facts.capabilities_reply[:1] and \
            facts.capabilities_reply[0].startswith("5"):
        return fnd.hello_rejected(protocol, facts)  # whatever came after: the EHLO answer says it all
    if facts.closed:
        return fnd.closed(protocol, facts, port, sent=bool(facts.command) or dialogue.client_first)
    if facts.session_refused:
        return fnd.refused(protocol, facts)
    if facts.not_tried:
        return fnd.not_offered(protocol, facts)
    if facts.accepted is False:
        return fnd.not_offered(protocol, facts) if facts.offered is False else fnd.refused(protocol, facts)
    if end == "timeout" or end == "quiet":
        return fnd.timeout(protocol, facts, facts.awaiting or dialogue.step, timeout)
    return fnd.stream_error(protocol, end or "the exchange stopped")


def _reviewer(protocol: str, facts: Facts) -> Callable[[StageOutcome], StageOutcome]:
    """For the tls stage: a handshake answered in clear text right after the server agreed is
    `plaintext-after-starttls`, not a peer that never spoke TLS (`not-tls`)."""

    def review(outcome: StageOutcome) -> StageOutcome:
        if outcome.ok or not any(f.code == "not-tls" for f in outcome.findings):
            return outcome
        detail = outcome.detail
        data = bytes.fromhex(getattr(detail, "first_bytes_hex", None) or "")
        replaced = fnd.plaintext_after(protocol, facts.reply, data)
        findings = tuple(replaced if f.code == "not-tls" else f for f in outcome.findings)
        return outcome._replace(findings=findings, summary=replaced.title)

    return review

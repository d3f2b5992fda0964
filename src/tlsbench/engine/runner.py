"""Runs a ConnectionSpec's plan stage by stage and emits events; the engine's public entry point.

    result = run_probe(spec, on_event=print, cancel=token)

`on_event` is called from the running thread for every Event (see events.py), in order: first
PlanReady, ending with RunFinished. `cancel` (a CancelToken) may be triggered from another
thread: the stage in flight is interrupted (its socket shut down) and the result has
cancelled=True.

Before the clock starts, every stage of the plan is prepared (its code imported, SSL contexts
built, CA files loaded): a stage's time is its exchange on the wire. A stage that fails ends the
run; the ones after it are recorded as skipped (the chain stage still runs after a failed
handshake when the server sent certificates: they are how an expired or untrusted one is
explained). An unexpected exception inside a stage becomes a failed stage with an
`internal-error` finding, never a traceback.

A stage may run a prepared plan of its own inside it (`run_nested`): same loop, same clock, its
events stamped with the stage's path, its records and findings handed back to that stage. The
stage contract is described in stages/contract.py.
"""


import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, cast

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.records.details import TlsDetail
from tlsbench.errors import Cancelled
from tlsbench.engine.events import (Event, FindingRaised, PlanReady, RunFinished, SocketUpdated, StageFinished,
                                    StageSkipped, StageStarted, StepInfo)
from tlsbench.engine.findings.model import Evidence, Finding, sort_findings
from tlsbench.engine.plan import Plan, Step, plan_for
from tlsbench.engine.records.redact import Redactor
from tlsbench.engine.records.result import ProbeResult, StageRecord
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.contract import DescribesItself, RunsAfterFailure, Stage, make_stage
from tlsbench.engine.stream import Transcript

if TYPE_CHECKING:
    from tlsbench.engine.capture.taps import Capture
    from tlsbench.engine.records.details import StageDetail
    from tlsbench.engine.tls.tlspump import CloseInfo

POST_HANDSHAKE_READ = 0.2  # seconds to read what the server sends after the handshake (session tickets)


class Prepared:
    """A plan with every stage's code loaded and its local set-up done (see `preflight`)."""

    def __init__(self, plan: Plan, stages: list[Stage | None], prepare_ms: float) -> None:
        self.plan = plan
        self.stages = stages
        self.prepare_ms = prepare_ms


def preflight(spec: ConnectionSpec, plan: Plan | None = None) -> Prepared:
    """Build the plan (or take `plan`, one made for `spec` and changed: a nested lookup's) and
    prepare each stage, before any clock starts.

    ssl and cryptography take tens of milliseconds to import and a CA store takes some to load;
    a stage's time must measure the network and the handshake, not local set-up. Raises
    InputError (before any stage runs) for a CA file, certificate or key OpenSSL cannot use.
    """
    start = time.monotonic()
    plan = plan if plan is not None else plan_for(spec)
    stages = [None if step.skip else make_stage(step, plan) for step in plan.steps]
    return Prepared(plan, stages, (time.monotonic() - start) * 1000.0)


def run_probe(spec: ConnectionSpec, on_event: Callable[[Event], None] | None = None,
              cancel: CancelToken | None = None, prepared: Prepared | None = None,
              capture: "Capture | None" = None) -> ProbeResult:
    """Run the spec. `prepared` is preflight(spec)'s value when the caller already made it.

    Every event and the result leave with the spec's secrets masked (engine/records/redact.py): no
    front-end sees a proxy password, not even one the peer echoed back. `capture` (engine/capture/)
    records every byte the run's connections exchange, for a pcapng file masked the same way.
    """
    ready = prepared if prepared is not None else preflight(spec)
    mask = Redactor.of(spec)
    emit = mask.events(on_event) if on_event is not None else (lambda event: None)  # nobody listening: no copy
    state = RunState(ready.plan)
    ctx = StageContext(spec=ready.plan.spec, emit=emit, cancel=cancel or CancelToken(), state=state,
                       listening=on_event is not None)
    if capture is None:
        return mask.value(_Run(ready, ctx, state).execute())
    from tlsbench.engine.capture.taps import capturing

    capture.redactor = capture.redactor | mask
    with capturing(capture):
        return mask.value(_Run(ready, ctx, state).execute())


class NestedRun(NamedTuple):
    """What a plan run inside a stage gives back to that stage."""

    ok: bool
    records: tuple[StageRecord, ...]  # each with `parent`, the path of the stage it ran in
    findings: tuple[Finding, ...]
    cancelled: bool = False


def run_nested(ctx: StageContext, prepared: Prepared) -> NestedRun:
    """Run a prepared plan inside the stage in flight (`ctx`'s): its own state and connection (closed
    at the end), the run's clock and cancel token, its events stamped with the stage's path. The
    stage's wire time covers the whole sub-run; the findings are the stage's to report or not."""
    state = RunState(prepared.plan)
    run = _Run(prepared, ctx.nested(prepared.plan.spec, state), state)
    ctx.begin()
    try:
        run.run_steps()
    finally:
        ctx.end()
        if state.link is not None:
            state.link.sock.close()
        if state.datagrams is not None:
            state.datagrams.close()
    return NestedRun(not run.cancelled and run.failed is None, tuple(run.records), sort_findings(run.findings),
                     run.cancelled)


def internal_error(stage: str, exc: BaseException) -> Finding:
    words = f"{type(exc).__name__}: {exc}"
    return finding("internal-error", f"tlsbench failed inside the {stage} stage ({type(exc).__name__})",
                   f"An unexpected error stopped the {stage} stage: {words}.",
                   "This is a bug in tlsbench; please report it with the connection's settings (copy as command) "
                   "and this finding.", (Evidence("exception", words),), stage=stage)


def spec_summary(spec: ConnectionSpec) -> dict[str, Any]:
    """The options used, without secrets."""
    tls = spec.tls
    return {
        "target": spec.target,
        "pin": spec.pin,
        "proxies": [{"kind": p.kind, "address": p.address, "url": p.url, "user": p.username,
                     "password_given": p.password is not None, "from_environment": p.source} for p in spec.proxies],
        "tls": None if not tls.enabled else {
            "sni": spec.sni, "sni_mode": tls.sni_mode, "min_version": tls.min_version,
            "max_version": tls.max_version, "ciphers": tls.ciphers, "alpn": list(tls.alpn), "verify": tls.verify,
            "cafile": tls.cafile, "client_cert": tls.cert, "keylog": tls.keylog,
            "keylog_from_environment": tls.keylog_from_env, "reconnect": tls.reconnect,
            "check_revocation": tls.check_revocation, "groups": list(tls.groups)},
        "starttls": None if not spec.starttls.protocol else {
            "protocol": spec.starttls.protocol, "name": spec.starttls.name, "xmpphost": spec.starttls.xmpphost},
        "app": "http" if spec.app.http else ("send" if spec.app.send is not None else None),
        "http3": spec.app.http3,
        "timeout": spec.timeout,
        "local": {"port_range": list(spec.local.port_range) if spec.local.port_range else None,
                  "interface": spec.local.interface, "family": spec.local.family},
    }


_HAS: dict[tuple[type, type], bool] = {}


def _has(stage: Stage, protocol: type) -> bool:
    """isinstance() against a runtime-checkable Protocol, once per stage class: typing's check walks
    the protocol's members every time (~10 us, several times a run)."""
    key = (type(stage), protocol)
    known = _HAS.get(key)
    if known is None:
        known = _HAS[key] = isinstance(stage, protocol)
    return known


def step_info(step: Step) -> StepInfo:
    return StepInfo(step.key, step.name, step.label, step.index, step.doing, step.skip, step.kind.local,
                    step.hop.url if step.hop else None)


class _Run:
    """One plan's stages, in order: the run's own plan, or one nested in a stage (`ctx.parent` set)."""

    def __init__(self, prepared: Prepared, ctx: StageContext, state: RunState) -> None:
        self.prepared = prepared
        self.plan = prepared.plan
        self.spec = self.plan.spec
        self.emit: Callable[[Event], None] = ctx.emit
        self.state = state
        self.ctx = ctx
        self.records: list[StageRecord] = []
        self.findings: list[Finding] = []
        self.cancelled = False
        self.failed: Step | None = None

    def record(self, step: Step, status: str, started: float, duration: float, detail: object = None,
               summary: str = "") -> StageRecord:
        # A stage's detail passes through as it is: StageDetail names the common kinds, the run file's
        # codec checks the whole set (the starttls, reconnect and revocation stages have their own).
        rec = StageRecord(step.name, status, started, duration, cast("StageDetail | None", detail), summary,
                          key=step.key, index=step.index, local=step.kind.local,
                          peer=step.hop.url if step.hop else None, label=step.label, parent=self.ctx.parent)
        self.records.append(rec)
        return rec

    def skip(self, step: Step, reason: str) -> None:
        self.record(step, "skipped", self.ctx.now_ms(), 0.0, None, reason)
        self.emit(StageSkipped(step.key, reason))

    def run_stage(self, step: Step, stage: Stage) -> bool:
        """Run one stage; True when it succeeded."""
        ctx = self.ctx
        ctx.enter(step)
        started = ctx.now_ms()
        self.emit(StageStarted(step.key, started,
                               cast(DescribesItself, stage).doing(self.state) if _has(stage, DescribesItself)
                               else step.doing))
        for link in (self.state.link, self.state.datagrams.link if self.state.datagrams is not None else None):
            if link is not None:
                link.set_timeout(self.spec.timeout)
        # What crosses the stream (or the datagram socket) during this stage: the evidence its diagnosis cites.
        if self.state.stream is not None:
            self.state.stream.transcript = Transcript()
        if self.state.datagrams is not None:
            self.state.datagrams.transcript = Transcript()
        try:
            outcome = stage.run(ctx, self.state)
        except Cancelled:
            outcome = StageOutcome(False, None, "cancelled")
        except Exception as exc:  # any bug in a stage becomes a finding, never a traceback
            outcome = StageOutcome(False, None, f"internal error: {type(exc).__name__}",
                                   (internal_error(step.name, exc),))
        ended = ctx.now_ms()
        status = "ok" if outcome.ok else "failed"
        if ctx.cancel.cancelled:
            # Whatever the stage saw after its socket was shut under it is not the peer's doing.
            outcome = StageOutcome(False, outcome.detail, "cancelled")
            self.cancelled = True
            status = "cancelled"
        begin = ctx.wire_start if ctx.wire_start is not None else started
        finish = ctx.wire_end if ctx.wire_end is not None else ended
        rec = self.record(step, status, begin, max(finish - begin, 0.0), outcome.detail, outcome.summary)
        self.emit(StageFinished(rec))
        for finding in outcome.findings if not self.cancelled else ():
            self.findings.append(finding)
            self.emit(FindingRaised(finding))
        if step.name != "chain" and self.state.link is not None and self.ctx.parent is None:
            self.update_socket()  # the run's socket; a nested plan's connection is its stage's business
        return outcome.ok and not self.cancelled

    def update_socket(self) -> None:
        from tlsbench.engine.route.sockinfo import snapshot

        link = self.state.link
        assert link is not None  # called once the tcp stage has connected
        self.state.socket_info = snapshot(link.sock, via_proxy=bool(self.spec.proxies),
                                          previous=self.state.socket_info)
        self.emit(SocketUpdated(self.ctx.now_ms(), self.state.socket_info))

    def run_steps(self) -> None:
        """Every step of the plan, in order: run, or skipped and why."""
        for step, stage in zip(self.plan.steps, self.prepared.stages):
            if step.skip is not None or stage is None:
                self.skip(step, step.skip or "not prepared")
            elif self.cancelled:
                self.skip(step, "cancelled")
            elif self.failed is not None and not (isinstance(stage, RunsAfterFailure)
                                                  and stage.runs_after(self.state, self.failed)):
                self.skip(step, f"not run: the {self.failed.label} stage failed")
            elif not self.run_stage(step, stage) and self.failed is None and not step.optional:
                self.failed = step

    def execute(self) -> ProbeResult:
        self.emit(PlanReady(tuple(step_info(s) for s in self.plan.steps)))
        try:
            self.run_steps()
            total_ms = self.ctx.now_ms()
            closing = self.close()
        finally:
            if self.state.link is not None:
                self.state.link.sock.close()
            if self.state.datagrams is not None:
                self.state.datagrams.close()
        tls_out = self.state.tls
        tls_detail = tls_out.outcome.detail if tls_out is not None else None  # a TlsDetail, from handshake()
        result = ProbeResult(
            ok=not self.cancelled and self.failed is None,
            target=self.spec.target,
            stages=tuple(self.records),
            socket=self.state.socket_info,
            tls=tls_detail if isinstance(tls_detail, TlsDetail) else None,
            messages=tuple(tls_out.messages) if tls_out is not None else (),
            chain=self.state.chain,
            findings=sort_findings(self.findings),
            total_ms=total_ms,
            cancelled=self.cancelled,
            spec_summary=spec_summary(self.spec),
            closing=closing,
            tickets=self._tickets(),
        )
        self.emit(RunFinished(result))
        return result

    def close(self) -> "CloseInfo | None":
        """End the connection cleanly, outside every stage's clock and the run's total.

        TLS 1.3 servers send their session tickets after the handshake; leaving them unread and
        closing makes the kernel answer with a reset, which the server logs as an error. So:
        close_notify, then read (tickets included) until the server's close_notify or EOF, bounded.
        """
        stream = self.state.stream
        if stream is None or self.cancelled:
            # A stage that closed the connection itself (reconnect, revocation) left how it ended.
            return self.state.closing
        finish = getattr(stream, "finish", None)
        info = None
        try:
            if self.state.link is not None:
                self.state.link.set_timeout(POST_HANDSHAKE_READ + 1.0)
            if finish is not None:
                info = finish(POST_HANDSHAKE_READ)
            stream.close()
        except (OSError, Cancelled, TimeoutError):
            pass
        return info

    def _tickets(self) -> int:
        """Session tickets the server sent (TLS 1.3 sends them after the handshake, read at the close)."""
        tls = self.state.tls
        return sum(1 for m in (tls.messages if tls is not None else ()) if m.name == "NewSessionTicket"
                   and m.direction == "received")

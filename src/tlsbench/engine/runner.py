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
"""

from __future__ import annotations

import time
from typing import Any, Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.catalogue import finding
from tlsbench.engine.errors import Cancelled
from tlsbench.engine.events import (Event, FindingRaised, PlanReady, RunFinished, SocketUpdated, StageFinished,
                                    StageSkipped, StageStarted, StepInfo)
from tlsbench.engine.findings import Evidence, Finding, sort_findings
from tlsbench.engine.plan import Plan, Step, plan_for
from tlsbench.engine.redact import Redactor
from tlsbench.engine.result import ProbeResult, StageRecord
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stream import Transcript

POST_HANDSHAKE_READ = 0.2  # seconds to read what the server sends after the handshake (session tickets)


class Prepared:
    """A plan with every stage's code loaded and its local set-up done (see `preflight`)."""

    def __init__(self, plan: Plan, stages: list[Any], prepare_ms: float) -> None:
        self.plan = plan
        self.stages = stages
        self.prepare_ms = prepare_ms


def preflight(spec: ConnectionSpec) -> Prepared:
    """Build the plan and prepare each stage, before any clock starts.

    ssl and cryptography take tens of milliseconds to import and a CA store takes some to load;
    a stage's time must measure the network and the handshake, not local set-up. Raises
    InputError (before any stage runs) for a CA file, certificate or key OpenSSL cannot use.
    """
    from importlib import import_module

    start = time.monotonic()
    plan = plan_for(spec)
    stages = []
    for step in plan.steps:
        module, _, name = step.kind.impl.partition(":")
        cls = getattr(import_module(module), name)
        stages.append(None if step.skip else cls(step, plan))
    return Prepared(plan, stages, (time.monotonic() - start) * 1000.0)


def run_probe(spec: ConnectionSpec, on_event: Callable[[Event], None] | None = None,
              cancel: CancelToken | None = None, prepared: Prepared | None = None) -> ProbeResult:
    """Run the spec. `prepared` is preflight(spec)'s value when the caller already made it.

    Every event and the result leave with the spec's secrets masked (engine/redact.py): no
    front-end sees a proxy password, not even one the peer echoed back.
    """
    ready = prepared if prepared is not None else preflight(spec)
    mask = Redactor.of(spec)
    emit = mask.events(on_event) if on_event is not None else (lambda event: None)  # nobody listening: no copy
    return mask.value(_Run(ready, emit, cancel or CancelToken()).execute())


def internal_error(stage: str, exc: BaseException) -> Finding:
    words = f"{type(exc).__name__}: {exc}"
    return finding("internal-error", f"tlsbench failed inside the {stage} stage ({type(exc).__name__})",
                   f"An unexpected error stopped the {stage} stage: {words}.",
                   "This is a bug in tlsbench; please report it with the connection's settings (copy as command) "
                   "and this finding.", (Evidence("exception", words),), stage=stage)


def spec_summary(spec: ConnectionSpec) -> dict:
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
            "check_revocation": tls.check_revocation},
        "starttls": None if not spec.starttls.protocol else {
            "protocol": spec.starttls.protocol, "name": spec.starttls.name, "xmpphost": spec.starttls.xmpphost},
        "app": "http" if spec.app.http else ("send" if spec.app.send is not None else None),
        "timeout": spec.timeout,
        "local": {"port_range": list(spec.local.port_range) if spec.local.port_range else None,
                  "interface": spec.local.interface, "family": spec.local.family},
    }


def step_info(step: Step) -> StepInfo:
    return StepInfo(step.key, step.name, step.label, step.index, step.doing, step.skip, step.kind.local,
                    step.hop.url if step.hop else None)


class _Run:
    def __init__(self, prepared: Prepared, emit: Callable[[Event], None], cancel: CancelToken) -> None:
        self.prepared = prepared
        self.plan = prepared.plan
        self.spec = self.plan.spec
        self.emit = emit
        self.state = RunState(self.plan)
        self.ctx = StageContext(spec=self.spec, emit=emit, cancel=cancel, state=self.state)
        self.records: list[StageRecord] = []
        self.findings: list[Finding] = []
        self.cancelled = False
        self.failed: Step | None = None

    def record(self, step: Step, status: str, started: float, duration: float, detail=None,
               summary: str = "") -> StageRecord:
        rec = StageRecord(step.name, status, started, duration, detail, summary, key=step.key, index=step.index,
                          local=step.kind.local, peer=step.hop.url if step.hop else None, label=step.label)
        self.records.append(rec)
        return rec

    def skip(self, step: Step, reason: str) -> None:
        self.record(step, "skipped", self.ctx.now_ms(), 0.0, None, reason)
        self.emit(StageSkipped(step.key, reason))

    def run_stage(self, step: Step, stage) -> bool:
        """Run one stage; True when it succeeded."""
        ctx = self.ctx
        ctx.enter(step)
        doing = getattr(stage, "doing", None)
        started = ctx.now_ms()
        self.emit(StageStarted(step.key, started, doing(self.state) if doing else step.doing))
        if self.state.link is not None:
            self.state.link.set_timeout(self.spec.timeout)
        if self.state.stream is not None:
            # What crosses the stream during this stage: the evidence its diagnosis cites.
            self.state.stream.transcript = Transcript()
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
        if step.name != "chain" and self.state.link is not None:
            self.update_socket()
        return outcome.ok and not self.cancelled

    def update_socket(self) -> None:
        from tlsbench.engine.sockinfo import snapshot

        link = self.state.link
        assert link is not None  # called once the tcp stage has connected
        self.state.socket_info = snapshot(link.sock, via_proxy=bool(self.spec.proxies),
                                          previous=self.state.socket_info)
        self.emit(SocketUpdated(self.ctx.now_ms(), self.state.socket_info))

    def execute(self) -> ProbeResult:
        self.emit(PlanReady(tuple(step_info(s) for s in self.plan.steps)))
        try:
            for step, stage in zip(self.plan.steps, self.prepared.stages):
                if step.skip is not None:
                    self.skip(step, step.skip)
                elif self.cancelled:
                    self.skip(step, "cancelled")
                elif self.failed is not None and not getattr(stage, "runs_after", lambda s, f: False)(
                        self.state, self.failed):
                    self.skip(step, f"not run: the {self.failed.label} stage failed")
                elif not self.run_stage(step, stage) and self.failed is None:
                    self.failed = step
            total_ms = self.ctx.now_ms()
            closing = self.close()
        finally:
            if self.state.link is not None:
                self.state.link.sock.close()
        tls_out = self.state.tls
        result = ProbeResult(
            ok=not self.cancelled and self.failed is None,
            target=self.spec.target,
            stages=tuple(self.records),
            socket=self.state.socket_info,
            tls=getattr(getattr(tls_out, "outcome", None), "detail", None),
            messages=tuple(getattr(tls_out, "messages", ()) or ()),
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

    def close(self):
        """End the connection cleanly, outside every stage's clock and the run's total.

        TLS 1.3 servers send their session tickets after the handshake; leaving them unread and
        closing makes the kernel answer with a reset, which the server logs as an error. So:
        close_notify, then read (tickets included) until the server's close_notify or EOF, bounded.
        """
        stream = self.state.stream
        if stream is None or self.cancelled:
            # A stage that closed the connection itself (reconnect, revocation) left how it ended.
            return self.state.extra.get("closing")
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
        return sum(1 for m in getattr(tls, "messages", ()) or () if m.name == "NewSessionTicket"
                   and m.direction == "received")

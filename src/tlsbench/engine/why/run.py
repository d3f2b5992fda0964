"""Running the variants: each a real run in a thread of its own, all within one budget.

Each variant gets its own prepared plan (`preflight` builds SSL contexts, which threads do not
share), its own cancel token and a short per-stage timeout. At most MAX_PARALLEL run at once. When
the budget is spent the runs still in flight are cancelled (their sockets shut) and reported as
"not-run", as are the ones never started: a variant the budget cut says nothing about the server.
Events reach `on_event` from the calling thread only, in order.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, NamedTuple

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.why.facts import Facts, facts_of
from tlsbench.engine.why.model import Diagnosis, Variant, VariantOutcome
from tlsbench.engine.why.variants import Rule, choose, proposals
from tlsbench.engine.why.verdict import conclude
from tlsbench.errors import Cancelled, TlsbenchError
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec

DEFAULT_BUDGET = 10.0  # seconds for all the variants together
DEFAULT_STAGE_TIMEOUT = 3.0  # seconds per stage of each variant
MAX_BUDGET = 600.0
MAX_PARALLEL = 6
JOIN_GRACE = 0.3  # seconds given to cancelled runs to let go of their sockets


class VariantsChosen(NamedTuple):
    variants: tuple[Variant, ...]  # every variant so far, in the table's order (more may follow)


class VariantStarted(NamedTuple):
    key: str
    at_ms: float


class VariantFinished(NamedTuple):
    outcome: VariantOutcome


class DiagnosisFinished(NamedTuple):
    diagnosis: Diagnosis


DiagnosisEvent = VariantsChosen | VariantStarted | VariantFinished | DiagnosisFinished


def diagnose(spec: ConnectionSpec, result: ProbeResult, *, budget: float = DEFAULT_BUDGET,
             stage_timeout: float = DEFAULT_STAGE_TIMEOUT, suggest_sni: tuple[str, ...] = (),
             on_event: Callable | None = None, cancel: CancelToken | None = None) -> Diagnosis:
    """Choose variants of `spec` from its run `result`, run them within `budget` seconds, conclude.
    Its events and its answer have the spec's secrets masked (engine/records/redact.py)."""
    from tlsbench.engine.records.redact import Redactor

    mask = Redactor.of(spec)
    return mask.value(_Diagnosis(spec, result, budget, stage_timeout, tuple(suggest_sni),
                                 mask.events(on_event or (lambda e: None)), cancel or CancelToken()).execute())


def _run_variant(variant: Variant, facts: Facts, token: CancelToken, stage_timeout: float, started: float,
                 origin: float, out: queue.Queue) -> None:
    """The body of a variant's thread: prepare, run, and put its outcome in `out` (never raises)."""
    from tlsbench.engine.runner import preflight, run_probe

    note = ""
    findings: tuple[Finding, ...] = ()
    result: ProbeResult | None = None
    timeout = min(variant.spec.timeout, stage_timeout)
    try:
        spec = variant.spec._replace(timeout=timeout)
        prepared = preflight(spec)
        fetched = None
        if variant.prepare == "first-words":
            from tlsbench.engine.why import firstwords

            firstwords.install(prepared)
        elif variant.prepare == "issuer":
            from tlsbench.engine.why import issuer

            fetched = issuer.issuers_of(facts.leaf_pem or "", facts.issuer_urls, min(stage_timeout,
                                                                                     issuer.FETCH_TIMEOUT))
            added = issuer.add_to_trust(prepared, fetched)
            note = (f"fetched {', '.join(c.subject for c in fetched)} from {fetched[0].url}; "
                    f"{added} intermediate(s) added to this run's trust") if fetched else "nothing to fetch"
        if not token.cancelled:
            result = run_probe(spec, prepared=prepared, cancel=token)
        if fetched is not None and result is not None:
            from tlsbench.engine.why.findings import issuer_verdict

            verdict = issuer_verdict(facts.spec, fetched, result)
            findings = (verdict,) if verdict is not None else ()
        status = "cancelled" if result is None or result.cancelled else ("ok" if result.ok else "failed")
    except Cancelled:
        status, note = "cancelled", "cancelled"
    except TlsbenchError as exc:  # a file OpenSSL refuses, ...
        status, note = "failed", " ".join(str(exc).split())
    except Exception as exc:  # noqa: BLE001 - the issuer fetch's errors, or a bug: said, never raised
        status, note = "failed", f"{type(exc).__name__}: {exc}" if type(exc).__name__ != "FetchError" else str(exc)
    ended = time.monotonic()
    out.put(VariantOutcome(variant, status, result, note, (started - origin) * 1000.0, (ended - started) * 1000.0,
                           tuple(findings), timeout))


class _Diagnosis:
    def __init__(self, spec: ConnectionSpec, result: ProbeResult, budget: float, stage_timeout: float,
                 suggest_sni: tuple[str, ...], emit: Callable[[DiagnosisEvent], object], cancel: CancelToken) -> None:
        self.spec, self.budget, self.stage_timeout = spec, float(budget), float(stage_timeout)
        self.emit, self.cancel = emit, cancel
        self.facts = facts_of(spec, result, suggest_sni)
        self.order: list[Variant] = []
        self.pending: list[Variant] = []
        self.running: dict[str, tuple[Variant, float, CancelToken, threading.Thread]] = {}
        self.outcomes: dict[str, VariantOutcome] = {}
        self.inbox: queue.Queue = queue.Queue()
        self.later: list[Rule] = []

    def add(self, variants: list[Variant]) -> None:
        known = self.order
        fresh = [v for v in variants if all(v.key != o.key and (v.spec != o.spec or v.prepare != o.prepare)
                                            for o in known)]
        if fresh:
            self.order += fresh
            self.pending += fresh
            self.emit(VariantsChosen(tuple(self.order)))

    def launch(self, variant: Variant) -> None:
        token = CancelToken()
        started = time.monotonic()
        thread = threading.Thread(target=_run_variant, name=f"tlsbench-variant-{variant.key}", daemon=True,
                                  args=(variant, self.facts, token, self.stage_timeout, started, self.origin,
                                        self.inbox))
        self.running[variant.key] = (variant, started, token, thread)
        self.emit(VariantStarted(variant.key, (started - self.origin) * 1000.0))
        thread.start()

    def take(self, outcome: VariantOutcome | None) -> None:
        if outcome is None or outcome.key not in self.running:
            return
        del self.running[outcome.key]
        if outcome.status == "cancelled":
            # Only the user cancels a run before the budget ends (the budget's cut comes in finish()).
            outcome = outcome._replace(result=None, note="cancelled")
        self.outcomes[outcome.key] = outcome
        self.facts.done[outcome.key] = outcome
        self.emit(VariantFinished(outcome))
        for rule in list(self.later):
            if all(k in self.outcomes or k not in {v.key for v in self.order} for k in rule.after):
                self.later.remove(rule)
                self.add(proposals(rule, self.facts))

    def execute(self) -> Diagnosis:
        self.origin = time.monotonic()
        deadline = self.origin + self.budget
        self.cancel.on_cancel(lambda: self.inbox.put(None))
        chosen, self.later = choose(self.facts)
        self.add(chosen)
        if not chosen:
            self.emit(VariantsChosen(()))
        while (self.pending or self.running) and not self.cancel.cancelled:
            while self.pending and len(self.running) < MAX_PARALLEL:
                self.launch(self.pending.pop(0))
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                self.take(self.inbox.get(timeout=left))
            except queue.Empty:
                break
        while True:  # what finished as the budget ended still counts
            try:
                self.take(self.inbox.get_nowait())
            except queue.Empty:
                break
        return self.finish()

    def finish(self) -> Diagnosis:
        user = self.cancel.cancelled
        cut_at = (time.monotonic() - self.origin)
        threads = []
        for key, (variant, started, token, thread) in list(self.running.items()):
            token.cancel()
            threads.append(thread)
            status = "cancelled" if user else "not-run"
            note = ("cancelled" if user else
                    f"cut by the {self.budget:g} s budget after {time.monotonic() - started:.1f} s of its run")
            self.outcomes[key] = VariantOutcome(variant, status, None, note, (started - self.origin) * 1000.0,
                                                (time.monotonic() - started) * 1000.0)
            self.emit(VariantFinished(self.outcomes[key]))
        for variant in self.pending:
            status = "cancelled" if user else "not-run"
            note = "cancelled" if user else f"not started: the {self.budget:g} s budget ran out"
            self.outcomes[variant.key] = VariantOutcome(variant, status, None, note)
            self.emit(VariantFinished(self.outcomes[variant.key]))
        end = time.monotonic() + JOIN_GRACE
        for thread in threads:
            thread.join(max(end - time.monotonic(), 0))
        outcomes = [self.outcomes[v.key] for v in self.order if v.key in self.outcomes]
        outcomes, findings = self.cross_findings(outcomes)
        sentence, works = conclude(self.facts, outcomes, findings, budget=self.budget, cancelled=user)
        diagnosis = Diagnosis(sentence, tuple(outcomes), tuple(findings), self.budget, self.stage_timeout,
                              max(cut_at, time.monotonic() - self.origin) * 1000.0, user, works)
        self.emit(DiagnosisFinished(diagnosis))
        return diagnosis

    def cross_findings(self, outcomes: list[VariantOutcome]) -> tuple[list[VariantOutcome], list]:
        """Findings drawn from two runs (interception), and the ones variants raised themselves."""
        from tlsbench.engine.why.findings import intercepted

        findings = []
        out = []
        for o in outcomes:
            if o.key == "direct" and o.ran and o.result is not None:
                found = intercepted(self.spec, self.facts.result, o.result)
                if found is not None:
                    o = o._replace(findings=(found, *o.findings))
            findings += list(o.findings)
            out.append(o)
        return out, findings

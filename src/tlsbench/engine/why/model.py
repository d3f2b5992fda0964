"""What a diagnosis is made of: the variants tried, how each ended, and the sentence they conclude.

A `Variant` is a change over the connection's option value set (engine/options.py), so a front-end
can load it into the compose form or print it as a `tlsbench probe` line. Its `spec` is the
connection as the user would run it (their own per-stage timeout); the diagnosis runs it with a
short timeout. A `VariantOutcome` is the variant's own complete run (a ProbeResult, with every
stage), or the reason it did not run: a variant the budget cut short is "not-run", never "failed".
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from tlsbench.engine.findings.model import Finding
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec

# The codes of a deadline that ended a stage (the peer was slow, or silent): a variant that ends on one
# of them timed out rather than failed.
TIMEOUT_CODES = ("dns-timeout", "tcp-timeout", "proxy-timeout", "starttls-timeout", "tls-timeout")
# Outcome statuses: the run completed / the run failed / it never ran, or the budget cut it /
# the whole diagnosis was cancelled (Ctrl-C, Esc) while it ran.
STATUSES = ("ok", "failed", "not-run", "cancelled")


class Variant(NamedTuple):
    key: str  # unique in a diagnosis: "tls-1.3", "sni=www.example.com"
    label: str  # what changed, in words: "TLS 1.3 only"
    changes: dict  # {option name: value} over values_of(the first spec)
    spec: ConnectionSpec  # the first spec with the changes (the user's own timeout)
    meaning: str  # what it means when this variant works (or, for a look, what it shows)
    kind: str = "fix"  # "fix": a change a person can adopt; "look": run to see, not to adopt
    prepare: str | None = None  # an extra step before the run: "first-words" or "issuer" (see variants.py)
    adoptable: bool = True  # "use this variant" loads it into the form
    why_not_adoptable: str = ""


class VariantOutcome(NamedTuple):
    variant: Variant
    status: str  # one of STATUSES
    result: ProbeResult | None = None  # the variant's own run (None when it did not run)
    note: str = ""  # why it did not run, or what its preparation found ("issuer fetched from ...")
    started_ms: float | None = None  # since the diagnosis started
    elapsed_ms: float | None = None  # the variant's whole time: preparation and run
    findings: tuple[Finding, ...] = ()  # what the diagnosis concluded from this variant
    timeout_s: float | None = None  # the per-stage timeout the variant ran with (the diagnosis's, or yours)

    @property
    def key(self) -> str:
        return self.variant.key

    @property
    def ran(self) -> bool:
        return self.result is not None and self.status in ("ok", "failed")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def timed_out(self) -> bool:
        """It failed only because a stage's deadline ended it: the peer was slower than the timeout,
        which says nothing about the change it tried."""
        found = self.key_finding()
        if self.status != "failed" or found is None:
            return False
        if found.code == "app-no-response" and self.result is not None:  # silent until the deadline, or closed
            app = self.result.stage("app")
            return getattr(getattr(app, "detail", None), "error", None) == "timeout"
        return found.code in TIMEOUT_CODES

    def timeout_words(self) -> str:
        """Which timeout ended it: the variant's own (shorter than yours), or yours."""
        ran, yours = self.timeout_s, self.variant.spec.timeout
        if ran is None or ran >= yours:
            return f"your {yours:g} s stage timeout"
        return f"its own {ran:g} s stage timeout (yours is {yours:g} s)"

    def key_finding(self) -> Finding | None:
        """The finding that says most about this variant: its own conclusion, else its run's first error."""
        if self.findings:
            return self.findings[0]
        if self.result is None:
            return None
        errors = [f for f in self.result.findings if f.severity == "error"]
        return errors[0] if errors else None

    def summary(self) -> str:
        """One line: the key finding, else what the run got (the last stage that ran)."""
        if self.status == "not-run" or self.result is None:
            return self.note
        found = self.key_finding()
        if self.timed_out and found is not None:
            return f"timed out: {found.code} after {self.timeout_words()}, not a failure of the change"
        if found is not None:
            return f"{found.code}: {found.title}"
        # What it got: the handshake and the answer, else the last stage that ran.
        got = [s.summary for s in self.result.stages if s.status == "ok" and s.name in ("tls", "app") and s.summary]
        ran = [s for s in self.result.stages if s.status == "ok" and s.summary]
        return "; ".join(got) if got else (ran[-1].summary if ran else ("ok" if self.ok else "failed"))

    def to_dict(self) -> dict:
        found = self.key_finding()
        variant = self.variant
        return {
            "key": variant.key,
            "label": variant.label,
            "kind": variant.kind,
            "changes": {k: _plain(v) for k, v in variant.changes.items()},
            "command": probe_line(variant) if variant.adoptable else None,
            "adoptable": variant.adoptable,
            "status": self.status,
            "timed_out": self.timed_out,
            "timeout_s": self.timeout_s,
            "note": self.note or None,
            "started_ms": None if self.started_ms is None else round(self.started_ms, 3),
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 3),
            "summary": self.summary(),
            "key_finding": None if found is None else {"code": found.code, "title": found.title},
            "findings": [f.to_dict() for f in self.findings],
            "result": self.result.to_json_dict() if self.result is not None else None,
        }


class Diagnosis(NamedTuple):
    conclusion: str  # one sentence: which change makes it work and what that means
    outcomes: tuple[VariantOutcome, ...]  # in the table's order
    findings: tuple[Finding, ...] = ()  # what the variants together showed (tls-intercepted, ...)
    budget_s: float = 10.0
    stage_timeout_s: float = 3.0
    elapsed_ms: float = 0.0
    cancelled: bool = False
    works: str | None = None  # the key of the variant the conclusion recommends, if any

    def outcome(self, key: str) -> VariantOutcome | None:
        return next((o for o in self.outcomes if o.key == key), None)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for o in self.outcomes:
            out[o.status] += 1
        return out

    def to_dict(self) -> dict:
        return {
            "conclusion": self.conclusion,
            "works": self.works,
            "budget_s": self.budget_s,
            "stage_timeout_s": self.stage_timeout_s,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "cancelled": self.cancelled,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "variants": [o.to_dict() for o in self.outcomes],
        }


def probe_line(variant: Variant, environ: Mapping[str, str] | None = None) -> str:
    """The `tlsbench probe` line that runs this variant (with the user's own timeout).

    A variant without proxies says `-x ""` when the environment names a proxy for it: the line would
    otherwise take that proxy back.
    """
    import os

    from tlsbench.engine.equivalents import tlsbench_command
    from tlsbench.errors import InputError
    from tlsbench.engine.route.proxies import proxy_from_environment

    line = tlsbench_command(variant.spec).command
    spec = variant.spec
    if variant.changes.get("proxies") == [] and not spec.proxies:
        try:
            from_env = proxy_from_environment(spec.host, tls=spec.tls.enabled,
                                              environ=os.environ if environ is None else environ) is not None
        except InputError:
            from_env = True  # a variable holds something: say "no proxy" all the same
        if from_env:
            line += " -x ''"
    return line


def _plain(value: Any) -> Any:
    """A changed value as JSON: proxies as their URLs (no password), tuples as lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    url = getattr(value, "url", None)
    return url if url is not None else value

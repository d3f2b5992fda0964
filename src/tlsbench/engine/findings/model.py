"""Findings: the diagnosis a result carries.

Engine records (findings, details, results, events, the spec) are typed NamedTuples: immutable
like frozen dataclasses, but created about six times faster at import, which is a measurable
part of a `tlsbench probe` process's start (see bench/probe.py).

A finding is a stable `code`, a `severity`, a one-line `title`, an `explanation` a person
understands, a `suggestion` (data: engine/suggestions.py), and the `evidence` that proves it
(bytes, alert, verify code, proxy reply). `origin` keeps "the peer did X" apart from "you asked
for X". Findings are made through engine/findings/catalogue.py, which holds every code.
"""


from typing import Literal, NamedTuple

from tlsbench.engine.suggestions import Suggestion, cli_text

Severity = Literal["error", "warning", "info"]
Origin = Literal["peer", "local", "network", "proxy"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class Evidence(NamedTuple):
    """One piece of evidence: a label and a value (text as received, made visible on display)."""

    label: str
    value: str

    def to_dict(self) -> dict:
        return {"label": self.label, "value": self.value}


class Finding(NamedTuple):
    code: str
    severity: Severity
    title: str
    explanation: str
    suggestion: Suggestion
    stage: str | None = None  # the stage it concerns, when there is one
    origin: Origin = "peer"
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "suggestion": cli_text(self.suggestion),  # the CLI's words, one line
            "suggestion_changes": [c.to_dict() for c in self.suggestion.changes],
            "stage": self.stage,
            "origin": self.origin,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def sort_findings(findings: tuple[Finding, ...] | list[Finding]) -> tuple[Finding, ...]:
    """Errors first, then warnings, then info; stable otherwise."""
    return tuple(sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity]))

"""Findings: the diagnosis a result carries.

A finding is a stable `code`, a `severity`, a one-line `title`, an `explanation` a person
understands, a `suggestion`, and the `evidence` that proves it (bytes, alert, verify code,
proxy reply). `origin` keeps "the peer did X" apart from "you asked for X".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]
Origin = Literal["peer", "local", "network", "proxy"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: a label and a value (text as received, made visible on display)."""

    label: str
    value: str

    def to_dict(self) -> dict:
        return {"label": self.label, "value": self.value}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    title: str
    explanation: str
    suggestion: str
    stage: str | None = None  # the stage it concerns, when there is one
    origin: Origin = "peer"
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "suggestion": self.suggestion,
            "stage": self.stage,
            "origin": self.origin,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def sort_findings(findings: tuple[Finding, ...] | list[Finding]) -> tuple[Finding, ...]:
    """Errors first, then warnings, then info; stable otherwise."""
    return tuple(sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity]))

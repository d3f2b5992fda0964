"""Findings about a series of runs as a whole, drawn from its statistics (engine/series/stats.py).

`cert-varies`: the same address answered with more than one leaf certificate across the runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding

if TYPE_CHECKING:
    from tlsbench.engine.series.stats import CertSeen


def _runs_text(cert: CertSeen) -> str:
    shown = sorted(cert.examples)
    more = cert.runs - len(shown)
    runs = ", ".join(f"#{n}" for n in shown)
    if more > 0:
        runs += f", ... ({more} more; last #{cert.last_run})"
    return runs


def cert_varies(target: str, leaves: Sequence, untracked_runs: int = 0) -> Finding | None:
    """`leaves`: CertSeen records, most seen first. None when every run saw the same leaf."""
    distinct = len(leaves) + (1 if untracked_runs else 0)
    if distinct < 2:
        return None
    total = sum(c.runs for c in leaves) + untracked_runs
    evidence = []
    for i, cert in enumerate(leaves, 1):
        evidence.append(Evidence(f"leaf {i} SHA-256", cert.sha256))
        evidence.append(Evidence(f"leaf {i} seen", f"{cert.runs} of {total} runs: {_runs_text(cert)}"))
        evidence.append(Evidence(f"leaf {i} subject", f"{cert.subject} (issuer {cert.issuer})"))
    if untracked_runs:
        evidence.append(Evidence("more leaves", f"{untracked_runs} runs saw still other certificates "
                                                f"(only the first {len(leaves)} are told apart)"))
    return finding(
        "cert-varies",
        f"The server presented {distinct} different certificates over {total} runs",
        f"Every run connected to {target}, yet the leaf certificate was not always the same. A load balancer "
        "whose backends hold different certificates, a certificate renewed on some servers and not yet on "
        "others, or something intercepting some of the connections each look like this: a client then sees "
        "one certificate or another depending on which backend it reaches, and may fail only sometimes.",
        "Compare the certificates below (subject, issuer, validity) and make every backend serve the same "
        "one; the run numbers say which runs reached which (tlsbench probe --count N --json-lines keeps each "
        "run's whole record, chain included).",
        evidence)

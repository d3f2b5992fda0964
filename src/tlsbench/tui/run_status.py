"""How a stage and a run read on screen: one place that says cancelled is 'cancelled', not 'failed'.

The engine records the stage in flight when a run is cancelled as a failure whose summary is
"cancelled" (its socket was closed under it); the workbench shows it as cancelled everywhere:
the stage row, the previous-run note, the compare screen, the verdict.
"""

from __future__ import annotations


def stage_status(record) -> str:
    """ok | failed | skipped | cancelled, from a StageRecord."""
    if record.status == "failed" and (record.summary or "").strip() == "cancelled":
        return "cancelled"
    return record.status


def run_status(result) -> str:
    """ok | failed | cancelled, from a ProbeResult."""
    if result.cancelled:
        return "cancelled"
    return "ok" if result.ok else "failed"


def same_connection(a_profile: str | None, a_spec, b_profile: str | None, b_spec) -> bool:
    """Two runs are of the same connection when they share a profile, or their specs are equal."""
    if a_profile is not None and a_profile == b_profile:
        return True
    return a_spec is not None and a_spec == b_spec

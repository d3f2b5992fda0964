"""Where a stage's time went, in its one-line summary: when one cause took most of the stage (a SYN
sent again, a wait for the server's first byte, a relay's delayed-ACK pause), the summary says how
much of the stage it was, so the waterfall explains its own long bar; the finding says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsbench.engine.stages.context import StageContext

DOMINANT_SHARE = 0.5  # "most of the stage": at least half of it
SLOW_FIRST_BYTE_MS = 100.0  # a wait this long for the server's first byte (tls, app) is worth naming


def wire_ms(ctx: "StageContext") -> float | None:
    """The stage's clock so far: from its first byte on the wire to its last (None before either)."""
    if ctx.wire_start is None or ctx.wire_end is None:
        return None
    return max(ctx.wire_end - ctx.wire_start, 0.0)


def name_dominant(summary: str, part_ms: float, stage_ms: float | None, words: str) -> str:
    """`summary`, with "; P of S ms WORDS" when the part took most of the stage."""
    if stage_ms is None or stage_ms <= 0 or part_ms < DOMINANT_SHARE * stage_ms:
        return summary
    return f"{summary}; {min(part_ms, stage_ms):.0f} of {stage_ms:.0f} ms {words}"

"""What the workbench's repeat mode (F10) knows about a series of runs of one connection.

The statistics are `probe --count`'s own (engine/series/stats.py: each run reduced to a RunDigest and
folded into SeriesStats; engine/findings/series.py for cert-varies); this adds only what a screen
needs beside them: the last RECENT durations of each stage for its sparkline, the stages' labels,
how many runs were asked for, and the last result (shown in the results when the mode is left).
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from tlsbench.engine.findings.model import Finding
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.series.stats import CertSeen, FindingCount, RunDigest, SeriesStats, Sketch, digest, stage_keys

RECENT = 60  # durations kept per stage for its sparkline (the statistics cover every run)
FINGERPRINT_BYTES = 6  # of a certificate's SHA-256 shown as its short fingerprint


class StageLine(NamedTuple):
    key: str
    label: str
    ok: int
    failed: int
    min: float | None
    median: float | None
    p95: float | None
    max: float | None
    recent: tuple[float, ...]  # the last durations of the runs where the stage succeeded, oldest first


def short_fingerprint(sha256: str) -> str:
    """The first bytes of a colon-separated fingerprint: "12:BC:3F:00:9A:01…"."""
    parts = sha256.split(":")
    return ":".join(parts[:FINGERPRINT_BYTES]) + ("…" if len(parts) > FINGERPRINT_BYTES else "")


def _line(key: str, label: str, ok: int, failed: int, sketch: Sketch, recent: tuple[float, ...]) -> StageLine:
    if sketch.count == 0:
        return StageLine(key, label, ok, failed, None, None, None, None, recent)
    return StageLine(key, label, ok, failed, sketch.min, sketch.quantile(0.5), sketch.quantile(0.95), sketch.max,
                     recent)


class RepeatSeries:
    """A series of `count` runs (0: until stopped) of the connection to `target`."""

    def __init__(self, target: str, count: int) -> None:
        self.target = target
        self.count = count
        self.stats = SeriesStats()
        self.done = 0  # runs that ended, cancelled ones included
        self.labels: dict[str, str] = {}
        self.recent: dict[str, deque[float]] = {}
        self.recent_total: deque[float] = deque(maxlen=RECENT)
        self.last: ProbeResult | None = None  # the last run that was not cancelled
        self.last_any: ProbeResult | None = None

    def add(self, result: ProbeResult) -> RunDigest:
        """Fold in one finished run."""
        self.done += 1
        self.last_any = result
        d = digest(result, self.done)
        self.stats.add(d)
        if d.cancelled:
            return d
        self.last = result
        for (key, _, _), record in zip(stage_keys(r.name for r in result.stages), result.stages):
            self.labels.setdefault(key, record.label or record.name)
            if record.status == "ok":
                self.recent.setdefault(key, deque(maxlen=RECENT)).append(float(record.duration_ms))
        self.recent_total.append(float(result.total_ms))
        return d

    def shown(self) -> ProbeResult | None:
        """The run to show when the mode is left: the last complete one, else the cancelled one."""
        return self.last if self.last is not None else self.last_any

    @property
    def finished(self) -> bool:
        """Every run asked for has ended (cancelled runs are not measurements: not counted)."""
        return self.count > 0 and self.stats.runs >= self.count

    def success_rate(self) -> float | None:
        runs = self.stats.runs
        return self.stats.ok / runs if runs else None

    def stage_lines(self) -> list[StageLine]:
        """One line per stage in run order (skipped-only stages left out), then the total."""
        lines = []
        for key in self.stats.order:
            st = self.stats.stages[key]
            if st.ok + st.failed == 0:
                continue
            lines.append(_line(key, self.labels.get(key, key), st.ok, st.failed, st.durations,
                               tuple(self.recent.get(key, ()))))
        lines.append(_line("total", "total", self.stats.ok, self.stats.failed, self.stats.total,
                           tuple(self.recent_total)))
        return lines

    def certificates(self) -> list[CertSeen]:
        """Leaf certificates seen, most seen first."""
        return sorted(self.stats.certs.values(), key=lambda c: (-c.runs, c.first_run))

    def findings(self) -> list[FindingCount]:
        """Each finding code with the number of runs that raised it, worst and most frequent first."""
        from tlsbench.engine.findings.model import SEVERITY_ORDER

        return sorted(self.stats.findings.values(), key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -f.runs, f.code))

    def series_findings(self) -> list[Finding]:
        """Findings about the series as a whole (cert-varies)."""
        return self.stats.series_findings(self.target)

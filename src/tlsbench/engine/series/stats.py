"""Statistics over repeated runs of one connection, kept incrementally in flat memory.

A run is first reduced to a `RunDigest` (a few numbers and names, made where the run ended: a
worker process sends its parent only this), then folded into `SeriesStats`. Nothing grows with
the number of runs:

* durations go into a `Sketch`, a log-bucketed histogram (the DDSketch idea): each value lands in
  bucket ceil(log_g(x)) with g = (1 + a) / (1 - a), so a quantile read back is within a = 0.5% of
  a sample at that rank; min, max, mean and the standard deviation are exact. The buckets used
  grow with log(max / min) (under 2,200 from 1 us to an hour), not with the count;
* local ports are counted in one fixed array of 65,536 counters;
* findings and leaf certificates are counted per distinct code / fingerprint (certificates up to
  MAX_CERTIFICATES, with a bounded list of example runs each).

Stages are keyed generically by name and occurrence among the run's records of that name
(`proxy`, `proxy#2`), never from a fixed list, so a run with several hops keeps one row per hop.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Iterable, NamedTuple

from tlsbench.engine.findings.model import SEVERITY_ORDER

if TYPE_CHECKING:
    from tlsbench.engine.records.result import ProbeResult

ACCURACY = 0.005  # relative accuracy of the quantiles a Sketch reads back
MAX_CERTIFICATES = 1000  # distinct leaf fingerprints tracked one by one; more are only counted
EXAMPLE_RUNS = 8  # run numbers kept per certificate (the first ones; the last is kept apart)
MOST_USED_PORTS = 5


class RunDigest(NamedTuple):
    """What the statistics need from one run (and, for --json-lines, the run's whole JSON object)."""

    run: int  # 1-based, in the order runs were handed out
    ok: bool
    cancelled: bool
    total_ms: float
    stages: tuple[tuple[str, str, float], ...]  # (name, status, duration_ms), in the run's order
    findings: tuple[tuple[str, str, str, str | None, str], ...]  # (code, severity, title, stage, origin)
    local_port: int | None = None
    ephemeral_range: tuple[int, int] | None = None
    leaf: tuple[str, str, str] | None = None  # (sha256, subject, issuer) of the leaf the peer sent
    line: str | None = None  # the single-run JSON object, one line, when asked for
    peer_address: str | None = None  # the address connected to (the first proxy's, via proxies)


def digest(result: ProbeResult, run: int, *, json_line: bool = False) -> RunDigest:
    """Reduce a ProbeResult to a RunDigest; `json_line` also serializes the whole result."""
    seen: dict[str, tuple] = {}
    for f in result.findings:
        seen.setdefault(f.code, (f.code, f.severity, f.title, f.stage, f.origin))
    chain = result.chain
    leaf = None
    if chain is not None and chain.certificates:
        cert = chain.certificates[0]
        leaf = (cert.sha256, cert.subject, cert.issuer)
    line = None
    if json_line:
        from tlsbench.engine.records import jsonout

        obj = {"run": run, **result.to_json_dict()}
        line = jsonout.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str)
    sock = result.socket
    ports = sock.ephemeral_range
    return RunDigest(run, bool(result.ok), bool(result.cancelled), float(result.total_ms),
                     tuple((s.name, s.status, float(s.duration_ms)) for s in result.stages), tuple(seen.values()),
                     sock.local_port, (ports[0], ports[1]) if ports else None, leaf, line,
                     sock.peer_address)


def stage_keys(names: Iterable[str]) -> list[tuple[str, str, int]]:
    """(key, name, occurrence) for each record name in order: the second `proxy` is `proxy#2`."""
    counts: dict[str, int] = {}
    out = []
    for name in names:
        n = counts.get(name, 0) + 1
        counts[name] = n
        out.append((name if n == 1 else f"{name}#{n}", name, n))
    return out


# --- durations ------------------------------------------------------------------------------------

_GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_TINY = 1e-9  # below this a duration is counted as zero


class Sketch:
    """Quantiles within ACCURACY (relative) in memory that does not grow with the count."""

    __slots__ = ("buckets", "zeros", "count", "min", "max", "mean", "_m2")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.zeros = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf
        self.mean = 0.0
        self._m2 = 0.0

    def add(self, x: float) -> None:
        self.count += 1
        delta = x - self.mean  # Welford: an exact running mean and variance
        self.mean += delta / self.count
        self._m2 += delta * (x - self.mean)
        if x < self.min:
            self.min = x
        if x > self.max:
            self.max = x
        if x <= _TINY:
            self.zeros += 1
        else:
            i = math.ceil(math.log(x) / _LOG_GAMMA)
            self.buckets[i] = self.buckets.get(i, 0) + 1

    @property
    def stdev(self) -> float:
        return math.sqrt(self._m2 / (self.count - 1)) if self.count > 1 else 0.0

    def quantile(self, q: float) -> float | None:
        """The value at rank floor(q * (count - 1)) of the sorted samples, within ACCURACY."""
        if self.count == 0:
            return None
        rank = math.floor(q * (self.count - 1))
        if rank < self.zeros:
            return max(self.min, 0.0)
        seen = self.zeros
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen > rank:
                value = 2 * _GAMMA ** i / (_GAMMA + 1)  # the bucket's midpoint in relative terms
                return min(max(value, self.min), self.max)
        return self.max

    def to_dict(self) -> dict | None:
        if self.count == 0:
            return None

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {"count": self.count, "min": r(self.min), "median": r(self.quantile(0.5)),
                "p95": r(self.quantile(0.95)), "max": r(self.max), "mean": r(self.mean), "stdev": r(self.stdev)}


class StageStats:
    __slots__ = ("key", "name", "occurrence", "ok", "failed", "skipped", "durations", "failed_durations")

    def __init__(self, key: str, name: str, occurrence: int) -> None:
        self.key, self.name, self.occurrence = key, name, occurrence
        self.ok = self.failed = self.skipped = 0
        self.durations = Sketch()  # of the runs where the stage succeeded
        self.failed_durations = Sketch()  # of the runs where it failed

    def add(self, status: str, duration_ms: float) -> None:
        if status == "ok":
            self.ok += 1
            self.durations.add(duration_ms)
        elif status == "failed":
            self.failed += 1
            self.failed_durations.add(duration_ms)
        else:
            self.skipped += 1

    def to_dict(self, runs: int) -> dict:
        ran = self.ok + self.failed
        return {"key": self.key, "name": self.name, "occurrence": self.occurrence, "ok": self.ok,
                "failed": self.failed, "skipped": self.skipped, "absent": runs - ran - self.skipped,
                "success_rate": round(self.ok / ran, 4) if ran else None,
                "duration_ms": self.durations.to_dict(), "failed_duration_ms": self.failed_durations.to_dict()}


# --- ports ----------------------------------------------------------------------------------------

class PortUse:
    """Local (ephemeral) ports: one counter per possible port, so memory is fixed (256 KiB)."""

    def __init__(self) -> None:
        self.counts = array("I", bytes(4 * 65536))
        self.runs = 0
        self.distinct = 0
        self.reuses = 0  # runs that got a port an earlier run had already used
        self.first_reuse: tuple[int, int] | None = None  # (run, port)
        self.lowest: int | None = None
        self.highest: int | None = None
        self.ephemeral_range: tuple[int, int] | None = None
        self.outside_range = 0

    def add(self, port: int, run: int, ephemeral_range: tuple[int, int] | None) -> None:
        if not 0 <= port <= 65535:
            return
        self.runs += 1
        used = self.counts[port]
        if used == 0:
            self.distinct += 1
        else:
            self.reuses += 1
            if self.first_reuse is None:
                self.first_reuse = (run, port)
        self.counts[port] = min(used + 1, 0xFFFFFFFF)
        self.lowest = port if self.lowest is None else min(self.lowest, port)
        self.highest = port if self.highest is None else max(self.highest, port)
        if ephemeral_range and self.ephemeral_range is None:
            self.ephemeral_range = ephemeral_range
        rng = self.ephemeral_range
        if rng and not rng[0] <= port <= rng[1]:
            self.outside_range += 1

    def to_dict(self) -> dict:
        counts = self.counts
        reused = [(c, p) for p, c in enumerate(counts) if c > 1] if self.reuses else []
        reused.sort(key=lambda cp: (-cp[0], cp[1]))
        rng = self.ephemeral_range
        return {"runs": self.runs, "lowest": self.lowest, "highest": self.highest, "distinct": self.distinct,
                "reused_ports": len(reused), "runs_on_a_reused_port": self.reuses,
                "first_reuse": ({"run": self.first_reuse[0], "port": self.first_reuse[1]}
                                if self.first_reuse else None),
                "most_reused": [{"port": p, "runs": c} for c, p in reused[:MOST_USED_PORTS]],
                "ephemeral_range": list(rng) if rng else None,
                "range_size": rng[1] - rng[0] + 1 if rng else None,
                "outside_range": self.outside_range}


# --- certificates ---------------------------------------------------------------------------------

class CertSeen:
    __slots__ = ("sha256", "subject", "issuer", "runs", "first_run", "last_run", "examples")

    def __init__(self, sha256: str, subject: str, issuer: str, run: int) -> None:
        self.sha256, self.subject, self.issuer = sha256, subject, issuer
        self.runs = 0
        self.first_run = self.last_run = run
        self.examples: list[int] = []

    def add(self, run: int) -> None:
        self.runs += 1
        self.first_run = min(self.first_run, run)
        self.last_run = max(self.last_run, run)
        if len(self.examples) < EXAMPLE_RUNS:
            self.examples.append(run)

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "subject": self.subject, "issuer": self.issuer, "runs": self.runs,
                "first_run": self.first_run, "last_run": self.last_run, "example_runs": sorted(self.examples)}


class FindingCount:
    __slots__ = ("code", "severity", "title", "stage", "origin", "runs", "first_run", "last_run")

    def __init__(self, code: str, severity: str, title: str, stage: str | None, origin: str, run: int) -> None:
        self.code, self.severity, self.title, self.stage, self.origin = code, severity, title, stage, origin
        self.runs = 0
        self.first_run = self.last_run = run

    def to_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "title": self.title, "stage": self.stage,
                "origin": self.origin, "runs": self.runs, "first_run": self.first_run, "last_run": self.last_run}


# --- the series -----------------------------------------------------------------------------------

class SeriesStats:
    """Everything `probe --count` reports, folded in one RunDigest at a time."""

    def __init__(self) -> None:
        self.runs = self.ok = self.failed = self.cancelled = 0
        self.total = Sketch()
        self.stages: dict[str, StageStats] = {}
        self.order: list[str] = []  # stage keys in run order, merged over runs
        self.findings: dict[str, FindingCount] = {}
        self.ports = PortUse()
        self.certs: dict[str, CertSeen] = {}
        self.untracked_cert_runs = 0  # runs whose leaf came after MAX_CERTIFICATES distinct ones

    def add(self, d: RunDigest) -> None:
        if d.cancelled:  # stopped half-way by the user: not a measurement
            self.cancelled += 1
            return
        self.runs += 1
        if d.ok:
            self.ok += 1
        else:
            self.failed += 1
        self.total.add(d.total_ms)
        previous = None
        for (key, name, occurrence), (_, status, duration) in zip(stage_keys(s[0] for s in d.stages), d.stages):
            stats = self.stages.get(key)
            if stats is None:
                stats = self.stages[key] = StageStats(key, name, occurrence)
                at = self.order.index(previous) + 1 if previous is not None else 0
                self.order.insert(at, key)
            stats.add(status, duration)
            previous = key
        for code, severity, title, stage, origin in d.findings:
            count = self.findings.get(code)
            if count is None:
                count = self.findings[code] = FindingCount(code, severity, title, stage, origin, d.run)
            count.runs += 1
            count.first_run = min(count.first_run, d.run)
            count.last_run = max(count.last_run, d.run)
        if d.local_port is not None:
            self.ports.add(d.local_port, d.run, d.ephemeral_range)
        if d.leaf is not None:
            sha, subject, issuer = d.leaf
            seen = self.certs.get(sha)
            if seen is None:
                if len(self.certs) >= MAX_CERTIFICATES:
                    self.untracked_cert_runs += 1
                    return
                seen = self.certs[sha] = CertSeen(sha, subject, issuer, d.run)
            seen.add(d.run)

    def summary(self) -> dict:
        """The statistics as JSON-ready data (the part of the summary object that comes from runs)."""
        findings = sorted(self.findings.values(), key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -f.runs, f.code))
        certs = sorted(self.certs.values(), key=lambda c: (-c.runs, c.first_run))
        return {
            "runs": self.runs, "succeeded": self.ok, "failed": self.failed, "cancelled": self.cancelled,
            "success_rate": round(self.ok / self.runs, 4) if self.runs else None,
            "total_ms": self.total.to_dict(),
            "stages": [self.stages[key].to_dict(self.runs) for key in self.order],
            "findings": [f.to_dict() for f in findings],
            "ports": self.ports.to_dict(),
            "certificates": {"distinct": len(self.certs) + (1 if self.untracked_cert_runs else 0),
                             "untracked_runs": self.untracked_cert_runs,
                             "leaves": [c.to_dict() for c in certs]},
        }

    def series_findings(self, target: str) -> list:
        """Findings about the series as a whole (today: cert-varies)."""
        from tlsbench.engine.findings.series import cert_varies

        leaves = sorted(self.certs.values(), key=lambda c: (-c.runs, c.first_run))
        found = cert_varies(target, leaves, self.untracked_cert_runs)
        return [found] if found is not None else []

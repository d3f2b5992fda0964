"""What changed from one run of a connection to the next (`probe --watch`): a small pure detector.

    watch = Watch()
    for digest in runs:
        changes = watch.see(digest, medians)  # [] for the first run (the baseline) and for a quiet run

A change is one of:

* `verdict`: ok -> failed, failed -> ok, or failed for another reason (the key finding's code);
* `finding-added` / `finding-removed`: a finding code that the previous run did not have / had;
* `certificate`: a leaf whose SHA-256 differs from the last leaf seen (a run without a leaf, one
  that failed before the certificate, changes nothing here: the verdict says it);
* `address`: the address connected to differs from the last one seen (the proxy's, via a proxy);
* `slow-stage`: a stage that succeeded took more than SLOW_FACTOR x its median over the earlier
  runs, with at least SLOW_MIN_RUNS earlier samples and SLOW_MIN_EXCESS_MS above that median
  (millisecond stages on loopback double and triple from scheduling alone; that is not news). Local
  stages (the chain: tlsbench's own parsing, not the network) are left out.

Cancelled runs (Ctrl-C) are not compared and leave the baseline as it was.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from tlsbench.engine.plan import KINDS
from tlsbench.engine.series.stats import RunDigest, SeriesStats, stage_keys

SLOW_FACTOR = 2.0  # a stage more than this many times its median is "slow"
SLOW_MIN_RUNS = 5  # earlier successful samples of a stage before its median is trusted
# ... and the stage must be at least this much above its median: on a busy 2-core machine a loopback
# connect of 0.2 ms was seen at 1.4 ms and an HTTP answer of 0.9 ms at 3.7 ms from scheduling alone
SLOW_MIN_EXCESS_MS = 5.0

CHANGE_KINDS = ("verdict", "finding-added", "finding-removed", "certificate", "address", "slow-stage")


class Median(NamedTuple):
    """A stage's median over the earlier runs where it succeeded, and how many there were."""

    runs: int
    median_ms: float | None


class RunChange(NamedTuple):
    """One change, as data. `before`/`after` hold what changed; the other fields depend on `what`."""

    what: str  # one of CHANGE_KINDS
    before: str | None = None
    after: str | None = None
    code: str | None = None  # finding-added / finding-removed: the code; verdict: the key finding now
    severity: str | None = None  # finding-added: its severity
    title: str | None = None  # finding-added: its title
    stage: str | None = None  # slow-stage: the stage key ("tcp", "proxy#2")
    ms: float | None = None  # slow-stage: this run's duration
    median_ms: float | None = None  # slow-stage: the median over the earlier runs
    factor: float | None = None  # slow-stage: ms / median_ms

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: `what` first, then only the fields this kind of change has."""
        out: dict[str, Any] = {"what": self.what}
        for name in self._fields[1:]:
            value = getattr(self, name)
            if value is not None:
                out[name] = round(value, 3) if isinstance(value, float) else value
        return out


def verdict_of(d: RunDigest) -> str:
    """'ok', or 'failed (code)' with the run's first error finding (its first finding if none is an error)."""
    if d.ok:
        return "ok"
    errors = [f[0] for f in d.findings if f[1] == "error"] or [f[0] for f in d.findings]
    return f"failed ({errors[0]})" if errors else "failed"


def _key_code(d: RunDigest) -> str | None:
    verdict = verdict_of(d)
    return verdict[len("failed ("):-1] if verdict.startswith("failed (") else None


class Watch:
    """The baseline a run is compared with: the previous run, the last leaf and address seen."""

    def __init__(self) -> None:
        self.previous: RunDigest | None = None
        self.leaf: str | None = None
        self.address: str | None = None

    def see(self, d: RunDigest, medians: Mapping[str, Median] | None = None) -> list[RunChange]:
        """The changes `d` brings against the runs before it; `medians` by stage key, before `d`."""
        if d.cancelled:
            return []
        prev = self.previous
        changes: list[RunChange] = []
        if prev is not None:
            before, after = verdict_of(prev), verdict_of(d)
            if before != after:
                changes.append(RunChange("verdict", before, after, code=_key_code(d)))
            had = {f[0] for f in prev.findings}
            now = {f[0] for f in d.findings}
            for code, severity, title, _stage, _origin in d.findings:
                if code not in had:
                    changes.append(RunChange("finding-added", code=code, severity=severity, title=title))
            for code, *_ in prev.findings:
                if code not in now:
                    changes.append(RunChange("finding-removed", code=code))
        leaf = d.leaf[0] if d.leaf is not None else None
        if leaf is not None:
            if self.leaf is not None and leaf != self.leaf:
                changes.append(RunChange("certificate", self.leaf, leaf))
            self.leaf = leaf
        if d.peer_address is not None:
            if self.address is not None and d.peer_address != self.address:
                changes.append(RunChange("address", self.address, d.peer_address))
            self.address = d.peer_address
        if prev is not None and medians:
            changes += slow_stages(d, medians)
        self.previous = d
        return changes


def medians(stats: SeriesStats) -> dict[str, Median]:
    """Each stage's median so far (over the runs where it succeeded), by stage key."""
    return {key: Median(st.durations.count, st.durations.quantile(0.5)) for key, st in stats.stages.items()}


def slow_stages(d: RunDigest, medians: Mapping[str, Median]) -> list[RunChange]:
    out = []
    for (key, name, _n), (_, status, ms) in zip(stage_keys(s[0] for s in d.stages), d.stages):
        kind = KINDS.get(name)
        if kind is not None and kind.local:
            continue  # tlsbench's own work (the chain stage parses certificates once a minute)
        known = medians.get(key)
        if status != "ok" or known is None or known.median_ms is None or known.runs < SLOW_MIN_RUNS:
            continue
        median = known.median_ms
        if ms > SLOW_FACTOR * median and ms - median >= SLOW_MIN_EXCESS_MS:
            factor = ms / median if median > 0 else float("inf")
            out.append(RunChange("slow-stage", stage=key, ms=ms, median_ms=median, factor=round(factor, 1)))
    return out


def words(change: RunChange, arrow: str = "→") -> str:
    """A change in plain words: 'verdict ok → failed (tcp-refused)', 'new finding no-sni', ...

    Codes, fingerprints and addresses are the tool's or the OS's own words; a finding's title,
    which may quote the peer, is left out here (the JSON carries it).
    """
    w = change.what
    if w == "verdict":
        return f"verdict {change.before} {arrow} {change.after}"
    if w == "finding-added":
        return f"new finding {change.code}"
    if w == "finding-removed":
        return f"finding gone: {change.code}"
    if w == "certificate":
        return f"certificate changed: {_short(change.before)} {arrow} {_short(change.after)}"
    if w == "address":
        return f"address {change.before} {arrow} {change.after}"
    if w == "slow-stage":
        return (f"{_stage_label(change.stage or '')} {change.ms or 0.0:.1f} ms, {change.factor or 0.0:.1f}× its median "
                f"{change.median_ms or 0.0:.1f} ms")
    return w


def _stage_label(key: str) -> str:
    """'tcp connect' for "tcp", 'proxy#2' stays as it is (the key names the hop)."""
    kind = KINDS.get(key)
    return kind.label if kind is not None else key


def _short(sha: str | None) -> str:
    """The first 8 bytes of a fingerprint, 'AB:CD:…' style."""
    if sha is None:
        return "(none)"
    return sha[:23] + ("…" if len(sha) > 23 else "")

"""The change detector of `probe --watch` (engine/series/changes.py): runs as digests, changes as data and words."""

from __future__ import annotations

from tlsbench.engine.series.changes import (SLOW_MIN_EXCESS_MS, SLOW_MIN_RUNS, Median, RunChange, Watch, medians,
                                     verdict_of, words)
from tlsbench.engine.series.stats import RunDigest, SeriesStats

LEAF_A = "AB:CD:EF:01:23:45:67:89:" + "00:" * 23 + "AA"
LEAF_B = "12:34:56:78:9A:BC:DE:F0:" + "11:" * 23 + "BB"
OK_STAGES = (("resolve", "ok", 0.1), ("tcp", "ok", 0.2), ("tls", "ok", 3.0), ("chain", "ok", 0.3))


def run(n: int, *, ok: bool = True, findings: tuple[tuple[str, str], ...] = (), leaf: str | None = LEAF_A,
        address: str | None = "127.0.0.1", stages: tuple[tuple[str, str, float], ...] = OK_STAGES,
        cancelled: bool = False) -> RunDigest:
    found = tuple((code, severity, f"title of {code}", "tls", "peer") for code, severity in findings)
    return RunDigest(n, ok, cancelled, sum(s[2] for s in stages), stages, found, 40000 + n, None,
                     (leaf, "CN=x", "CN=ca") if leaf else None, None, address)


def test_the_first_run_is_the_baseline_and_a_quiet_run_changes_nothing() -> None:
    w = Watch()
    assert w.see(run(1)) == []
    assert w.see(run(2)) == []


def test_verdict_and_findings() -> None:
    w = Watch()
    w.see(run(1, findings=(("no-sni", "warning"),)))
    changes = w.see(run(2, ok=False, leaf=None, address=None, findings=(("tcp-refused", "error"),),
                        stages=(("resolve", "ok", 0.1), ("tcp", "failed", 0.1))))
    assert [c.what for c in changes] == ["verdict", "finding-added", "finding-removed"]
    verdict, added, gone = changes
    assert (verdict.before, verdict.after, verdict.code) == ("ok", "failed (tcp-refused)", "tcp-refused")
    assert words(verdict) == "verdict ok → failed (tcp-refused)"
    assert words(added) == "new finding tcp-refused" and added.severity == "error"
    assert words(gone) == "finding gone: no-sni"
    assert verdict.to_dict() == {"what": "verdict", "before": "ok", "after": "failed (tcp-refused)",
                                 "code": "tcp-refused"}
    # back to ok: the verdict again, and the failure's finding gone; a leaf/address missing changed nothing
    back = w.see(run(3, findings=(("no-sni", "warning"),)))
    assert [words(c) for c in back] == ["verdict failed (tcp-refused) → ok", "new finding no-sni",
                                        "finding gone: tcp-refused"]


def test_the_key_finding_of_a_failure_is_its_first_error() -> None:
    assert verdict_of(run(1, ok=False, findings=(("no-sni", "warning"), ("tls-alert", "error")))) == \
        "failed (tls-alert)"
    assert verdict_of(run(1, ok=False)) == "failed"


def test_certificate_and_address_against_the_last_seen() -> None:
    w = Watch()
    w.see(run(1))
    w.see(run(2, ok=False, leaf=None, address=None, findings=(("tcp-refused", "error"),)))
    changes = w.see(run(3, leaf=LEAF_B, address="127.0.0.2", findings=()))
    cert = next(c for c in changes if c.what == "certificate")
    addr = next(c for c in changes if c.what == "address")
    assert (cert.before, cert.after) == (LEAF_A, LEAF_B)  # against run 1's, not run 2's missing leaf
    assert words(cert) == "certificate changed: AB:CD:EF:01:23:45:67:89… → 12:34:56:78:9A:BC:DE:F0…"
    assert words(addr) == "address 127.0.0.1 → 127.0.0.2"
    assert addr.to_dict() == {"what": "address", "before": "127.0.0.1", "after": "127.0.0.2"}


def test_a_stage_more_than_twice_its_median() -> None:
    stats = SeriesStats()
    w = Watch()
    for n in range(1, SLOW_MIN_RUNS + 1):
        d = run(n, stages=(("tcp", "ok", 15.8), ("tls", "ok", 3.0), ("chain", "ok", 0.3)))
        assert w.see(d, medians(stats)) == []
        stats.add(d)
    slow = run(9, stages=(("tcp", "ok", 41.2), ("tls", "ok", 5.9), ("chain", "ok", 30.0)))
    changes = w.see(slow, medians(stats))
    # tcp: 2.6x; tls: under 2x; chain: tlsbench's own work (local), never compared
    assert [c.what for c in changes] == ["slow-stage"]
    (c,) = changes
    assert c.stage == "tcp" and c.factor == 2.6 and abs((c.median_ms or 0) - 15.8) < 0.1
    assert words(c) == "tcp connect 41.2 ms, 2.6× its median 15.8 ms"
    assert c.to_dict()["what"] == "slow-stage" and c.to_dict()["ms"] == 41.2


def test_slow_needs_enough_runs_and_a_real_excess() -> None:
    w = Watch()
    w.see(run(1))
    few = {"tcp": Median(SLOW_MIN_RUNS - 1, 10.0)}
    assert w.see(run(2, stages=(("tcp", "ok", 50.0),)), few) == []
    tiny = {"tcp": Median(50, 0.2)}  # 0.2 -> 1.4 ms: seven times, but scheduling noise on loopback
    assert w.see(run(3, stages=(("tcp", "ok", 1.4),)), tiny) == []
    small = {"tcp": Median(50, 4.0)}  # 4 -> 8.9 ms: over twice, yet under SLOW_MIN_EXCESS_MS more
    assert 8.9 - 4.0 < SLOW_MIN_EXCESS_MS
    assert w.see(run(4, stages=(("tcp", "ok", 8.9),)), small) == []
    failed = {"tcp": Median(50, 10.0)}  # a failed stage's time is the failure's, not slowness
    assert [c.what for c in w.see(run(5, ok=False, stages=(("tcp", "failed", 90.0),)), failed)
            if c.what == "slow-stage"] == []


def test_cancelled_runs_are_not_compared() -> None:
    w = Watch()
    w.see(run(1))
    assert w.see(run(2, ok=False, cancelled=True, leaf=None)) == []
    assert w.see(run(3)) == []  # still compared with run 1


def test_every_kind_has_words_and_json() -> None:
    for change in (RunChange("verdict", "ok", "failed"), RunChange("finding-added", code="x"),
                   RunChange("finding-removed", code="x"), RunChange("certificate", LEAF_A, LEAF_B),
                   RunChange("address", "a", "b"),
                   RunChange("slow-stage", stage="proxy#2", ms=9.0, median_ms=3.0, factor=3.0)):
        assert words(change) and change.to_dict()["what"] == change.what
    assert words(RunChange("slow-stage", stage="proxy#2", ms=9.0, median_ms=3.0, factor=3.0)).startswith("proxy#2 ")

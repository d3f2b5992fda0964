"""Statistics over repeated runs (engine/series/stats.py): quantiles, stage keys, ports, certificates, cert-varies.

The arithmetic is checked on data; a real run against s_server checks what a digest takes from a
ProbeResult (and that a second record of one stage, as a proxy chain will give, gets its own row).
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from tlsbench.engine.series.stats import (ACCURACY, EXAMPLE_RUNS, PortUse, RunDigest, SeriesStats, Sketch, digest,
                                   stage_keys)

STAGES_OK = (("resolve", "ok", 0.1), ("tcp", "ok", 0.2), ("proxy", "skipped", 0.0), ("tls", "ok", 2.0),
             ("chain", "ok", 0.5), ("app", "skipped", 0.0))


def make(run: int, *, ok: bool = True, stages=STAGES_OK, findings=(), port: int | None = 40000,
         leaf=("AA:BB", "CN=a", "CN=ca"), cancelled: bool = False, total: float = 3.0) -> RunDigest:
    return RunDigest(run, ok, cancelled, total, stages, findings, port, (32768, 60999), leaf)


def exact_rank(samples: list[float], q: float) -> float:
    return sorted(samples)[math.floor(q * (len(samples) - 1))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketch_quantiles_within_the_stated_accuracy(seed):
    rng = random.Random(seed)
    samples = [rng.lognormvariate(0, 1.5) for _ in range(20000)] + [0.0] * 7
    sketch = Sketch()
    for x in samples:
        sketch.add(x)
    for q in (0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0):
        want, got = exact_rank(samples, q), sketch.quantile(q)
        assert abs(got - want) <= ACCURACY * want + 1e-12, (q, want, got)
    assert sketch.min == min(samples) and sketch.max == max(samples)
    assert sketch.mean == pytest.approx(statistics.fmean(samples), rel=1e-9)
    assert sketch.stdev == pytest.approx(statistics.stdev(samples), rel=1e-6)


def test_sketch_memory_does_not_grow_with_the_count():
    rng = random.Random(7)
    sketch = Sketch()
    for _ in range(100_000):
        sketch.add(rng.uniform(0.05, 50.0))
    # log(50 / 0.05) / log(gamma) buckets at most: about 691, whatever the count.
    assert len(sketch.buckets) <= math.ceil(math.log(1000) / math.log((1 + ACCURACY) / (1 - ACCURACY))) + 1
    assert sketch.count == 100_000


def test_small_series_read_exactly_at_their_ranks():
    sketch = Sketch()
    for x in (5.0, 1.0, 3.0):
        sketch.add(x)
    assert sketch.quantile(0.5) == pytest.approx(3.0, rel=ACCURACY)
    assert sketch.to_dict()["min"] == 1.0 and sketch.to_dict()["max"] == 5.0
    assert Sketch().to_dict() is None and Sketch().quantile(0.5) is None


def test_stage_keys_number_repeated_names():
    names = ["resolve", "tcp", "proxy", "proxy", "proxy-tls", "proxy", "tls"]
    assert [k for k, _, _ in stage_keys(names)] == ["resolve", "tcp", "proxy", "proxy#2", "proxy-tls", "proxy#3",
                                                    "tls"]
    assert stage_keys(["proxy", "proxy"])[1] == ("proxy#2", "proxy", 2)


def test_series_keeps_one_row_per_hop_in_run_order():
    one_hop = (("resolve", "ok", 0.1), ("tcp", "ok", 0.2), ("proxy", "ok", 1.0), ("tls", "ok", 2.0))
    two_hops = (("resolve", "ok", 0.1), ("tcp", "ok", 0.2), ("proxy", "ok", 1.5), ("proxy", "ok", 4.0),
                ("tls", "ok", 2.0))
    stats = SeriesStats()
    stats.add(make(1, stages=one_hop))
    stats.add(make(2, stages=two_hops))
    stats.add(make(3, stages=two_hops))
    summary = stats.summary()
    rows = {s["key"]: s for s in summary["stages"]}
    assert [s["key"] for s in summary["stages"]] == ["resolve", "tcp", "proxy", "proxy#2", "tls"]
    assert rows["proxy"]["duration_ms"]["count"] == 3 and rows["proxy#2"]["duration_ms"]["count"] == 2
    assert rows["proxy#2"]["absent"] == 1 and rows["proxy#2"]["occurrence"] == 2
    assert rows["proxy#2"]["duration_ms"]["min"] == 4.0


def test_success_rate_failed_durations_and_finding_counts():
    stats = SeriesStats()
    failed_tls = (("resolve", "ok", 0.1), ("tcp", "ok", 0.2), ("tls", "failed", 9.0), ("chain", "skipped", 0.0))
    ok_tls = (("resolve", "ok", 0.1), ("tcp", "ok", 0.2), ("tls", "ok", 2.0), ("chain", "ok", 0.5))
    finding = ("tls-timeout", "error", "timed out", "tls", "peer")
    for run in range(1, 11):
        if run % 2:
            stats.add(make(run, ok=False, stages=failed_tls, findings=(finding,)))
        else:
            stats.add(make(run, stages=ok_tls))
    stats.add(make(11, cancelled=True))
    s = stats.summary()
    assert (s["runs"], s["succeeded"], s["failed"], s["cancelled"], s["success_rate"]) == (10, 5, 5, 1, 0.5)
    tls = next(r for r in s["stages"] if r["key"] == "tls")
    assert (tls["ok"], tls["failed"], tls["success_rate"]) == (5, 5, 0.5)
    assert tls["duration_ms"]["max"] == 2.0 and tls["failed_duration_ms"]["min"] == 9.0
    chain = next(r for r in s["stages"] if r["key"] == "chain")
    assert (chain["ok"], chain["skipped"], chain["success_rate"]) == (5, 5, 1.0)
    assert s["findings"] == [{"code": "tls-timeout", "severity": "error", "title": "timed out", "stage": "tls",
                              "origin": "peer", "runs": 5, "first_run": 1, "last_run": 9}]


def test_ports_distinct_reused_and_against_the_range():
    ports = PortUse()
    for run, port in enumerate([40000, 40001, 40000, 40002, 40000, 40001, 1000], 1):
        ports.add(port, run, (32768, 60999))
    d = ports.to_dict()
    assert (d["lowest"], d["highest"], d["distinct"]) == (1000, 40002, 4)
    assert (d["reused_ports"], d["runs_on_a_reused_port"]) == (2, 3)
    assert d["first_reuse"] == {"run": 3, "port": 40000}
    assert d["most_reused"] == [{"port": 40000, "runs": 3}, {"port": 40001, "runs": 2}]
    assert d["outside_range"] == 1 and d["range_size"] == 28232


def test_one_certificate_is_no_finding_two_are_cert_varies():
    stats = SeriesStats()
    for run in range(1, 5):
        stats.add(make(run))
    assert stats.series_findings("x:443") == []
    for run in range(5, 25):
        leaf = ("CC:DD", "CN=b", "CN=ca") if run % 2 else ("AA:BB", "CN=a", "CN=ca")
        stats.add(make(run, leaf=leaf))
    (finding,) = stats.series_findings("x:443")
    assert finding.code == "cert-varies" and finding.severity == "warning" and finding.stage == "chain"
    assert "2 different certificates over 24 runs" in finding.title
    evidence = {e.label: e.value for e in finding.evidence}
    assert evidence["leaf 1 SHA-256"] == "AA:BB" and evidence["leaf 2 SHA-256"] == "CC:DD"
    assert evidence["leaf 1 seen"].startswith("14 of 24 runs: #1, #2, #3, #4, #6")
    assert f"({10 - EXAMPLE_RUNS} more; last #23)" in evidence["leaf 2 seen"]
    certs = stats.summary()["certificates"]
    assert certs["distinct"] == 2 and [c["runs"] for c in certs["leaves"]] == [14, 10]


def test_digest_of_a_real_run_and_a_second_hop(tls_server, lab_certs):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    server = tls_server("good")
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    assert result.ok, result.findings
    d = digest(result, 7, json_line=True)
    assert d.run == 7 and d.ok and not d.cancelled
    assert [s[0] for s in d.stages] == [s.name for s in result.stages]
    assert d.local_port == result.socket.local_port and d.ephemeral_range == result.socket.ephemeral_range
    assert d.leaf[0] == result.chain.certificates[0].sha256 and "localhost" in d.leaf[1]
    import json

    line = json.loads(d.line)
    assert line["run"] == 7 and line["stages"] == result.to_json_dict()["stages"]
    # The engine will record one proxy stage per hop: the statistics take them as they come.
    proxy = result.stage("proxy")
    hop = proxy._replace(status="ok", duration_ms=1.25)
    stages = list(result.stages)
    at = stages.index(proxy)
    stages[at:at + 1] = [hop, hop._replace(duration_ms=2.5)]
    stats = SeriesStats()
    stats.add(digest(result._replace(stages=tuple(stages)), 1))
    keys = [s["key"] for s in stats.summary()["stages"]]
    assert keys == ["resolve", "tcp", "proxy", "proxy#2", "tls", "chain", "app"]
    assert stats.summary()["stages"][3]["duration_ms"]["max"] == 2.5

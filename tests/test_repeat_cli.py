"""`tlsbench probe --count N` as a user runs it: real servers, real processes, the summary contracts.

s_server, nginx and microsocks as in the other probe tests; a small round-robin forwarder
(tests/roundrobin.py) puts two servers behind one address, as a load balancer does.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roundrobin import RoundRobin
from test_probe_cli import assert_one_line_error

from tests.terminal import run_with_tty_stderr

pytestmark = pytest.mark.servers
STAGES = ["resolve", "tcp", "proxy", "tls", "chain", "app"]


def probe(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def spawn(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tlsbench", "probe", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, **kw)


def fingerprint(pem_path: Path) -> str:
    """SHA-256 of the first certificate in a PEM file, as tlsbench writes it (AA:BB:...)."""
    import ssl

    der = ssl.PEM_cert_to_DER_cert(pem_path.read_text())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def os_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def rows(summary: dict) -> dict:
    return {s["key"]: s for s in summary["stages"]}


@pytest.mark.parametrize("args, words", [
    (["--count", "0"], ["--count", "at least 1", "0"]),
    (["--count", "ten"], ["--count", "whole number", "ten"]),
    (["--count", "3", "--interval=-1"], ["--interval", "-1"]),  # -1 alone reads as a flag: -4/-6 exist
    (["--count", "3", "--interval", "inf"], ["--interval", "inf"]),
    (["--count", "3", "--interval", "soon"], ["--interval", "soon"]),
    (["--count", "3", "--concurrency", "0"], ["--concurrency", "0"]),
    (["--count", "3", "--concurrency", "1000000"], ["--concurrency", "1024", "1000000"]),
    (["--concurrency", "4"], ["--concurrency", "needs --count"]),
    (["--interval", "1"], ["--interval", "needs --count"]),
    (["--json-lines"], ["--json-lines", "needs --count"]),
    (["--count", "2", "--json", "--json-lines"], ["--json", "--json-lines"]),
])
def test_bad_repeat_values_exit_2_with_one_line(args, words):
    assert_one_line_error(probe("localhost:443", *args), *words)


def test_json_summary_against_nginx_with_concurrency(nginx_sni_strict, lab_certs):
    server = nginx_sni_strict
    proc = probe(f"www.lab.test:{server.port}", "--pin", "127.0.0.1", "--cafile", str(lab_certs.ca_cert),
                 "--count", "40", "--concurrency", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)  # one object, nothing else on stdout
    assert s["schema"] == "tlsbench.repeat/1" and s["ok"] is True and s["interrupted"] is False
    assert (s["count"], s["runs"], s["succeeded"], s["failed"], s["cancelled"]) == (40, 40, 40, 0, 0)
    assert s["concurrency"] == 4 and s["success_rate"] == 1.0 and s["rate_per_s"] > 0
    assert [r["key"] for r in s["stages"]] == STAGES
    by = rows(s)
    for name in ("resolve", "tcp", "tls", "chain"):
        d = by[name]["duration_ms"]
        assert by[name]["ok"] == 40 and d["count"] == 40 and by[name]["success_rate"] == 1.0
        assert 0 <= d["min"] <= d["median"] <= d["p95"] <= d["max"] and d["stdev"] >= 0
    assert by["proxy"]["skipped"] == 40 and by["proxy"]["duration_ms"] is None
    assert s["total_ms"]["count"] == 40
    ports = s["ports"]
    low, high = os_range()
    assert ports["ephemeral_range"] == [low, high] and ports["outside_range"] == 0
    assert ports["runs"] == 40 and ports["distinct"] == 40 and ports["first_reuse"] is None
    assert low <= ports["lowest"] <= ports["highest"] <= high
    leaves = s["certificates"]["leaves"]
    assert [(c["sha256"], c["runs"]) for c in leaves] == [(fingerprint(lab_certs.good.cert), 40)]
    assert s["findings"] == [] and s["series_findings"] == []


def test_a_server_failing_half_the_time(tls_server, plain_http, lab_certs):
    good = tls_server("good")
    with RoundRobin([(good.host, good.port), (plain_http.host, plain_http.port)]) as lb:
        proc = probe(f"localhost:{lb.port}", "--cafile", str(lab_certs.ca_cert), "--count", "10", "--json")
    assert proc.returncode == 1, proc.stderr
    s = json.loads(proc.stdout)
    assert (s["runs"], s["succeeded"], s["failed"], s["success_rate"], s["ok"]) == (10, 5, 5, 0.5, False)
    by = rows(s)
    assert (by["tcp"]["ok"], by["tls"]["ok"], by["tls"]["failed"], by["tls"]["success_rate"]) == (10, 5, 5, 0.5)
    assert by["tls"]["failed_duration_ms"]["count"] == 5 and by["chain"]["skipped"] == 5
    (not_tls,) = [f for f in s["findings"] if f["code"] == "not-tls"]
    assert (not_tls["runs"], not_tls["first_run"], not_tls["last_run"]) == (5, 2, 10)
    assert not_tls["severity"] == "error" and not_tls["stage"] == "tls"


def test_cert_varies_with_two_certificates_behind_one_address(tls_server, lab_certs):
    a, b = tls_server("good"), tls_server("good_rsa")
    with RoundRobin([(a.host, a.port), (b.host, b.port)]) as lb:
        proc = probe(f"localhost:{lb.port}", "--cafile", str(lab_certs.ca_cert), "--count", "10", "--json")
    assert proc.returncode == 0, proc.stderr  # a warning: every run still succeeded
    s = json.loads(proc.stdout)
    assert s["succeeded"] == 10
    seen = {c["sha256"]: c for c in s["certificates"]["leaves"]}
    fp_a, fp_b = fingerprint(lab_certs.good.cert), fingerprint(lab_certs.good_rsa.cert)
    assert set(seen) == {fp_a, fp_b} and s["certificates"]["distinct"] == 2
    assert seen[fp_a]["example_runs"] == [1, 3, 5, 7, 9] and seen[fp_b]["example_runs"] == [2, 4, 6, 8, 10]
    (finding,) = s["series_findings"]
    assert finding["code"] == "cert-varies" and finding["severity"] == "warning"
    evidence = {e["label"]: e["value"] for e in finding["evidence"]}
    assert {evidence["leaf 1 SHA-256"], evidence["leaf 2 SHA-256"]} == {fp_a, fp_b}
    which = {evidence["leaf 1 SHA-256"]: evidence["leaf 1 seen"], evidence["leaf 2 SHA-256"]: evidence["leaf 2 seen"]}
    assert which[fp_a] == "5 of 10 runs: #1, #3, #5, #7, #9"
    assert which[fp_b] == "5 of 10 runs: #2, #4, #6, #8, #10"


def test_cert_varies_in_words(tls_server, lab_certs):
    a, b = tls_server("good"), tls_server("good_rsa")
    with RoundRobin([(a.host, a.port), (b.host, b.port)]) as lb:
        proc = probe(f"localhost:{lb.port}", "--cafile", str(lab_certs.ca_cert), "--count", "4")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "warning cert-varies: The server presented 2 different certificates over 4 runs" in out
    assert "certs   2 distinct leaf certificate(s)" in out
    run_lines = [line for line in out.splitlines() if line.startswith("#")]
    assert len(run_lines) == 4 and all(" ok " in line and "leaf " in line for line in run_lines)
    assert out.rstrip().endswith(f"ok localhost:{lb.port}: 4 of 4 run(s) succeeded")


def test_json_lines_one_object_per_run_then_the_summary(tls_server, lab_certs):
    server = tls_server("good")
    proc = probe(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--count", "5",
                 "--concurrency", "2", "--json-lines")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 6
    runs = [json.loads(line) for line in lines[:-1]]
    assert sorted(r["run"] for r in runs) == [1, 2, 3, 4, 5]
    for r in runs:  # the single-run object, whole
        assert r["ok"] is True and [s["name"] for s in r["stages"]] == STAGES
        assert r["chain"] and r["tls"]["messages"] and r["socket"]["local_port"]
    summary = json.loads(lines[-1])
    assert summary["schema"] == "tlsbench.repeat/1" and summary["runs"] == 5
    assert summary["ports"]["distinct"] == len({r["socket"]["local_port"] for r in runs})


def test_through_microsocks_each_run_has_its_proxy_stage(microsocks, plain_http):
    proc = probe(f"localhost:{plain_http.port}", "--socks5h", microsocks.address, "--no-tls", "--count", "6",
                 "--concurrency", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    by = rows(s)
    assert by["proxy"]["ok"] == 6 and by["proxy"]["duration_ms"]["count"] == 6
    assert by["tls"]["skipped"] == 6 and s["certificates"]["leaves"] == []
    assert s["ports"]["distinct"] == 6  # ports towards the proxy


def test_ctrl_c_prints_the_summary_of_what_ran(tls_server, lab_certs):
    server = tls_server("good")
    proc = spawn(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--count", "1000",
                 "--interval", "0.05", "--json-lines")
    try:
        first = [proc.stdout.readline() for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip() == ""
    lines = first + rest.splitlines()
    summary = json.loads(lines[-1])
    assert summary["interrupted"] is True and summary["ok"] is True
    assert summary["runs"] == len(lines) - 1 - summary["cancelled"] >= 2
    assert summary["runs"] + summary["cancelled"] + summary["not_started"] == 1000


def test_ctrl_c_cancels_runs_in_flight(silent_server):
    proc = spawn(f"127.0.0.1:{silent_server.port}", "--no-tls", "--send", "hi", "--count", "8",
                 "--concurrency", "4", "--timeout", "30")
    try:
        assert proc.stdout.readline().startswith("tlsbench probe ")
        deadline = time.monotonic() + 20
        while silent_server.accepted < 4 and time.monotonic() < deadline:  # four runs waiting on the server
            time.sleep(0.02)
        assert silent_server.accepted == 4
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err
    assert time.monotonic() - started < 10  # cancelled, not waited for (the timeout is 30 s)
    assert "interrupted: 0 of 8 runs ended, 4 cancelled in flight, 4 not started" in out
    assert out.rstrip().endswith("0 of 8 run(s) succeeded")


def test_a_worker_that_dies_is_one_error_line(tls_server, lab_certs):
    server = tls_server("good")
    proc = spawn(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--count", "100000",
                 "--interval", "0.02", "--concurrency", "2", "--json-lines")
    try:
        proc.stdout.readline()
        kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert 1 <= len(kids) <= 2  # one worker process per core, at most C
        os.kill(int(kids[0]), signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert err.strip().startswith("tlsbench probe: error: a worker process ended early") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    summary = json.loads(out.splitlines()[-1])
    assert summary["interrupted"] is False and summary["not_started"] > 0


def test_progress_line_on_a_terminal(tls_server, lab_certs):
    server = tls_server("good")
    proc, seen = run_with_tty_stderr([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}",
                                      "--cafile", str(lab_certs.ca_cert), "--count", "12", "--interval", "0.05",
                                      "--json"], timeout=60)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["runs"] == 12
    text = seen.decode()
    assert "/12 runs" in text and "/s" in text and "ETA" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end


def test_in_process_workers_without_fork(tls_server, lab_certs):
    from tlsbench.engine.series.batch import Batch
    from tlsbench.engine.spec import build_spec
    from tlsbench.engine.series.stats import SeriesStats

    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    stats = SeriesStats()
    got = []
    batch = Batch(spec, count=6, concurrency=3, fork=False, json_lines=True)
    batch.run(lambda d: (got.append(d.run), stats.add(d)))
    assert sorted(got) == [1, 2, 3, 4, 5, 6] and batch.errors == []
    assert stats.ok == 6 and stats.ports.distinct == 6

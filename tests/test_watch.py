"""`tlsbench probe --watch SECONDS` as a user runs it: real processes against real servers.

Two `openssl s_server`s with different certificates behind one round-robin address (tests/roundrobin.py)
swap the certificate between runs; a server stopped mid-watch turns the verdict; a Python TLS
listener that accepts one connection late makes one run's handshake slow; Ctrl-C is a real SIGINT.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from roundrobin import RoundRobin
from test_probe_cli import assert_one_line_error
from test_repeat_cli import fingerprint, probe, spawn
from tests.late_accept import LateAccept
from tests.terminal import run_with_tty_stderr
from tlsbench.lab.certs import LabCerts

pytestmark = pytest.mark.servers


@pytest.mark.parametrize("args, words", [
    (["--watch", "0"], ["--watch", "more than 0", "0"]),
    (["--watch", "soon"], ["--watch", "seconds", "soon"]),
    (["--watch", "nan"], ["--watch", "nan"]),
    (["--watch", "1", "--concurrency", "2"], ["--watch", "one at a time", "--concurrency"]),
    (["--watch", "1", "--interval", "2"], ["--watch", "--interval"]),
    (["--watch", "1", "--json"], ["--watch", "--json-lines"]),
    (["--watch", "1", "--count", "0"], ["--count", "at least 1"]),
    (["--watch", "1", "--diagnose"], ["--watch", "--diagnose"]),
])
def test_bad_watch_values_exit_2_with_one_line(args: list[str], words: list[str]) -> None:
    assert_one_line_error(probe("localhost:443", *args), *words)


def read_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The next stdout line of `proc`, or a failure after `timeout` s (never a hang)."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    assert box, f"no line from the probe within {timeout} s"
    return box[0]


def test_a_certificate_swapped_between_runs(tls_server: Any, lab_certs: LabCerts) -> None:
    a, b = tls_server("good"), tls_server("good_rsa")
    fa, fb = fingerprint(lab_certs.good.cert), fingerprint(lab_certs.good_rsa.cert)
    with RoundRobin([(a.host, a.port), (b.host, b.port)]) as lb:
        text = probe(f"127.0.0.1:{lb.port}", "--sni", "localhost", "--cafile", str(lab_certs.ca_cert),
                     "--watch", "0.05", "--count", "4")
        lines = probe(f"127.0.0.1:{lb.port}", "--sni", "localhost", "--cafile", str(lab_certs.ca_cert),
                      "--watch", "0.05", "--count", "3", "--json-lines")
    assert text.returncode == 0, text.stderr
    out = text.stdout.splitlines()
    assert out[0] == f"tlsbench probe 127.0.0.1:{lb.port}: watching every 0.05 s, 4 run(s); only changes are shown"
    first = out[1]
    assert re.match(r"#1 +\d\d:\d\d:\d\d  ok  address 127\.0\.0\.1  leaf ", first), first
    assert f"leaf {fa[:23]}" in first and "findings: none" in first and first.endswith(" ms")
    changed = [line for line in out[2:] if line.startswith("#")]
    assert [line.split()[0] for line in changed] == ["#2", "#3", "#4"]  # each run reached the other backend
    assert f"certificate changed: {fa[:23]}… → {fb[:23]}…" in changed[0]
    assert f"certificate changed: {fb[:23]}… → {fa[:23]}…" in changed[1]
    assert "ok 127.0.0.1" in out[-1] and "4 of 4 run(s) succeeded" in out[-1]
    assert "cert-varies" in text.stdout  # the series finding still comes with the summary

    assert lines.returncode == 0, lines.stderr
    objs = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [o.get("run") for o in objs[:3]] == [1, 2, 3]
    assert objs[0]["changes"] == []
    assert objs[1]["changes"] == [{"what": "certificate", "before": fa, "after": fb}]
    assert objs[2]["changes"] == [{"what": "certificate", "before": fb, "after": fa}]
    summary = objs[-1]
    assert summary["schema"] == "tlsbench.repeat/1" and summary["watch_s"] == 0.05
    assert (summary["count"], summary["runs"], summary["changed_runs"]) == (3, 3, 2)


def test_a_server_stopped_mid_watch_turns_the_verdict(tls_server: Any, lab_certs: LabCerts) -> None:
    server = tls_server("good")
    proc = spawn(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--watch", "0.1", "--count", "40")
    try:
        assert read_line(proc).startswith("tlsbench probe ")
        first = read_line(proc)
        assert first.startswith("#1 ") and "  ok  " in first
        server.stop()
        turned = read_line(proc)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert "verdict ok → failed (tcp-refused)" in turned, turned
    assert "new finding tcp-refused" in turned and "  failed  " in turned
    assert proc.returncode == 1, err
    # the runs after it fail the same way: no verdict or finding changes (a busy machine may still
    # show a slow stage), then the summary
    later = [line for line in out.splitlines() if line.startswith("#")]
    assert not [line for line in later if "verdict" in line or "finding" in line], later
    assert "interrupted" not in out and out.rstrip().endswith("of 40 run(s) succeeded")


@pytest.fixture
def slow_once(lab_certs: LabCerts) -> Iterator[LateAccept]:
    server = LateAccept(lab_certs, delay=0.3, only=6)
    yield server
    server.close()


def test_a_run_left_in_the_accept_queue_is_a_slow_stage_and_a_finding(slow_once: LateAccept,
                                                                         lab_certs: LabCerts) -> None:
    proc = probe(f"127.0.0.1:{slow_once.port}", "--sni", "localhost", "--cafile", str(lab_certs.ca_cert),
                 "--watch", "0.05", "--count", "7", "--json-lines")
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    by_run = {o["run"]: o["changes"] for o in objs if "run" in o}
    slow = by_run[6]
    tls = [c for c in slow if c["what"] == "slow-stage" and c["stage"] == "tls"]
    assert len(tls) == 1, slow
    assert tls[0]["ms"] >= 290 and tls[0]["factor"] > 2 and tls[0]["ms"] > 2 * tls[0]["median_ms"]
    (queued,) = [c for c in slow if c.get("code") == "accept-queue-wait"]
    assert (queued["what"], queued["severity"]) == ("finding-added", "warning")
    # run 7 is quick again: the finding goes
    assert {"what": "finding-removed", "code": "accept-queue-wait"} in by_run[7]


def test_ctrl_c_stops_a_watch_with_the_summary(tls_server: Any, lab_certs: LabCerts) -> None:
    server = tls_server("good")
    proc = spawn(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--watch", "0.05")
    try:
        assert "until Ctrl-C" in read_line(proc)
        assert read_line(proc).startswith("#1 ")
        time.sleep(0.3)  # a few more runs, without change
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip() == ""
    m = re.search(r"^interrupted: (\d+) of (\d+) runs ended, (\d) cancelled in flight, 0 not started$", out, re.M)
    assert m, out
    runs = int(m.group(1))
    assert runs >= 2 and int(m.group(2)) == runs + int(m.group(3))
    assert out.rstrip().endswith(f"interrupted localhost:{server.port}: {runs} of {m.group(2)} run(s) succeeded")


def test_ctrl_c_with_json_lines_ends_with_the_summary(tls_server: Any, lab_certs: LabCerts) -> None:
    server = tls_server("good")
    proc = spawn(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--watch", "0.05", "--json-lines")
    try:
        first = [read_line(proc) for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = first + rest.splitlines()
    runs = [json.loads(line) for line in lines[:-1]]
    assert all("changes" in r for r in runs) and runs[0]["changes"] == []
    summary = json.loads(lines[-1])
    assert summary["interrupted"] is True and summary["watch_s"] == 0.05 and summary["not_started"] == 0
    assert summary["count"] == summary["runs"] + summary["cancelled"] == len(runs)


def test_the_status_line_counts_quiet_runs_on_a_terminal(tls_server: Any, lab_certs: LabCerts) -> None:
    server = tls_server("good")
    proc, seen = run_with_tty_stderr([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}",
                                      "--cafile", str(lab_certs.ca_cert), "--watch", "0.1", "--count", "5"],
                                     timeout=60, text=True)
    assert proc.returncode == 0
    # stdout (not a terminal here) holds the first run and no line for the quiet ones (5 runs: too few
    # for a slow stage, which needs 5 earlier ones, so none of them can change anything on a busy machine)
    assert [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("#")] == ["#1"]
    text = seen.decode()
    assert re.search(r"watching: [1-5] run\(s\), 0 with changes; last #\d ok ", text), text
    assert text.endswith("\r\x1b[K")  # cleared before the summary

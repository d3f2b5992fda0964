"""`tlsbench probe --diagnose` as a user runs it: a real process, real servers, the table and the JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.servers


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"})


@pytest.mark.parametrize("args, words", [
    (["example.com:443", "--diagnose-budget", "5"], ["--diagnose-budget needs --diagnose"]),
    (["example.com:443", "--diagnose-sni", "a.example"], ["--diagnose-sni needs --diagnose"]),
    (["example.com:443", "--diagnose", "--count", "3"], ["--diagnose", "--count"]),
    (["example.com:443", "--diagnose", "--diagnose-budget", "0"], ["diagnose-budget"]),
    (["example.com:443", "--diagnose", "--diagnose-budget", "soon"], ["diagnose-budget"]),
    (["example.com:443", "--diagnose", "--diagnose-budget", "601"], ["diagnose-budget"]),
    (["example.com:443", "--diagnose", "--diagnose-timeout", "-1"], ["diagnose-timeout"]),
    (["example.com:443", "--diagnose", "--diagnose-sni", "10.0.0.1"], ["diagnose-sni"]),
])
def test_bad_diagnosis_options_exit_2_with_one_line(args, words):
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlsbench probe: error: ") and "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


def test_the_waterfall_then_the_conclusion_then_the_table(nginx_sni_strict, lab_certs):
    target = f"127.0.0.1:{nginx_sni_strict.port}"
    proc = run(target, "--cafile", str(lab_certs.ca_cert), "--diagnose", "--diagnose-sni", "www.lab.test")
    assert proc.returncode == 1, proc.stderr  # the first run failed: its exit code stands
    out = proc.stdout
    waterfall, _, rest = out.partition("\nwhy?")
    assert "sni-required" in waterfall and f"failed {target}" in waterfall
    conclusion = next(line for line in rest.splitlines() if line.startswith("why "))
    assert "It works with SNI www.lab.test (you suggested it)" in conclusion
    assert f"-> tlsbench probe {target} --sni www.lab.test --cafile" in rest
    table = rest[rest.index("  variant "):].splitlines()
    assert table[0].split() == ["variant", "result", "key", "finding", "time"]

    def row(label: str) -> list[str]:
        found = next(line for line in table if label in line)
        return found.split(label)[1].split()

    assert row("SNI www.lab.test (you suggested it)")[:2] == ["ok", "TLSv1.3"]
    assert row("TLS 1.3 only")[:2] == ["failed", "sni-required:"]
    assert row("TLS 1.2 only")[-1] == "ms"
    assert out.rstrip().splitlines()[-1].startswith("diagnosed in ")


def test_json_gains_a_diagnosis_object_and_keeps_the_rest(squid_bump, tls_server, lab_certs):
    server = tls_server("good")
    args = (f"localhost:{server.port}", "-x", squid_bump.url, "--cafile", str(lab_certs.ca_cert), "--json")
    plain = json.loads(run(*args).stdout)
    proc = run(*args, "--diagnose")
    assert proc.returncode == 1, proc.stderr
    body = json.loads(proc.stdout)
    assert body["schema"] == 3 and set(body) == set(plain) | {"diagnosis"}
    d = body["diagnosis"]
    assert d["conclusion"].startswith("The proxy intercepts TLS") and d["works"] == "direct"
    assert [f["code"] for f in d["findings"]] == ["tls-intercepted"]
    direct = next(v for v in d["variants"] if v["key"] == "direct")
    assert direct["status"] == "ok" and direct["changes"] == {"proxies": []}
    assert direct["result"]["schema"] == 3 and direct["result"]["options"]["proxies"] == []
    assert direct["command"] == f"tlsbench probe localhost:{server.port} --cafile {lab_certs.ca_cert}"
    assert direct["key_finding"]["code"] == "tls-intercepted"
    evidence = {e["label"]: e["value"] for e in d["findings"][0]["evidence"]}
    assert evidence["leaf through the proxy (SHA-256)"] == body["chain"][0]["sha256"]
    assert evidence["leaf direct (SHA-256)"] == direct["result"]["chain"][0]["sha256"]


def test_a_silent_port_ends_within_the_budget(silent_server):
    started = time.monotonic()
    proc = run(silent_server.address, "--timeout", "2", "--diagnose", "--diagnose-budget", "1",
               "--diagnose-timeout", "5", "--json")
    took = time.monotonic() - started
    body = json.loads(proc.stdout)
    d = body["diagnosis"]
    assert d["variants"] and all(v["status"] == "not-run" for v in d["variants"])
    assert d["elapsed_ms"] < 1000 + 1000, d["elapsed_ms"]
    assert took < 2 + 1 + 8  # the first run, the budget, and a Python start-up on a busy machine


def test_ctrl_c_during_the_variants_prints_what_there_is_and_exits_130(silent_server):
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "tlsbench", "probe", silent_server.address, "--timeout", "0.3",
                             "--diagnose", "--diagnose-budget", "60", "--diagnose-timeout", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    try:
        seen = []
        for line in proc.stdout:  # bounded: the first run ends after its 0.3 s timeout
            seen.append(line)
            if line.startswith("why?"):
                break
        assert seen and seen[-1].startswith("why?"), seen
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        rest, err = proc.stdout.read(), proc.stderr.read()
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 10
    assert "Traceback" not in err
    assert "The diagnosis was cancelled" in rest and rest.rstrip().splitlines()[-1].startswith("cancelled in ")

"""`probe --save-run FILE` and `tlsbench show FILE [--text|--json]` as processes, against real servers."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from tlsbench.engine.records.runfile import read_run


def tlsbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlsbench", *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_save_run_then_show_text_and_json(tls_server: Any, lab_certs: Any, tmp_path: Path) -> None:
    server = tls_server("good")
    saved = tmp_path / "run.json"
    probe = tlsbench("probe", f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--save-run", str(saved))
    assert probe.returncode == 0, probe.stderr
    assert f"saved the run to {saved}" in probe.stderr
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    record = read_run(saved)
    assert record.result.ok and record.result.target == f"localhost:{server.port}"
    shown = tlsbench("show", str(saved), "--text")
    assert shown.returncode == 0, shown.stderr
    # the same waterfall probe printed: every stage line, the summary, the verdict
    probe_lines = [ln for ln in probe.stdout.splitlines() if ln.strip() and not ln.startswith("tlsbench probe")]
    for ln in probe_lines:
        assert ln in shown.stdout, ln
    assert f"saved {record.saved_at}" in shown.stdout.splitlines()[0]
    as_json = tlsbench("show", str(saved), "--json")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == json.loads(json.dumps(record.result.to_json_dict()))


def test_a_failed_run_is_saved_too_with_json(plain_http: Any, tmp_path: Path) -> None:
    saved = tmp_path / "failed.json"
    probe = tlsbench("probe", f"127.0.0.1:{plain_http.port}", "--insecure", "--json", "--save-run", str(saved))
    assert probe.returncode == 1
    printed = json.loads(probe.stdout)  # stdout is still the one JSON object
    record = read_run(saved)
    assert "not-tls" in record.result.codes() and printed["findings"][0]["code"] == "not-tls"
    shown = tlsbench("show", str(saved), "--text", "-v")
    assert shown.returncode == 1 and "not-tls" in shown.stdout and "failed" in shown.stdout


def test_save_run_refuses_another_file_before_running(plain_http: Any, tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    probe = tlsbench("probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--save-run", str(notes))
    assert probe.returncode == 2 and probe.stdout == ""
    assert "--save-run" in probe.stderr and "not a tlsbench run file" in probe.stderr
    assert len(probe.stderr.strip().splitlines()) == 1
    assert notes.read_text() == '{"mine": 1}'
    missing = tlsbench("probe", f"127.0.0.1:{plain_http.port}", "--save-run", str(tmp_path / "no" / "run.json"))
    assert missing.returncode == 2 and "folder does not exist" in missing.stderr


def test_save_run_with_count_is_a_usage_error(tmp_path: Path) -> None:
    out = tlsbench("probe", "127.0.0.1:9", "--count", "3", "--save-run", str(tmp_path / "r.json"))
    assert out.returncode == 2 and "--save-run keeps one run" in out.stderr
    assert not (tmp_path / "r.json").exists()


def test_show_bad_files_are_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = {
        "broken.json": ('{"format": "tlsbench.run",\n "version": ', "not JSON (line 2, column"),
        "other.json": ('{"name": "x"}', "not a tlsbench run file"),
        "newer.json": ('{"format": "tlsbench.run", "version": 99}', "newer tlsbench in run file format version 99; "
                                                                      "this tlsbench reads version 1"),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        out = tlsbench("show", str(tmp_path / name))  # no --text: the check comes before any screen
        assert out.returncode == 2, out
        assert out.stderr.startswith(f"tlsbench show: error: {tmp_path / name}: ") and expected in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and out.stdout == ""
    out = tlsbench("show", str(tmp_path / "absent.json"), "--json")
    assert out.returncode == 2 and "not found" in out.stderr
    out = tlsbench("show")
    assert out.returncode == 2 and "FILE" in out.stderr


def test_show_without_a_terminal_says_so(tmp_path: Path, closed_port: Any) -> None:
    saved = tmp_path / "refused.json"
    probe = tlsbench("probe", f"127.0.0.1:{closed_port.port}", "--save-run", str(saved))
    assert probe.returncode == 1 and saved.exists()
    out = tlsbench("show", str(saved))
    assert out.returncode == 2 and "needs a terminal" in out.stderr


def test_a_cancelled_run_is_saved(silent_server: Any, tmp_path: Path) -> None:
    import signal
    import time

    saved = tmp_path / "cancelled.json"
    child = subprocess.Popen([sys.executable, "-m", "tlsbench", "probe", f"127.0.0.1:{silent_server.port}",
                              "--timeout", "20", "--save-run", str(saved)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 15
        assert child.stdout is not None
        while time.monotonic() < deadline:  # wait for the tcp line: the handshake is then waiting
            line = child.stdout.readline()
            if "tcp" in line or not line:
                break
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    record = read_run(saved)
    assert record.result.cancelled and "saved the run to" in err

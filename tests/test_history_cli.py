"""`tlsbench probe --profile` keeps each run, `tlsbench history` lists and compares them.

Real servers: the plain HTTP server, `openssl s_server` with the lab certificates, microsocks with a
user and password, squid with Basic authentication. The files land under the test's own
TLSBENCH_DATA_DIR (tests/conftest.py sets it for every test)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tlsbench.cli import main


def history_dir() -> Path:
    return Path(os.environ["TLSBENCH_DATA_DIR"]) / "history"


def settings(text: str) -> None:
    config = Path(os.environ["TLSBENCH_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(text)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def all_history_bytes() -> bytes:
    return b"".join(p.read_bytes() for p in sorted(history_dir().iterdir()))


def test_each_profile_run_is_kept_listed_and_compared(capsys: pytest.CaptureFixture[str], plain_http: Any) -> None:
    target = f"127.0.0.1:{plain_http.port}"
    code, _, err = cli(capsys, "probe", target, "--no-tls", "--http", "--save-profile", "web")
    assert code == 0, err
    assert cli(capsys, "probe", "--profile", "web")[0] == 0
    assert cli(capsys, "probe", "--profile", "web", "--path", "/other")[0] == 0  # an option given over it
    assert cli(capsys, "probe", target, "--no-tls", "--http")[0] == 0  # no profile: not kept
    code, out, err = cli(capsys, "history")
    assert code == 0 and err == ""
    assert out.split() == ["web", "3", "runs", "last", out.split()[-1]]
    code, out, err = cli(capsys, "history", "web")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and [x.split()[0] for x in lines] == ["#1", "#2", "#3"]
    assert all(" ok " in x and "tcp " in x and "findings: -" in x for x in lines)
    code, out, _ = cli(capsys, "history", "web", "--limit", "1")
    assert out.splitlines()[0].startswith("#1 ") and "2 older not shown; 3 kept" in out
    code, out, _ = cli(capsys, "history", "web", "--json")
    runs = json.loads(out)["runs"]
    assert [r["run"] for r in runs] == [1, 2, 3] and runs[0]["connection"]["app"]["path"] == "/other"
    assert runs[0]["at"] > runs[1]["at"] and runs[0]["source"] == "probe"
    code, out, _ = cli(capsys, "history", "web", "--compare", "2", "1")
    assert code == 0
    assert "app.path: — -> /other" in out or "app.path: / -> /other" in out
    assert "local_port" in out and "tcp" in out and "findings:" in out
    code, out, _ = cli(capsys, "history", "web", "--compare", "3", "2", "--json")
    data = json.loads(out)
    assert data["options_differ"] == [] and data["a"]["run"] == 3 and data["b"]["run"] == 2
    assert {s["stage"] for s in data["stages"]} >= {"resolve", "tcp", "app", "total"}


@pytest.mark.parametrize("args, words", [
    (["history", "nobody"], "no runs kept for profile nobody"),
    (["history", "web", "--compare", "1", "5"], "no run #5 of web: 1 kept"),
    (["history", "web", "--compare", "0", "1"], "--compare must be at least 1"),
    (["history", "web", "--compare", "x", "1"], "--compare expects a run number"),
    (["history", "web", "--limit", "-2"], "--limit must be at least 1"),
    (["history", "--compare", "1", "2"], "--compare needs a PROFILE"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], plain_http: Any, args: list[str], words: str) -> None:
    assert cli(capsys, "probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--save-profile", "web")[0] == 0
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and words in err, err


def test_a_bad_settings_file_is_one_line_and_the_probe_still_runs(capsys: pytest.CaptureFixture[str], plain_http: Any, closed_port: Any) -> None:
    settings("[history]\nkeep = \"all\"\n")
    code, _, err = cli(capsys, "probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--save-profile", "web")
    assert code == 0
    assert err.count("\n") == 2  # "saved profile ..." and the one line about history
    assert "history not written:" in err and "settings.toml: [history] keep:" in err
    assert not history_dir().exists() or not list(history_dir().iterdir())
    # A failing probe keeps its own exit code with a bad setting too.
    code, _, err = cli(capsys, "probe", f"127.0.0.1:{closed_port.port}", "--no-tls", "--save-profile", "closed")
    assert code == 1 and "history not written:" in err


def test_history_off_writes_nothing(capsys: pytest.CaptureFixture[str], plain_http: Any) -> None:
    settings("[history]\nenabled = false\n")
    assert cli(capsys, "probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--save-profile", "web")[0] == 0
    assert not history_dir().exists()
    code, _, err = cli(capsys, "history", "web")
    assert code == 2 and "history is off" in err


def test_an_unwritable_history_is_one_line_never_a_failed_probe(capsys: pytest.CaptureFixture[str], plain_http: Any) -> None:
    data = Path(os.environ["TLSBENCH_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "history").write_text("in the way")
    code, _, err = cli(capsys, "probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--save-profile", "web")
    assert code == 0
    history_lines = [x for x in err.splitlines() if "history" in x and "saved profile" not in x]
    assert len(history_lines) == 1 and "a file is in the way" in history_lines[0]


def test_an_unreadable_line_is_reported_in_one_line(capsys: pytest.CaptureFixture[str], plain_http: Any) -> None:
    assert cli(capsys, "probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--save-profile", "web")[0] == 0
    path = history_dir() / "web.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"v": 1, "cut short\n')
    code, out, err = cli(capsys, "history", "web")
    assert code == 0 and len(out.splitlines()) == 1
    assert err.strip() == f"tlsbench history: 1 unreadable line skipped in {path}"


def test_no_password_is_ever_written(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, microsocks_auth: Any, squid_proxy_auth: Any, tls_server: Any, lab_certs: Any) -> None:
    server = tls_server("good")
    target, ca = f"localhost:{server.port}", str(lab_certs.ca_cert)
    socks_user = f"{microsocks_auth.username}:{microsocks_auth.password}"
    code, _, err = cli(capsys, "probe", target, "--cafile", ca, "--socks5", microsocks_auth.address,
                       "-U", socks_user, "--save-profile", "via-socks")
    assert code == 0, err
    monkeypatch.setenv("TLSBENCH_PROXY_PASSWORD", microsocks_auth.password)  # the saved profile's source
    assert cli(capsys, "probe", "--profile", "via-socks")[0] == 0
    http_user = f"{squid_proxy_auth.username}:{squid_proxy_auth.password}"
    code, _, err = cli(capsys, "probe", target, "--cafile", ca, "-x", squid_proxy_auth.url, "-U", http_user,
                       "--save-profile", "via-squid")
    assert code == 0, err
    monkeypatch.setenv("SQUID_PW", squid_proxy_auth.password)
    code, _, err = cli(capsys, "probe", "--profile", "via-squid", "-U", squid_proxy_auth.username,
                       "--proxy-password-env", "SQUID_PW")
    assert code == 0, err
    raw = all_history_bytes()
    assert raw.count(b"\n") == 4
    for user, password in ((microsocks_auth.username, microsocks_auth.password),
                           (squid_proxy_auth.username, squid_proxy_auth.password)):
        assert user.encode() in raw  # the user is kept (as a profile keeps it)
        for form in (password, password.encode().hex(), password.encode().hex(" "),
                     base64.b64encode(f"{user}:{password}".encode()).decode()):
            assert form.encode() not in raw, form
    assert b"SQUID_PW" in raw  # the variable's name is kept, as a profile keeps it


def test_a_subprocess_run_keeps_its_line(tmp_path: Path, plain_http: Any) -> None:
    """The installed entry point, as a person runs it: file and directory private."""
    environ = {k: v for k, v in os.environ.items()}
    run = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"127.0.0.1:{plain_http.port}", "--no-tls",
                          "--save-profile", "sub", "--json"], capture_output=True, text=True, env=environ, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["ok"] is True  # stdout stays one JSON object
    path = history_dir() / "sub.jsonl"
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(history_dir().stat().st_mode & 0o777) == "0o700"
    record = json.loads(path.read_bytes())
    assert record["result"] == {**json.loads(run.stdout), "options": record["result"]["options"]}


def _probe_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def test_a_series_keeps_its_last_runs_up_to_keep(capsys: pytest.CaptureFixture[str], plain_http: Any) -> None:
    target = f"127.0.0.1:{plain_http.port}"
    assert cli(capsys, "probe", target, "--no-tls", "--http", "--save-profile", "web")[0] == 0
    proc = _probe_process("--profile", "web", "--count", "5", "--concurrency", "2")
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith("{")]  # text output stays text
    code, out, _ = cli(capsys, "history", "web", "--json")
    runs = json.loads(out)["runs"]
    assert len(runs) == 6 and all(r["source"] == "probe" for r in runs)  # the saving run, then the five
    assert [r["at"] for r in runs] == sorted((r["at"] for r in runs), reverse=True)
    assert len({r["result"]["socket"]["local_port"] for r in runs[:5]}) == 5  # five runs, five connections
    settings("[history]\nkeep = 3\n")
    proc = _probe_process("--profile", "web", "--count", "4", "--json-lines")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 5 and all(json.loads(line) for line in lines)  # 4 runs and the summary, as before
    code, out, _ = cli(capsys, "history", "web", "--json")
    kept = json.loads(out)["runs"]
    ports = [json.loads(line)["socket"]["local_port"] for line in lines[:4]]
    assert len(kept) == 3 and sorted(r["result"]["socket"]["local_port"] for r in kept) == sorted(ports[1:])


def test_a_series_with_history_off_writes_nothing(capsys: pytest.CaptureFixture[str], plain_http: Any) -> None:
    settings("[history]\nenabled = false\n")
    proc = _probe_process(f"127.0.0.1:{plain_http.port}", "--no-tls", "--http", "--save-profile", "quiet",
                          "--count", "3")
    assert proc.returncode == 0, proc.stderr
    assert not history_dir().exists() or not any(history_dir().iterdir())

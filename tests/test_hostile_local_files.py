"""Hostile local files finish with one line: deep, huge, badly typed or junk-filled profiles, settings,
history lines and run files, an unusable profiles directory, a password typed into a profile.

Each case runs the real `tlsbench` in a subprocess (as a person would) with the test's own
TLSBENCH_CONFIG_DIR and TLSBENCH_DATA_DIR (tests/conftest.py), against real loopback servers where
a run is needed, and checks: exactly one clear line on stderr, no traceback, the exit code, and that
the good data still shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DEEP_TOML = {
    "array": "x = " + "[" * 5000 + "]" * 5000,  # 10 KB: a RecursionError in tomllib before
    "dotted key": "a" + ".b" * 5000 + " = 1",  # parses, then every walk of it recursed
    "inline tables": "x = " + "{a = " * 40 + "1" + "}" * 40,
    "header": "[t" + ".u" * 40 + "]",
    "unclosed": "x = " + "[" * 5000,
}
SECRET = "s3cret-in-the-file"


def config() -> Path:
    path = Path(os.environ["TLSBENCH_CONFIG_DIR"])
    (path / "profiles").mkdir(parents=True, exist_ok=True)
    return path


def history_file(profile: str) -> Path:
    return Path(os.environ["TLSBENCH_DATA_DIR"]) / "history" / f"{profile}.jsonl"


def tlsbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlsbench", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def good_profile(name: str = "good", host: str = "www.lab.test", port: int = 443) -> None:
    (config() / "profiles" / f"{name}.toml").write_text(f'host = "{host}"\nport = {port}\n')


# --- profiles ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", DEEP_TOML)
def test_a_deep_profile_is_named_and_never_hides_the_good_ones(form: str) -> None:
    good_profile()
    deep = config() / "profiles" / "deep.toml"
    deep.write_text(f'host = "h"\nport = 1\n{DEEP_TOML[form]}\n')
    listed = tlsbench("profiles", "list")
    assert listed.returncode == 0
    assert listed.stdout.split()[:2] == ["good", "www.lab.test:443"]
    assert one_line(listed) == f"tlsbench profiles: {deep}:3: nested more than 32 levels deep; not read"
    as_json = tlsbench("profiles", "list", "--json")
    assert [p["name"] for p in json.loads(as_json.stdout)["profiles"]] == ["good"]
    for args in (["profiles", "show", "deep"], ["probe", "--profile", "deep"]):
        refused = tlsbench(*args)
        assert refused.returncode == 2
        assert "deep.toml" in one_line(refused) and "nested more than 32 levels deep" in one_line(refused)


@pytest.mark.parametrize("form", ["array", "dotted key"])
def test_a_deep_state_file_is_no_last_used_profile(form: str) -> None:
    good_profile()
    (config() / "state.toml").write_text(f'last_used = "good"\n{DEEP_TOML[form]}\n')
    listed = tlsbench("profiles", "list", "--json")
    assert (listed.returncode, listed.stderr) == (0, "")
    data = json.loads(listed.stdout)
    assert [p["name"] for p in data["profiles"]] == ["good"] and data["last_used"] is None


def test_a_number_too_long_for_int_is_named_in_a_profile_and_in_settings(plain_http: Any) -> None:
    good_profile("web", "127.0.0.1", plain_http.port)
    long_number = "port = " + "1" * 5000  # tomllib lets int()'s ValueError out, not a TOMLDecodeError
    (config() / "profiles" / "big.toml").write_text(f'host = "h"\n{long_number}\n')
    listed = tlsbench("profiles", "list")
    assert listed.returncode == 0 and listed.stdout.split()[:2] == ["web", f"127.0.0.1:{plain_http.port}"]
    assert one_line(listed) == (f"tlsbench profiles: {config() / 'profiles' / 'big.toml'}:2: a number of more "
                                "than 4300 digits; not read")
    (config() / "settings.toml").write_text(f"[history]\n{long_number}\n")
    run = tlsbench("probe", "--profile", "web", "--no-tls")
    assert run.returncode == 0
    assert one_line(run).endswith("settings.toml: line 2: a number of more than 4300 digits; not read")


def test_a_huge_profile_is_named_and_never_hides_the_good_ones() -> None:
    good_profile()
    huge = config() / "profiles" / "huge.toml"
    huge.write_text('host = "h"\nport = 1\n' + "# padding\n" * 120_000)
    listed = tlsbench("profiles", "list")
    assert listed.returncode == 0 and listed.stdout.split()[0] == "good"
    assert f"{huge}: is " in one_line(listed) and "more than a profile may be (1048576)" in one_line(listed)


@pytest.mark.parametrize("kind", ["file", "dangling link", "link loop", "fifo"])
def test_an_unusable_profiles_directory_says_so_with_exit_2(kind: str) -> None:
    root = config()
    profiles = root / "profiles"
    profiles.rmdir()
    if kind == "file":
        profiles.write_text('host = "h"\nport = 1\n')
    elif kind == "dangling link":
        profiles.symlink_to(root / "nowhere")
    elif kind == "link loop":
        profiles.symlink_to(profiles)
    else:
        os.mkfifo(profiles)
    for args in (["profiles", "list"], ["profiles", "list", "--json"]):
        result = tlsbench(*args)
        assert result.returncode == 2 and result.stdout == ""
        line = one_line(result)
        assert line.startswith(f"tlsbench profiles: error: {profiles}: ") and "no profile can be read" in line
    for args in (["profiles", "show", "web"], ["probe", "--profile", "web"]):
        result = tlsbench(*args)
        assert result.returncode == 2 and "no profile can be read" in one_line(result)
    assert os.path.lexists(profiles)  # left exactly as it was


def test_no_profiles_directory_yet_is_no_profiles() -> None:
    config().joinpath("profiles").rmdir()
    result = tlsbench("profiles", "list")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def _password_profile(proxy: Any = None, target_port: int = 443) -> Path:
    host, port = (proxy.host, proxy.port) if proxy is not None else ("127.0.0.1", 1080)
    user = proxy.username if proxy is not None else "alice"
    path = config() / "profiles" / "pw.toml"
    path.write_text(f'host = "127.0.0.1"\nport = {target_port}\n\n[proxy]\ntype = "socks5"\nhost = "{host}"\n'
                    f'port = {port}\nuser = "{user}"\npassword = "{SECRET}"   # typed by hand\n\n'
                    "[tls]\nenabled = false\n")
    return path


def test_profiles_show_masks_a_password_typed_into_the_file_and_names_it_ignored() -> None:
    path = _password_profile()
    shown = tlsbench("profiles", "show", "pw")
    assert shown.returncode == 0 and shown.stderr == ""
    assert SECRET not in shown.stdout
    assert 'password = "***"   # typed by hand' in shown.stdout  # the rest of the file as written
    assert ("password  [proxy] password is ignored: passwords are never read from profiles: use password_env = "
            '"VARIABLE"') in shown.stdout
    as_json = tlsbench("profiles", "show", "pw", "--json")
    assert as_json.returncode == 0 and SECRET not in as_json.stdout
    data = json.loads(as_json.stdout)
    assert "passwords are never read from profiles" in data["ignored"] and 'password = "***"' in data["toml"]
    assert SECRET in path.read_text()  # the file itself is the person's: left as it is


def test_a_run_says_the_profile_password_is_ignored_in_its_one_line() -> None:
    _password_profile()
    result = tlsbench("probe", "--profile", "pw")
    assert result.returncode == 2
    line = one_line(result)
    assert "proxy user 'alice' has no password: the profile's [proxy] password is ignored" in line
    assert "passwords are never read from profiles: use password_env" in line and SECRET not in line


def test_a_run_with_the_password_from_its_variable_still_says_the_file_one_is_ignored(
        microsocks_auth: Any, plain_http: Any) -> None:
    _password_profile(microsocks_auth, plain_http.port)
    result = tlsbench("probe", "--profile", "pw", "--json",
                      env={"TLSBENCH_PROXY_PASSWORD": microsocks_auth.password})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True  # the run goes on, through the proxy
    assert one_line(result).startswith("tlsbench probe: the profile's [proxy] password is ignored: ")
    assert SECRET not in result.stdout + result.stderr + history_file("pw").read_text()


# --- settings.toml -----------------------------------------------------------------------------------

@pytest.mark.parametrize("content, words", [
    *[(DEEP_TOML[form].encode(), "line 1: nested more than 32 levels deep; not read")
      for form in ("array", "dotted key", "unclosed")],
    (b"[history]\nkeep = 5\n" + b"#" * (1 << 20), "more than a settings file may be (1048576)"),
    (b"[history]\nkeep = \xff\n", "line 2: not UTF-8 text (byte 0xff)"),
], ids=["deep array", "deep dotted key", "unclosed", "huge", "not UTF-8"])
def test_a_bad_settings_file_is_one_line_and_the_run_goes_on(plain_http: Any, content: bytes, words: str) -> None:
    (config() / "profiles" / "web.toml").write_text(f'host = "127.0.0.1"\nport = {plain_http.port}\n'
                                                     "[tls]\nenabled = false\n[app]\nhttp = true\n")
    (config() / "settings.toml").write_bytes(content)
    result = tlsbench("probe", "--profile", "web", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["ok"] is True
    line = one_line(result)
    assert line.startswith(f"tlsbench probe: history not written: {config() / 'settings.toml'}: ") and words in line


# --- history -----------------------------------------------------------------------------------------

@pytest.fixture
def two_runs(plain_http: Any) -> Path:
    """Two real runs of profile `web` against the plain HTTP server; the history file's path."""
    first = tlsbench("probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--http", "--save-profile", "web")
    assert first.returncode == 0, first.stderr
    second = tlsbench("probe", "--profile", "web", "--path", "/second")
    assert second.returncode == 0, second.stderr
    return history_file("web")


def _mutated(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(record))
    *parents, last = path.split(".")
    target = copy
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return copy


BAD_LINES = {
    "socket is a list": lambda r: json.dumps(_mutated(r, "result.socket", ["127.0.0.1", 80])),
    "stages is an object": lambda r: json.dumps(_mutated(r, "result.stages", {"tcp": 1})),
    "a stage's time is text": lambda r: json.dumps(_mutated(r, "result.stages.0.duration_ms", "fast")),
    "a finding is a string": lambda r: json.dumps(_mutated(r, "result.findings", ["not-tls"])),
    "v is true": lambda r: json.dumps(_mutated(r, "v", True)),
    "connection is a list": lambda r: json.dumps(_mutated(r, "connection", [1])),
    "total is 1e99999": lambda r: json.dumps(r).replace('"total_ms":', '"total_ms": 1e99999, "x":', 1),
    "a NaN": lambda r: json.dumps(_mutated(r, "result.total_ms", float("nan"))),
    "nested 5000 deep": lambda r: json.dumps(_mutated(r, "result.tls", "DEEP")).replace(
        '"DEEP"', "[" * 5000 + "]" * 5000),
    "longer than 64 KiB": lambda r: json.dumps(_mutated(r, "result.target", "x" * (64 << 10))),
    "a lone surrogate escape": lambda r: json.dumps(_mutated(r, "result.target", "x\udcff")),
    "not UTF-8": lambda r: json.dumps(r)[:-1] + ', "x": "\udcff"}',
}


@pytest.mark.parametrize("kind", BAD_LINES)
def test_a_badly_typed_history_line_is_skipped_counted_and_said_once(two_runs: Path, kind: str) -> None:
    lines = two_runs.read_bytes().splitlines()
    newest = json.loads(lines[-1])
    bad = BAD_LINES[kind](newest).encode("utf-8", "surrogateescape")
    two_runs.write_bytes(b"\n".join([lines[0], bad, lines[1], bad]) + b"\n")
    note = f"tlsbench history: 2 unreadable lines skipped in {two_runs}"
    compared = tlsbench("history", "web", "--compare", "2", "1")
    assert compared.returncode == 0 and one_line(compared) == note
    assert "app.path: — -> /second" in compared.stdout  # the two real runs, side by side
    listed = tlsbench("history", "web", "--json")
    assert listed.returncode == 0 and one_line(listed) == note
    assert [r["connection"]["app"].get("path") for r in json.loads(listed.stdout)["runs"]] == ["/second", None]
    every = tlsbench("history")
    assert every.returncode == 0 and one_line(every) == note and every.stdout.split()[:3] == ["web", "2", "runs"]


def test_junk_lines_never_evict_a_real_run(two_runs: Path, plain_http: Any) -> None:
    (config() / "settings.toml").write_text("[history]\nkeep = 3\n")
    real = two_runs.read_bytes()
    junk = [b"junk", b"{}", b'{"v": 1}', json.dumps(_mutated(json.loads(real.splitlines()[0]), "result.socket",
                                                             [])).encode()]
    two_runs.write_bytes(real + b"\n".join(junk[i % len(junk)] for i in range(300)) + b"\n")
    third = tlsbench("probe", "--profile", "web", "--path", "/third")  # 303 lines: past keep = 3, trimmed
    assert third.returncode == 0 and third.stderr == ""
    listed = tlsbench("history", "web", "--json")
    assert listed.returncode == 0 and listed.stderr == ""  # the junk went with the trim
    paths = [r["connection"]["app"].get("path") for r in json.loads(listed.stdout)["runs"]]
    assert paths == ["/third", "/second", None]  # every real run is still there
    assert len(two_runs.read_bytes().splitlines()) == 3


# --- run files ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, words", [
    ("[" * 5000 + "]" * 5000, "nested 5000 levels deep, more than 32; not read"),
    ('{"format": "tlsbench.run", "x": ' + "[" * 40 + "]" * 40 + "}", "nested 41 levels deep, more than 32; not read"),
    (" " * ((1 << 20) + 1), "more than a run file may be (1048576)"),
], ids=["deep", "deep inside a run file", "huge"])
def test_a_hostile_run_file_is_one_line(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(content)
    for args in (["show", str(path), "--json"], ["show", str(path), "--text"]):
        result = tlsbench(*args)
        assert result.returncode == 2 and result.stdout == ""
        line = one_line(result)
        assert str(path) in line and words in line


def test_a_run_file_with_a_number_json_cannot_hold_is_one_line(tmp_path: Path, plain_http: Any) -> None:
    path = tmp_path / "run.json"
    saved = tlsbench("probe", f"127.0.0.1:{plain_http.port}", "--no-tls", "--http", "--save-run", str(path))
    assert saved.returncode == 0, saved.stderr
    assert tlsbench("show", str(path), "--json").returncode == 0
    text, count = re.subn(r'"total_ms": [0-9.]+', '"total_ms": 1e99999', path.read_text(), count=1)
    assert count == 1
    path.write_text(text)
    result = tlsbench("show", str(path), "--json")
    assert result.returncode == 2 and result.stdout == ""  # never "Infinity", which is not JSON
    assert one_line(result).endswith(f"{path}: not JSON (1e99999 is too large a number)")

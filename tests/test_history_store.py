"""The history store, its settings, what a record holds and the comparison of two runs.

Records come from real runs: the engine against `openssl s_server` (lab certificates) and the
plain HTTP server on loopback."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.history.compare import compare, comparison_json, comparison_lines, flatten, summary_line
from tlsbench.history.record import NOT_KEPT, make_record
from tlsbench.history.recording import record_run
from tlsbench.history.settings import DEFAULTS, HistorySettings, SettingsError, load_history_settings
from tlsbench.history.store import HistoryError, HistoryStore, file_name, parse_line, trim_at


SEND = "GET / HTTP/1.0\r\nX-Marker: HELLO-FROM-CLIENT\r\n\r\n"


@pytest.fixture(scope="module")
def plain_runs(plain_http: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Two real runs of a plain HTTP --send connection (a record each)."""
    spec = build_spec(f"127.0.0.1:{plain_http.port}", tls=False, send=SEND)
    return spec, [run_probe(spec).to_json_dict() for _ in range(2)]


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore(tmp_path / "history")


def test_one_line_per_run_private_files_newest_last(store: HistoryStore, plain_runs: Any) -> None:
    spec, results = plain_runs
    for result in results:
        store.append(make_record("web", "probe", spec, result), keep=200)
    path = store.path_for("web")
    assert path.name == "web.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and all(parse_line(x) for x in lines)
    read = store.read("web")
    assert read.skipped == 0 and [r["result"] for r in read.runs] == results
    first = read.runs[0]
    assert first["v"] == 1 and first["source"] == "probe" and first["at"].endswith("Z")
    assert first["connection"]["host"] == "127.0.0.1" and first["connection"]["app"]["send"] == SEND
    app = next(s for s in first["result"]["stages"] if s["name"] == "app")
    assert app["detail"]["request"] == SEND  # kept by default


def test_keep_exchanged_false_drops_the_send_text_and_the_answer(store: HistoryStore, plain_runs: Any, plain_http: Any) -> None:
    spec, results = plain_runs
    record = make_record("web", "probe", spec, results[0], keep_exchanged=False)
    store.append(record, keep=10)
    raw = store.path_for("web").read_bytes()
    assert b"HELLO-FROM-CLIENT" not in raw
    answer = next(s for s in results[0]["stages"] if s["name"] == "app")["detail"]["first_bytes_text"]
    assert answer.startswith("HTTP/1.") and b"HTTP/1." not in raw  # the server's answer is gone
    kept = store.read("web").runs[0]
    app = next(s for s in kept["result"]["stages"] if s["name"] == "app")
    assert app["status"] == "ok" and app["duration_ms"] >= 0 and app["summary"] == NOT_KEPT
    assert kept["connection"]["app"]["send"] == NOT_KEPT


def test_corrupt_cut_and_foreign_lines_are_skipped_and_counted(store: HistoryStore, plain_runs: Any) -> None:
    spec, results = plain_runs
    store.append(make_record("web", "probe", spec, results[0]), keep=200)
    path = store.path_for("web")
    good = path.read_bytes()
    with open(path, "ab") as fh:
        fh.write(b"not json at all\n" + b'{"v": 99, "profile": "web"}\n' + b'["a list"]\n' + good[: len(good) // 2])
    store.append(make_record("web", "probe", spec, results[1]), keep=200)  # after a cut line: a line of its own
    read = store.read("web")
    assert len(read.runs) == 2 and read.skipped == 4
    assert read.skipped_note() == f"4 unreadable lines skipped in {path}"
    assert [r["result"] for r in read.runs] == results


def test_trimmed_to_the_newest_keep_only_past_a_quarter_more(store: HistoryStore, plain_runs: Any) -> None:
    spec, results = plain_runs
    keep = 8
    inodes = set()
    for i in range(trim_at(keep)):  # up to the threshold: appended, never rewritten
        store.append(make_record("web", "probe", spec, results[i % 2], at=f"2026-01-01T00:00:{i:02d}Z"), keep=keep)
        inodes.add(store.path_for("web").stat().st_ino)
    assert len(inodes) == 1 and len(store.read("web").runs) == trim_at(keep)
    store.append(make_record("web", "probe", spec, results[0], at="2026-01-01T00:01:00Z"), keep=keep)
    runs = store.read("web").runs
    assert len(runs) == keep and runs[-1]["at"] == "2026-01-01T00:01:00Z"
    assert runs[0]["at"] == f"2026-01-01T00:00:{trim_at(keep) + 1 - keep:02d}Z"  # the oldest went first
    assert stat.S_IMODE(store.path_for("web").stat().st_mode) == 0o600
    # Another process (a fresh store) counts the lines itself and trims at the same point.
    other = HistoryStore(store.root)
    for i in range(trim_at(keep) - keep + 1):
        other.append(make_record("web", "probe", spec, results[1]), keep=keep)
    assert len(other.read("web").runs) == keep


def test_file_names_are_stable_and_safe_for_any_name(store: HistoryStore) -> None:
    assert file_name("lab-good-tls") == "lab-good-tls.jsonl"
    odd = ["../../etc/passwd", ".hidden", "-rf", "a/b", "名前", "x" * 400, "%2F", ""]
    names = [file_name(n) for n in odd]
    assert len(set(names)) == len(names)
    for name in names:
        assert "/" not in name and not name.startswith((".", "-")) and len(name.encode()) < 255
    assert names == [file_name(n) for n in odd]  # stable


def test_a_link_or_fifo_in_place_of_the_file_is_refused_and_left_alone(store: HistoryStore, plain_runs: Any, tmp_path: Path) -> None:
    spec, results = plain_runs
    store.root.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.txt"
    target.write_text("mine\n")
    os.symlink(target, store.path_for("linked"))
    with pytest.raises(HistoryError, match="symbolic link"):
        store.append(make_record("linked", "probe", spec, results[0]), keep=5)
    assert target.read_text() == "mine\n"
    os.mkfifo(store.path_for("fifo"))
    with pytest.raises(HistoryError, match="not a regular file"):
        store.append(make_record("fifo", "probe", spec, results[0]), keep=5)
    with pytest.raises(HistoryError, match="FIFO"):
        store.read("fifo")


def test_profiles_lists_each_with_its_count(store: HistoryStore, plain_runs: Any) -> None:
    spec, results = plain_runs
    for name, n in (("b-profile", 1), ("a/odd name", 3)):
        for _ in range(n):
            store.append(make_record(name, "workbench", spec, results[0]), keep=200)
    found, problems = store.profiles()
    assert [(p.profile, p.run_count) for p in found] == [("a/odd name", 3), ("b-profile", 1)]
    assert problems == []


# --- settings ------------------------------------------------------------------------------------

def test_settings_missing_means_defaults_and_each_key_is_read(tmp_path: Path) -> None:
    assert load_history_settings(tmp_path) == DEFAULTS == HistorySettings(True, 200, True)
    (tmp_path / "settings.toml").write_text("[history]\nenabled = false\nkeep = 5\nkeep_exchanged = false\n")
    assert load_history_settings(tmp_path) == HistorySettings(False, 5, False)
    (tmp_path / "settings.toml").write_text("[other]\nx = 1\n")
    assert load_history_settings(tmp_path) == DEFAULTS


@pytest.mark.parametrize("text, words", [
    ("[history]\nkeep = 0\n", "[history] keep: expected a whole number from 1 to 10000, not 0"),
    ("[history]\nkeep = \"lots\"\n", "[history] keep: expected a whole number"),
    ("[history]\nkeep = true\n", "[history] keep:"),
    ("[history]\nenabled = \"yes\"\n", "[history] enabled: expected true or false, not 'yes'"),
    ("[history]\nkeeep = 3\n", "[history] keeep: unknown key"),
    ("history = 3\n", "history must be a table"),
    ("[history\n", "not valid TOML"),
])
def test_a_bad_settings_file_is_one_line_naming_file_and_key(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "settings.toml").write_text(text)
    with pytest.raises(SettingsError) as info:
        load_history_settings(tmp_path)
    message = str(info.value)
    assert words in message and str(tmp_path / "settings.toml") in message and "\n" not in message


def test_a_bad_setting_means_no_history_for_that_run(tmp_path: Path, plain_runs: Any) -> None:
    spec, results = plain_runs
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text("[history]\nkeep = -1\n")
    store = HistoryStore(tmp_path / "history")
    problem = record_run("web", "probe", spec, results[0], config_dir=config, store=store).problem
    assert problem is not None and problem.startswith("history not written: ") and "keep" in problem
    assert not store.path_for("web").exists()
    (config / "settings.toml").write_text("[history]\nenabled = false\n")
    off = record_run("web", "probe", spec, results[0], config_dir=config, store=store)
    assert off.problem is None and not off.written and off.record["profile"] == "web"
    assert not store.path_for("web").exists()
    (config / "settings.toml").unlink()
    assert record_run("web", "probe", spec, results[0], config_dir=config, store=store).written
    assert len(store.read("web").runs) == 1


# --- comparing -----------------------------------------------------------------------------------

def test_compare_two_real_tls_runs_side_by_side(tls_server: Any, lab_certs: Any, store: HistoryStore) -> None:
    first = tls_server("good")
    second = tls_server("alt")
    spec_a = build_spec(f"localhost:{first.port}", cafile=str(lab_certs.ca_cert))
    spec_b = build_spec(f"localhost:{second.port}", cafile=str(lab_certs.ca_cert), tls_max="1.2")
    a = make_record("p", "probe", spec_a, run_probe(spec_a).to_json_dict())
    b = make_record("p", "workbench", spec_b, run_probe(spec_b).to_json_dict())
    c = compare(a, b)
    assert {r.key: (r.a, r.b) for r in c.options} == {
        "port": (str(first.port), str(second.port)), "tls.max_version": ("—", "1.2")}
    socket = {r.key: r for r in c.socket}
    assert socket["local_port"].differs and socket["peer_port"].b == str(second.port)
    assert not socket["local_address"].differs
    assert [s.key for s in c.stages][:2] == ["resolve", "tcp"]
    tls = next(s for s in c.stages if s.key == "tls")
    assert tls.a_status == "ok" and tls.a_ms is not None and tls.delta_ms is not None
    assert c.chain and c.chain[0].key == "leaf" and c.chain[0].differs  # two different leaves
    assert c.chain[0].a == a["result"]["chain"][0]["sha256"]
    codes_a = {f["code"] for f in a["result"]["findings"]}
    codes_b = {f["code"] for f in b["result"]["findings"]}
    assert set(c.findings_only_a) == codes_a - codes_b and set(c.findings_only_b) == codes_b - codes_a
    assert set(c.findings_both) == codes_a & codes_b
    text = "\n".join(comparison_lines(c))
    assert "tls.max_version: — -> 1.2" in text and "leaf" in text and "total" in text
    as_json = comparison_json(c, 2, 1)
    assert json.loads(json.dumps(as_json))["options_differ"][0]["option"] == "port"
    assert summary_line(1, a).startswith("#1 ") and " ok " in summary_line(1, a)


def test_flatten_names_hops_and_tables() -> None:
    flat = flatten({"host": "h", "port": 1, "proxy": [{"type": "socks5", "port": 1080}], "tls": {"alpn": ["h2"]}})
    assert flat == {"host": "h", "port": "1", "proxy[1].type": "socks5", "proxy[1].port": "1080",
                    "tls.alpn": '["h2"]'}


def test_an_unusable_history_directory_is_one_line(tmp_path: Path, plain_runs: Any) -> None:
    spec, results = plain_runs
    root = tmp_path / "history"
    root.write_text("a file where the directory should be")
    problem = record_run("web", "probe", spec, results[0], config_dir=tmp_path, store=HistoryStore(root)).problem
    assert problem is not None and "\n" not in problem and "a file is in the way" in problem
    assert root.read_text() == "a file where the directory should be"


def _append_many(root: str, worker: int, count: int, keep: int, result: dict[str, Any], spec: Any) -> None:
    store = HistoryStore(Path(root))
    for i in range(count):
        store.append(make_record("shared", "probe", spec, result, at=f"w{worker}-{i:04d}"), keep=keep)


@pytest.mark.parametrize("keep", [1000, 7])
def test_processes_appending_at_once_lose_and_mix_nothing(tmp_path: Path, plain_runs: Any, keep: int) -> None:
    """Four processes append (and, with a small keep, trim) the same file at the same time."""
    import multiprocessing

    spec, results = plain_runs
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), w, 40, keep, results[0], spec))
               for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    read = HistoryStore(tmp_path).read("shared")
    assert read.skipped == 0  # no line was cut or mixed with another
    if keep == 1000:
        assert sorted(r["at"] for r in read.runs) == sorted(f"w{w}-{i:04d}" for w in range(4) for i in range(40))
    else:
        assert keep <= len(read.runs) <= trim_at(keep)
        assert len({r["at"] for r in read.runs}) == len(read.runs)

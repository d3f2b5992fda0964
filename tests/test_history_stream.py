"""F4 reads a profile's history file off the UI thread: the screen is drawn with the current run at
once, the file's runs stream in newest first (a screen's worth, then the rest), and Enter typed
before the file is read still compares with the previous run. Runs are real: `tlsbench probe
--profile` against an `openssl s_server` with the lab certificates, its record copied with other
times to make a long history."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.test_history_tui import history_file, history_read, store_with, table_cells
from tests.tui_helpers import launched, screen_text, wait_for_result
from tlsbench.cli import main
from tlsbench.commands.workbench import make_app
from tlsbench.engine.spec import build_spec
from tlsbench.history import store as history_store
from tlsbench.tui.screens.compare import CompareScreen
from tlsbench.tui.screens.history import HistoryScreen


def long_history(name: str, runs: int) -> list[str]:
    """The profile's one real record, written `runs` times with times a minute apart (oldest
    first), plus two lines that are not records; returns the times, newest first."""
    path = history_file(name)
    record = json.loads(path.read_bytes().splitlines()[-1])
    lines, times = [], []
    for i in range(runs):
        at = f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00.000Z"
        lines.append(json.dumps(dict(record, at=at, source="probe")))
        times.append(at)
    lines.insert(5, "not a record")
    lines.append("{\"cut short")
    path.write_text("\n".join(lines) + "\n")
    return times[::-1]


def test_the_store_streams_the_newest_runs_first_a_screen_at_a_time(tmp_path: Path, tls_server: Any, lab_certs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    server = tls_server("good")
    store_with(tmp_path, good=build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    assert main(["probe", "--profile", "good"]) == 0
    capsys.readouterr()
    times = long_history("good", 45)
    batches = list(history_store.HistoryStore().newest("good", first=30))
    assert [len(b.runs) for b in batches] == [30, 15] and [b.done for b in batches] == [False, True]
    assert [r["at"] for b in batches for r in b.runs] == times
    assert batches[-1].skipped == 2 and "2 unreadable lines skipped" in (batches[-1].skipped_note() or "")
    assert list(history_store.HistoryStore().newest("none-such")) == [
        history_store.HistoryBatch(history_store.HistoryStore().path_for("none-such"), [], 0, True)]


async def test_f4_is_drawn_before_the_file_is_read_and_enter_waits_for_the_previous_run(tmp_path: Path, tls_server: Any, lab_certs: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    server = tls_server("good")
    store = store_with(tmp_path, good=build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    assert main(["probe", "--profile", "good"]) == 0
    capsys.readouterr()
    times = long_history("good", 40)
    # The real reader, held at its start until the test lets it go: whatever the screen shows
    # meanwhile, it showed without the file.
    gate, readers = threading.Event(), []
    real_newest = history_store.HistoryStore.newest

    def held(self: Any, profile: str, first: int = 30) -> Iterator[Any]:
        readers.append(threading.current_thread().name)
        assert gate.wait(10)
        yield from real_newest(self, profile, first)

    monkeypatch.setattr(history_store.HistoryStore, "newest", held)
    app = make_app(store=store, profile="good")
    async with app.run_test(size=(80, 24)) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        await wait_for_result(pilot)
        await pilot.press("f4")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HistoryScreen) and screen.reading
        await pilot.pause()
        assert "reading the history file" in screen_text(app)
        assert [c.label for c in screen.choices] == ["#1 now"]  # the file's runs are not there yet
        await pilot.press("enter")  # F4 then Enter at once: the compare waits for the file
        await pilot.pause()
        assert app.screen is screen
        gate.set()
        for _ in range(200):
            await pilot.pause(0.02)
            if isinstance(app.screen, CompareScreen):
                break
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert readers == ["tlsbench-history-read"]  # read in its own thread, not the UI's
        # The workbench run was written too: the previous run is the newest in the file before it.
        assert compare.a["at"] == times[0] and compare.b["source"] == "workbench"
        await pilot.press("escape")
        screen = await history_read(pilot)
        rows = table_cells(screen, "#history-table")
        assert [r[1] for r in rows] == ["#1 now"] + [f"#{i}" for i in range(2, 42)]
        assert [c.record["at"] for c in screen.choices[1:]] == times
        assert "(41 runs)" in screen_text(app)
        assert "2 unreadable lines skipped" in screen_text(app)


async def test_a_history_file_that_cannot_be_read_is_a_note_over_the_session_runs(tmp_path: Path, tls_server: Any, lab_certs: Any) -> None:
    server = tls_server("good")
    store = store_with(tmp_path, good=build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    app = make_app(store=store, profile="good")
    async with app.run_test(size=(80, 24)) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        await wait_for_result(pilot)
        for _ in range(100):  # the run's record is written off the UI thread
            await pilot.pause(0.02)
            if history_file("good").exists():
                break
        path = history_file("good")
        path.unlink()
        os.mkfifo(path)  # not a regular file: refused, never opened for reading
        await pilot.press("f4")
        screen = await history_read(pilot)
        assert [c.label for c in screen.choices] == ["#1 now"]
        assert "not a regular file" in screen_text(app)

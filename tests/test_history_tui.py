"""The workbench's F4 History and compare screens, driven by keys with Textual's pilot against real
servers (`openssl s_server` with the lab certificates, the plain HTTP server), at 80x24.

TLSBENCH_CONFIG_DIR / TLSBENCH_DATA_DIR point at the test's own directories (tests/conftest.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.tui_helpers import launched, screen_text, settle, wait_for_result
from tests.tui_layout_checks import layout_problems
from tlsbench.cli import main
from tlsbench.commands.workbench import make_app
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore
from tlsbench.tui.screens.compare import CompareScreen
from tlsbench.tui.screens.history import HistoryScreen

SMALL = (80, 24)


def history_file(name: str) -> Path:
    return Path(os.environ["TLSBENCH_DATA_DIR"]) / "history" / f"{name}.jsonl"


def store_with(tmp_path: Path, **profiles: Any) -> ProfileStore:
    store = ProfileStore(Path(os.environ["TLSBENCH_CONFIG_DIR"]))
    for name, spec in profiles.items():
        store.save(Profile(name, spec))
    return store


async def run_again(pilot: Any, before: Any) -> Any:
    """ctrl+r, then wait for a result other than `before`."""
    await pilot.press("ctrl+r")
    for _ in range(200):
        await pilot.pause(0.05)
        if pilot.app.screen.query_one("#results").result not in (None, before):
            break
    return await wait_for_result(pilot)


async def history_read(pilot: Any) -> Any:
    """F4's screen once its history file has been read (the runs stream in from a thread)."""
    for _ in range(200):
        await pilot.pause(0.02)
        screen = pilot.app.screen
        if isinstance(screen, HistoryScreen) and not screen.reading:
            await pilot.pause()
            return screen
    raise AssertionError("the history file was never read")


def table_cells(screen: Any, selector: str) -> list[list[str]]:
    table = screen.query_one(selector)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_f4_lists_the_profile_runs_and_enter_compares_with_the_previous(tmp_path: Path, tls_server: Any, lab_certs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    store = store_with(tmp_path, good=spec)
    assert main(["probe", "--profile", "good"]) == 0  # a run kept by the CLI before the workbench opens
    capsys.readouterr()
    app = make_app(store=store, profile="good")
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        first = await wait_for_result(pilot)
        second = await run_again(pilot, first)
        lines = history_file("good").read_bytes().splitlines()
        assert [json.loads(x)["source"] for x in lines] == ["probe", "workbench", "workbench"]
        assert "History" in str(app.screen.query_one("#keys").render())  # the footer's word for F4
        await pilot.press("f4")
        screen = await history_read(pilot)
        rows = table_cells(screen, "#history-table")
        assert [r[1] for r in rows] == ["#1 now", "#2", "#3"]
        assert [r[3] for r in rows] == ["workbench", "workbench", "probe"] and all(r[4] == "ok" for r in rows)
        assert screen.selected == 1  # the previous run, preselected
        assert layout_problems(screen) == []
        text = screen_text(app)
        assert "History of good (3 runs)" in text and "#1 now" in text
        await pilot.press("enter")
        await pilot.pause()
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert compare.a["result"]["total_ms"] == round(first.total_ms, 3)
        assert compare.b["result"]["total_ms"] == round(second.total_ms, 3)
        cells = table_cells(compare, "#compare-table")
        firsts = [r[0] for r in cells]
        for section in ("stages", "options that differed", "socket", "chain (sha256)", "findings"):
            assert section in firsts
        assert "tls handshake" in firsts and "total" in firsts
        leaf = next(r for r in cells if r[0] == "leaf")
        assert leaf[1] == leaf[2] and leaf[3] == "same"
        assert leaf[1] == first.chain.certificates[0].sha256[:17] + "…"
        port = next(r for r in cells if r[0] == "local port")
        assert port[1] == str(first.socket.local_port) and port[2] == str(second.socket.local_port)
        assert port[3] == "differs"
        assert next(r for r in cells if r[0] == "none")  # no option differed
        assert layout_problems(compare) == []
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen  # back to the list
        await pilot.press("down", "space", "up", "up", "space", "enter")  # mark #3 and #1: compare them
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.a_label == "#3" and app.screen.b_label == "#1 now"
        assert app.screen.a["source"] == "probe"


async def test_the_options_actually_run_are_kept_and_differ_in_the_compare(tmp_path: Path, plain_http: Any) -> None:
    spec = build_spec(f"127.0.0.1:{plain_http.port}", tls=False, http=True)
    store = store_with(tmp_path, web=spec)
    app = make_app(store=store, profile="web")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        first = await wait_for_result(pilot)
        evil = "/[b]evil[/b][@click=app.quit]q"
        app.screen.query_one("#f-path").value = evil  # edited in the form, never saved
        await pilot.pause()
        await run_again(pilot, first)
        assert store.get("web").spec.app.path == "/"  # the profile itself is unchanged
        records = [json.loads(x) for x in history_file("web").read_bytes().splitlines()]
        assert [r["connection"]["app"].get("path", "/") for r in records] == ["/", evil]
        await pilot.press("f4", "enter")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        cells = table_cells(app.screen, "#compare-table")
        path = next(r for r in cells if r[0] == "app.path")
        assert path[1] == "—" and path[2] == evil
        assert evil[:22] in screen_text(app)  # markup stays characters (the rest scrolls)


async def test_without_a_profile_the_session_runs_are_listed(tmp_path: Path, plain_http: Any) -> None:
    spec = build_spec(f"127.0.0.1:{plain_http.port}", tls=False, http=True)
    app = make_app(store=store_with(tmp_path), spec=spec, run=True)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        await run_again(pilot, first)
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert [c.label for c in app.screen.choices] == ["#1 now", "#2"]
        assert f"Runs of 127.0.0.1:{plain_http.port} in this session" in screen_text(app)
        assert not (Path(os.environ["TLSBENCH_DATA_DIR"]) / "history").exists()  # nothing written


async def test_a_history_that_cannot_be_written_is_a_notification_not_a_failed_run(tmp_path: Path, plain_http: Any) -> None:
    spec = build_spec(f"127.0.0.1:{plain_http.port}", tls=False, http=True)
    store = store_with(tmp_path, web=spec)
    data = Path(os.environ["TLSBENCH_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "history").write_text("in the way")
    app = make_app(store=store, profile="web")
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        first = await wait_for_result(pilot)
        assert first.ok
        for _ in range(60):  # the history is written off the UI thread: its notification follows
            notes = [n.message for n in app._notifications]
            if notes:
                break
            await pilot.pause(0.05)
        assert any(m.startswith("history not written:") and "a file is in the way" in m for m in notes), notes
        second = await run_again(pilot, first)
        await pilot.press("f4")
        await pilot.pause()
        # Not written, still listed: this session's runs of the profile.
        assert [c.record["result"]["total_ms"] for c in app.screen.choices] == [
            round(second.total_ms, 3), round(first.total_ms, 3)]


def test_the_docs_keys_table_says_what_f4_does() -> None:
    from tlsbench.tui.actions import ACTIONS

    f4 = next(a for a in ACTIONS if a.key == "f4")
    assert f4.label == "History" and "Space marks two" in f4.help
    page = (Path(__file__).resolve().parents[1] / "docs" / "workbench.md").read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if line.startswith("| F4 |"))
    assert row.startswith("| F4 | History: ") and "Space marks two" in row


def test_a_newline_from_a_file_stays_on_one_row() -> None:
    from tlsbench.history.compare import compare
    from tlsbench.tui.screens.compare import comparison_rows

    a = {"at": "2026-01-01T00:00:00.000Z", "connection": {"app": {"send": "A\r\nB"}}, "result": {"ok": True}}
    b = {"at": "2026-01-01T00:00:01.000Z", "connection": {"app": {"send": "[b]x[/b]\x1b[2J"}}, "result": {}}
    row = next(r for r in comparison_rows(compare(a, b)) if r[0].plain == "app.send")
    assert row[1].plain == "A\\x0d\\nB" and row[2].plain == "[b]x[/b]\\e[2J" and not row[2].spans

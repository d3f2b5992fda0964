"""Compare means the same connection, cancelled reads 'cancelled', and nothing shown is stale.

Runs go to the lab's real servers (the silent one for cancelling mid-handshake)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from tests.tui_helpers import fill, launched, screen_text, settle, wait_for_result
from tests.tui_synthetic import SPEC, not_tls
from tlsbench.commands.lab import save_profiles
from tlsbench.commands.workbench import make_app
from tlsbench.profiles.store import ProfileStore
from tlsbench.tui.screens.compare import CompareScreen
from tlsbench.tui.screens.history import HistoryScreen

SIZE = (160, 50)


@pytest.fixture
def lab_store(tmp_path, running_lab):
    store = ProfileStore(tmp_path / "config")
    save_profiles(running_lab, store)
    return store


async def run_named(pilot, name: str):
    screen = pilot.app.screen
    options = screen.query_one("#profile-options")
    options.focus()
    options.highlighted = sorted(screen.query_one("#profiles").profiles).index(name)
    await pilot.pause()
    await pilot.press("enter")
    return await wait_for_result(pilot)


async def wait_running(pilot, stage: str) -> None:
    rows = pilot.app.screen.query_one("#waterfall").rows
    for _ in range(200):
        await pilot.pause(0.05)
        if stage in rows and rows[stage].status == "running":
            return
    raise AssertionError(f"{stage} never started")


async def test_prev_and_f4_compare_with_the_same_connection_only(lab_store):
    app = make_app(store=lab_store, profile="lab-good-tls")
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        good = await run_named(pilot, "lab-good-tls")
        plain = await run_named(pilot, "lab-plaintext-port")
        rows = app.screen.query_one("#waterfall").rows
        assert all(row.previous_ms is None and row.previous_status is None for row in rows.values())
        assert "prev" not in screen_text(app)
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen) and len(app.screen.choices) == 1  # only this run
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)  # nothing to compare this connection with
        await pilot.press("escape")
        await pilot.pause()
        again = await run_named(pilot, "lab-good-tls")
        rows = app.screen.query_one("#waterfall").rows
        assert rows["tcp"].previous_ms == good.stage("tcp").duration_ms
        assert app.screen.previous is good and again is not plain
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("enter")  # the previous run is preselected
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.a["result"]["total_ms"] == round(good.total_ms, 3)
        assert app.screen.b["result"]["total_ms"] == round(again.total_ms, 3)


async def test_an_equal_spec_is_the_same_connection(tmp_path, plain_http):
    from tlsbench.engine.spec import build_spec

    spec = build_spec(f"127.0.0.1:{plain_http.port}", tls=False, http=True)
    app = make_app(store=ProfileStore(tmp_path / "config"), spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        first = await wait_for_result(pilot)
        await pilot.press("ctrl+r")
        for _ in range(200):
            await pilot.pause(0.05)
            if app.screen.query_one("#results").result not in (None, first):
                break
        await wait_for_result(pilot)
        assert app.screen.previous is first
        assert app.screen.query_one("#waterfall").rows["tcp"].previous_ms == first.stage("tcp").duration_ms


async def test_a_cancelled_run_reads_cancelled_everywhere(lab_store):
    app = make_app(store=lab_store, profile="lab-silent")
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        await wait_running(pilot, "tls")
        await pilot.press("ctrl+g")
        first = await wait_for_result(pilot)
        assert first.cancelled
        text = screen_text(app)
        assert "CANCELLED" in text and "FAILED" not in text and "✘" not in text
        assert "no TLS in this run" not in text
        await pilot.press("enter")  # the same profile again, cancelled again
        await wait_running(pilot, "tls")
        row = app.screen.query_one("#waterfall").rows["tls"]
        assert row.previous_status == "cancelled" and "prev cancelled" in row.header_text().plain
        await pilot.press("escape")  # Escape cancels too
        second = await wait_for_result(pilot)
        assert second.cancelled
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        table = app.screen.query_one("#compare-table")
        cells = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        tls = next(c for c in cells if c.startswith("tls"))
        total = next(c for c in cells if c.startswith("total"))
        assert tls.count("cancelled") == 2 and total.count("cancelled") == 2
        assert not any("failed" in c for c in cells)


async def test_a_field_error_clears_as_soon_as_the_field_is_valid(tmp_path):
    app = make_app(store=ProfileStore(tmp_path / "config"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.screen.query_one("#form")
        fill(app, host="example.test", port="70000")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert list(form.invalid_fields()) == ["f-port"]
        app.screen.query_one("#f-port", Input).value = "7000"  # valid now: the mark goes at once
        await pilot.pause()
        assert form.invalid_fields() == {} and not app.screen.query("#f-port-error")
        # A select that makes the error moot clears it too.
        app.screen.query_one("#f-route", Select).value = "socks5"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert list(form.invalid_fields()) == ["f-proxy"]
        app.screen.query_one("#f-route", Select).value = "direct"
        await pilot.pause()
        assert form.invalid_fields() == {}
        # Corrected and saved: no error left anywhere.
        app.screen.query_one("#f-timeout", Input).value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert list(form.invalid_fields()) == ["f-timeout"]
        app.screen.query_one("#f-timeout", Input).value = "5"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#name", Input).value = "fixed"
        await pilot.press("enter")
        await pilot.pause()
        assert form.invalid_fields() == {} and ProfileStore(tmp_path / "config").names() == ["fixed"]


async def test_a_new_run_resets_verdict_findings_and_chain_before_its_first_event(lab_store):
    app = make_app(store=lab_store, profile="lab-silent")
    async with app.run_test(size=(80, 24)) as pilot:
        await launched(pilot)
        screen = app.screen
        screen.show_result(not_tls(), SPEC)
        await pilot.pause()
        assert screen.query_one("#findings").border_title == "Findings (1)"
        assert "not-tls" in str(screen.query_one("#finding-line").render())
        screen.action_run()  # no event of the new run can have arrived yet
        assert "running" in str(screen.query_one("#run-header").render())
        assert screen.query_one("#findings").border_title == "Findings"
        assert screen.query_one("#findings").findings == []
        assert str(screen.query_one("#finding-line").render()) == ""
        assert "waiting for the handshake" in screen.query_one("#chain").label()
        assert screen.query_one("#socket").info is None
        assert screen.query_one("#waterfall").rows == {}
        await pilot.press("ctrl+g")
        await wait_for_result(pilot)

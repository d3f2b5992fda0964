"""The workbench's "Why?" against real servers: the table fills in, a variant opens as a full run, and
"use this variant" puts it in the compose form, which then runs it."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Select

from tests.tui_helpers import SIZE, app_for, screen_text, settle, wait_for_result
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


async def wait_for_diagnosis(pilot, rounds: int = 400):
    """Until the diagnosis screen holds a finished diagnosis (bounded, not timed)."""
    for _ in range(rounds):
        await pilot.pause(0.05)
        screen = pilot.app.screen
        if getattr(screen, "state", None) is not None and screen.state.diagnosis is not None and not screen.running:
            await pilot.pause()
            return screen.state.diagnosis
    raise AssertionError("the diagnosis did not finish")


async def test_why_after_a_failure_then_use_the_variant(tmp_path, nginx_sni_strict, lab_certs):
    spec = build_spec(f"127.0.0.1:{nginx_sni_strict.port}", cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        assert "sni-required" in first.codes()
        await pilot.press("f12")
        d = await wait_for_diagnosis(pilot)
        assert "--diagnose-sni NAME" in d.conclusion
        table = app.screen.query_one("#variants", DataTable)
        assert table.row_count == len(d.outcomes) == 2
        assert "give one to try" in screen_text(app)
        # A name typed on the table goes to the name field, which runs the diagnosis again with it
        assert app.screen.focused is table
        await pilot.press(*"www.lab.test")
        assert app.screen.focused is app.screen.query_one("#diagnosis-sni", Input)
        assert app.screen.focused.value == "www.lab.test"
        await pilot.press("enter")
        d = await wait_for_diagnosis(pilot)
        assert d.works == "sni=www.lab.test"
        table = app.screen.query_one("#variants", DataTable)
        assert table.row_count == 3 and table.cursor_row == table.get_row_index("sni=www.lab.test")
        text = screen_text(app)
        assert "It works with SNI www.lab.test" in text and "--sni www.lab.test" in text
        table.focus()
        await pilot.press("u")
        await pilot.pause()
        form = app.screen.query_one("#form")
        assert app.screen.query_one("#f-sni-mode", Select).value == "override"
        assert app.screen.query_one("#f-sni", Input).value == "www.lab.test"
        assert form.build().sni == "www.lab.test"
        await pilot.press("ctrl+r")
        again = await wait_for_result(pilot)
        assert again.ok and again.tls.sni == "www.lab.test"


async def test_a_variant_opens_as_a_full_run_and_the_table_comes_back(tmp_path, tls_server, lab_certs):
    server = tls_server("good", tls_version="1.3")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), tls_max="1.2")
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        assert not first.ok
        await pilot.press("f12")
        d = await wait_for_diagnosis(pilot)
        assert d.works == "tls-1.3"
        await pilot.press("enter")  # the cursor is on the working variant
        await pilot.pause()
        results = app.screen.query_one("#results")
        shown = d.outcome("tls-1.3").result
        assert results.result is shown and results.result.ok
        assert app.screen.query_one("#waterfall").rows["tls"].status == "ok"
        assert "OK in" in screen_text(app)
        await pilot.press("f12")  # the same diagnosis again, not a new one
        await pilot.pause()
        assert app.screen.state.diagnosis is d
        assert app.screen.query_one("#variants", DataTable).row_count == len(d.outcomes)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query("#results")


async def test_why_needs_a_finished_run(tmp_path):
    app = app_for(tmp_path, spec=build_spec("localhost:1"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f12")
        await pilot.pause()
        assert not app.screen.query("#variants")  # no diagnosis screen
        assert any("run the connection first" in str(n.message) for n in app._notifications)

"""Snapshots of the main screens, rendered from fixed synthetic results (pytest-textual-snapshot)."""

from __future__ import annotations

from tests.tui_helpers import SIZE, app_for, settle
from tests.tui_synthetic import SPEC, not_tls, success


def test_snapshot_compose_form(snap_compare, tmp_path):
    assert snap_compare(app_for(tmp_path, spec=SPEC), terminal_size=SIZE, run_before=settle)


def test_snapshot_failure_with_findings(snap_compare, tmp_path):
    async def show(pilot):
        await settle(pilot)
        pilot.app.screen.show_result(not_tls(), SPEC)
        pilot.app.screen.query_one("#waterfall").expand("tls")
        await pilot.pause()

    assert snap_compare(app_for(tmp_path, spec=SPEC), terminal_size=SIZE, run_before=show)


def test_snapshot_success_chain_expanded_and_compare(snap_compare, tmp_path):
    async def show(pilot):
        await settle(pilot)
        pilot.app.screen.show_result(not_tls(), SPEC)
        pilot.app.screen.show_result(success(), SPEC)
        await pilot.press("f7", "f6")
        await pilot.pause()

    assert snap_compare(app_for(tmp_path, spec=SPEC), terminal_size=SIZE, run_before=show)

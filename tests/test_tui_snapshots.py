"""Snapshots of the main screens at 80x24 and 160x50 (pytest-textual-snapshot), from fixed synthetic
results: a real run's ports and timings change every time. Real runs are in the other TUI tests."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui_helpers import app_for, launched, settle
from tests.tui_synthetic import SPEC, listener_events, not_tls, success
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 50), id="160x50")]


def with_profiles(tmp_path, **kwargs):
    store = ProfileStore(tmp_path / "config")
    store.save(Profile("office-portal", SPEC, "via the office SOCKS proxy"))
    store.save(Profile("mail-starttls", build_spec("mail.lab.test:25", tls=False, send="EHLO x\r\n")))
    store.save(Profile("plain-web", build_spec("127.0.0.1:8080", tls=False, http=True)))
    return app_for(tmp_path, profile="office-portal", **kwargs)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_launch(snap_compare, tmp_path, size):
    assert snap_compare(with_profiles(tmp_path), terminal_size=size, run_before=launched)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_socks_tls_success(snap_compare, tmp_path, size):
    async def show(pilot):
        await launched(pilot)
        pilot.app.screen.show_result(success(), SPEC, "office-portal")
        await pilot.pause()

    assert snap_compare(with_profiles(tmp_path), terminal_size=size, run_before=show)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_failure_with_its_finding(snap_compare, tmp_path, size):
    async def show(pilot):
        await launched(pilot)
        pilot.app.screen.show_result(not_tls(), SPEC, "office-portal")
        pilot.app.screen.query_one("#waterfall").expand("tls")
        await pilot.pause()

    assert snap_compare(with_profiles(tmp_path), terminal_size=size, run_before=show)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_chain_expanded(snap_compare, tmp_path, size):
    async def show(pilot):
        await launched(pilot)
        pilot.app.screen.show_result(success(), SPEC, "office-portal")
        await pilot.press("2", "f6")  # the chain panel, everything expanded
        await pilot.pause()

    assert snap_compare(with_profiles(tmp_path), terminal_size=size, run_before=show)


async def steady(pilot) -> None:
    """No blinking cursor (its phase would depend on the machine's speed), everything drawn."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_form(snap_compare, tmp_path, size):
    async def show(pilot):
        await launched(pilot)
        await pilot.press("f7")
        await settle(pilot)
        await steady(pilot)

    assert snap_compare(with_profiles(tmp_path), terminal_size=size, run_before=show)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_listener_with_clients(snap_compare, tmp_path, size):
    async def show(pilot):
        await launched(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        view = pilot.app.screen.query_one("#listener").content
        for _ in range(20):
            await pilot.pause()
            if view.query("#lv-clients"):
                break
        for event in listener_events():
            view._event(view.EventArrived(event))  # at once, as the listener's messages would be handled
        view.query_one("#lv-clients").move_cursor(row=1, animate=False)  # the client that rejected the certificate
        await steady(pilot)

    assert snap_compare(with_profiles(tmp_path), terminal_size=size, run_before=show)

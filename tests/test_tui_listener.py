"""The Listener tab inside the workbench: real clients, their worst finding first, the detail pane,
and "Probe this listener" running from the Connection tab and pointing at its own client."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest
from textual.widgets import DataTable

from tests.tui_helpers import launched, screen_text, wait_for_result
from tlsbench.commands.workbench import make_app
from tlsbench.engine.findings.model import Evidence
from tlsbench.engine.listener.events import Accepted, ClientFinding, ClientHelloSeen
from tlsbench.profiles.store import ProfileStore
from tlsbench.tui.listener.client_details import render_record
from tlsbench.tui.listener.records import ClientRecord

SIZE = (160, 50)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSBENCH_DATA_DIR", str(tmp_path / "data"))


async def start_listener(pilot):
    """Listener tab (ctrl+t), then F5: keyboard only."""
    await pilot.press("ctrl+t")
    await pilot.pause()
    await pilot.press("f5")
    view = pilot.app.screen.query_one("#listener").content
    for _ in range(200):
        await pilot.pause(0.05)
        if view.listener is not None and view.listener.port:
            return view
    raise AssertionError("the listener did not start")


def no_sni_unverified_client(port: int) -> None:
    """By IP (no SNI), verifying against the system store: it rejects the self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            ctx.wrap_socket(raw, server_hostname=None)
        except ssl.SSLError:
            pass


async def wait_until(pilot, predicate, rounds: int = 200) -> None:
    for _ in range(rounds):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


async def test_probe_this_listener_runs_and_points_at_its_client(tmp_path):
    app = make_app(store=ProfileStore(tmp_path / "config"))
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        view = await start_listener(pilot)
        await pilot.press("ctrl+o")  # Probe this listener
        await pilot.pause()
        assert app.screen.tab == "connection"
        result = await wait_for_result(pilot)
        # By name, pinned: SNI and verification pass. The listener answers from a process of its own,
        # not the one drawing the switch of tabs; still, on a busy machine its first byte can come
        # 200 ms late, which the probe rightly calls accept-queue-wait (it is not the point here).
        assert result.ok and not [c for c in result.codes() if c != "accept-queue-wait"], result.codes()
        assert result.tls.sni == "localhost" and result.chain.verified
        port = result.socket.local_port
        await wait_until(pilot, lambda: any(r.peer_port == port for r in view.records.values()))
        await pilot.press("ctrl+t")  # back to the Listener: the probe's client is highlighted
        await pilot.pause()
        table = view.query_one("#lv-clients", DataTable)
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        assert view.records[int(row_key.value)].peer_port == port
        details = str(view.query_one("#details-body").render())
        assert "your probe" in details and f"port {port}" in details
        assert f"ephemeral port {port}" in str(view.query_one("#lv-status").render())
        await pilot.press("f5")
        await wait_until(pilot, lambda: view.listener is None)


async def test_the_worst_finding_comes_first_in_a_column_wide_enough(tmp_path):
    app = make_app(store=ProfileStore(tmp_path / "config"))
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        view = await start_listener(pilot)
        await asyncio.to_thread(no_sni_unverified_client, view.listener.port)
        await wait_until(pilot, lambda: 1 in view.records and len(view.records[1].findings) >= 2)
        await pilot.pause()
        table = view.query_one("#lv-clients", DataTable)
        cell = table.get_cell("1", "findings")
        assert cell.plain.startswith("✘ client-aborted-handshake") and "+1" in cell.plain
        assert "red" in str(cell.style)
        await wait_until(pilot, lambda: cell.plain in screen_text(app))  # not cut: the column holds it all
        await pilot.press("f5")
        await wait_until(pilot, lambda: view.listener is None)


def test_the_detail_pane_keeps_a_space_after_every_label():
    record = ClientRecord(1, tls_port=True)
    record.apply(Accepted(1, "127.0.0.1", 40000, "127.0.0.1", 4433))
    record.apply(ClientHelloSeen(1, None, (), ("TLS 1.0",), 3))
    from tlsbench.engine.findings.catalogue import finding as make

    finding = make("no-sni-from-client", "Only old versions offered", "x", "y",
                   (Evidence("versions offered", "TLS 1.0"),))
    record.apply(ClientFinding(1, finding))
    text = render_record(record).plain
    assert "versions offered TLS 1.0" in text
    assert "offeredTLS" not in text


async def test_the_listener_runs_in_a_child_process_that_ends_with_it(tmp_path):
    import os
    from pathlib import Path

    app = make_app(store=ProfileStore(tmp_path / "config"))
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        view = await start_listener(pilot)
        pid = view.listener.pid
        assert pid is not None and pid != os.getpid()
        assert b"tlsbench.engine.listener.process" in Path(f"/proc/{pid}/cmdline").read_bytes()
        await asyncio.to_thread(no_sni_unverified_client, view.listener.port)
        await wait_until(pilot, lambda: len(view.records) == 1)  # its events reach the table
        await pilot.press("f5")  # Stop
        await wait_until(pilot, lambda: view.listener is None)
        assert "stopped; 1 clients served" in screen_text(app)
        await wait_until(pilot, lambda: not Path(f"/proc/{pid}").exists() or
                         Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"))

"""The Listener view in a small app, driven with Pilot, with real clients connecting to it."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from tlsbench.tui.listener import ListenerView
from tlsbench.tui.listener.client_details import ClientDetails, render_record
from tlsbench.tui.listener.clients_table import ClientsTable


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSBENCH_DATA_DIR", str(tmp_path / "data"))


class ListenerApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[ListenerView.UseAsTarget] = []

    def compose(self) -> ComposeResult:
        yield ListenerView()

    def on_listener_view_use_as_target(self, message: ListenerView.UseAsTarget) -> None:
        self.targets.append(message)


async def wait_until(pilot, predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached; records: {getattr(pilot.app.query_one(ListenerView), 'records', None)}")
        await pilot.pause(0.05)


def tls_client(port: int, cafile: str, payload: bytes) -> int:
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(payload)
            tls.recv(1000)
            return tls.getsockname()[1]


async def start(pilot, view: ListenerView) -> None:
    await pilot.click("#lv-start")
    await wait_until(pilot, lambda: view.listener is not None and view.listener.port != 0
                     and str(view.query_one("#lv-start").label).startswith("Stop"))


async def test_client_row_shows_the_clients_ephemeral_port():
    app = ListenerApp()
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.query_one(ListenerView)
        await start(pilot, view)
        listener = view.listener
        port = await asyncio.to_thread(tls_client, listener.port, listener.cert_path,
                                       b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        table = view.query_one(ClientsTable)
        await wait_until(pilot, lambda: "1" in table.rows and view.records[1].closed is not None)
        assert table.port_of(1) == str(port)
        assert str(table.get_cell("1", "sni")) == "localhost"
        assert str(table.get_cell("1", "protocol")).startswith("TLSv1.")
        details = view.query_one("#details-body")
        assert "GET / HTTP/1.1" in str(details.render())
        # the "probe this listener" step hands the app a ready target
        await pilot.click("#lv-probe")
        await pilot.pause()
        target = app.targets[-1]
        assert (target.host, target.port, target.tls, target.cafile) == (
            "127.0.0.1", listener.port, True, listener.cert_path)
        await wait_until(pilot, lambda: not view.query_one("#lv-start").has_class("-active"))
        await pilot.click("#lv-start")
        await wait_until(pilot, lambda: view.listener is None)
        assert str(view.query_one("#lv-start").label).startswith("Start")


async def test_pause_fills_the_gauge_and_http_on_tls_port_is_shown():
    app = ListenerApp()
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.query_one(ListenerView)
        view.query_one("#lv-form").set_values(backlog="5")
        await start(pilot, view)
        await pilot.click("#lv-pause")
        await wait_until(pilot, lambda: view.listener.paused)
        clients = [socket.create_connection(("127.0.0.1", view.listener.port), timeout=5) for _ in range(2)]
        try:
            label = view.query_one("#gauge-label")
            await wait_until(pilot, lambda: "2 / 5 queued" in str(label.render()))
            clients[0].sendall(b"GET /[bold]x[/] HTTP/1.1\r\n\r\n")  # markup-looking text stays text
            # a Button ignores presses while its pressed look (-active) lasts
            await wait_until(pilot, lambda: not view.query_one("#lv-pause").has_class("-active"))
            await pilot.click("#lv-pause")
            table = view.query_one(ClientsTable)
            await wait_until(pilot, lambda: len(table.rows) == 2 and 1 in view.records
                             and "http-on-tls-port" in view.records[1].codes)
            assert str(table.get_cell("1", "protocol")) == "HTTP on TLS port"
            assert {table.port_of(1), table.port_of(2)} == {str(c.getsockname()[1]) for c in clients}
            rendered = render_record(view.records[1])
            assert isinstance(rendered, Text) and "GET /[bold]x[/] HTTP/1.1" in rendered.plain
        finally:
            for c in clients:
                c.close()


async def test_bad_form_input_is_shown_not_raised():
    app = ListenerApp()
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.query_one(ListenerView)
        view.query_one("#lv-form").set_values(port="70000")
        await pilot.click("#lv-start")
        await pilot.pause()
        status = view.query_one("#lv-status")
        assert "out of range" in str(status.render()) and status.has_class("-failed")
        assert view.listener is None
        assert isinstance(view.query_one(ClientDetails), ClientDetails)


def test_a_cut_short_hello_shows_its_sni_as_not_reached_never_none():
    from tlsbench.engine.listener.events import ClientHelloSeen
    from tlsbench.tui.listener.records import ClientRecord

    record = ClientRecord(1, tls_port=True)
    record.apply(ClientHelloSeen(1, None, (), ("TLS 1.2",), 3, complete=False, length=55, declared_length=512))
    assert record.sni == "(not reached)"
    assert "(not reached)" in render_record(record).plain and "(none)" not in render_record(record).plain
    whole = ClientRecord(2, tls_port=True)
    whole.apply(ClientHelloSeen(2, None, (), ("TLS 1.3",), 3, complete=True, length=512, declared_length=512))
    assert whole.sni == "(none)"

"""The Listener view: configure and run a listener, watch its accept queue, its clients and what they sent.

The listener runs in its own threads; its events arrive here as messages (post_message is
thread-safe) and only this widget, on the UI thread, touches its children.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, DataTable, Static

from tlsbench.engine.errors import InputError
from tlsbench.engine.listener.server import Listener
from tlsbench.engine.listener.events import Listening, Notice, PauseChanged, QueueChanged, Stopped
from tlsbench.engine.visible import visible
from tlsbench.tui.listener.client_details import ClientDetails
from tlsbench.tui.listener.clients_table import ClientsTable
from tlsbench.tui.listener.listener_form import ListenerForm
from tlsbench.tui.listener.queue_gauge import QueueGauge
from tlsbench.tui.listener.records import ClientRecord


class ListenerView(Widget):
    DEFAULT_CSS = """
    ListenerView { layout: vertical; height: 1fr; }
    ListenerView #lv-top { height: auto; }
    ListenerView #lv-buttons { width: 24; height: auto; }
    ListenerView #lv-buttons Button { width: 100%; }
    ListenerView #lv-status { height: auto; padding: 0 1; }
    ListenerView #lv-status.-failed { color: $error; }
    ListenerView #lv-bottom { height: 1fr; }
    ListenerView ClientsTable { width: 3fr; }
    ListenerView ClientDetails { width: 2fr; }
    """
    BINDINGS = [
        Binding("ctrl+t", "use_as_target", "Probe this listener"),
        Binding("f6", "toggle_pause", "Pause/Resume"),
    ]

    class UseAsTarget(Message):
        """The user wants a connection composed at this listener."""

        def __init__(self, host: str, port: int, tls: bool, cafile: str | None) -> None:
            super().__init__()
            self.host, self.port, self.tls, self.cafile = host, port, tls, cafile

    class EventArrived(Message):
        """One listener event, posted from the listener's threads."""

        def __init__(self, event) -> None:
            super().__init__()
            self.event = event

    class StartFailed(Message):
        def __init__(self, message: str) -> None:
            super().__init__()
            self.message = message

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.listener = None
        self.records: dict[int, ClientRecord] = {}
        self.selected: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="lv-top"):
            yield ListenerForm(id="lv-form")
            with Vertical(id="lv-buttons"):
                yield Button("Start", id="lv-start", variant="success")
                yield Button("Pause accepting", id="lv-pause", disabled=True)
                yield Button("Probe this listener", id="lv-probe", disabled=True)
        yield Static(Text("not listening"), id="lv-status")
        yield QueueGauge(id="lv-gauge")
        with Horizontal(id="lv-bottom"):
            yield ClientsTable(id="lv-clients")
            yield ClientDetails(id="lv-details")

    # -- starting and stopping ------------------------------------------------------------------
    @on(Button.Pressed, "#lv-start")
    def _start_or_stop(self) -> None:
        if self.listener is not None:
            self.query_one("#lv-start", Button).disabled = True
            self._stop_listener(self.listener)
            return
        try:
            config = self.query_one(ListenerForm).config()
        except InputError as exc:
            self._status(str(exc), failed=True)
            return
        self.records.clear()
        self.query_one(ClientsTable).clear()
        self.query_one(ClientDetails).show(None)
        self.query_one(ListenerForm).set_locked(True)
        self.query_one("#lv-start", Button).disabled = True
        self._status("starting…")
        # post_message is thread-safe: the listener's threads only ever post
        self.listener = Listener(config, on_event=lambda event: self.post_message(self.EventArrived(event)))
        self._start_listener(self.listener)

    @work(thread=True, exclusive=True, exit_on_error=False, group="listener-control")
    def _start_listener(self, listener: Listener) -> None:
        try:
            listener.start()  # binding and certificate generation: not on the UI thread
        except InputError as exc:
            self.post_message(self.StartFailed(str(exc)))
            return
        except Exception as exc:  # anything else is shown, never a crash of the workbench
            self.post_message(self.StartFailed(f"{type(exc).__name__}: {exc}"))

    @work(thread=True, exit_on_error=False, group="listener-control")
    def _stop_listener(self, listener) -> None:
        listener.stop()

    @on(StartFailed)
    def _start_failed(self, message: StartFailed) -> None:
        self.listener = None
        self.query_one(ListenerForm).set_locked(False)
        self.query_one("#lv-start", Button).disabled = False
        self._status(message.message, failed=True)

    def on_unmount(self) -> None:
        if self.listener is not None:
            self.listener.stop(timeout=1.0)
            self.listener = None

    # -- events from the listener -------------------------------------------------------------
    @on(EventArrived)
    def _event(self, message: EventArrived) -> None:
        event = message.event
        if isinstance(event, Listening):
            self._listening(event)
        elif isinstance(event, QueueChanged):
            self.query_one(QueueGauge).show(event.length, event.backlog, event.paused)
        elif isinstance(event, PauseChanged):
            self.query_one("#lv-pause", Button).label = "Resume accepting" if event.paused else "Pause accepting"
        elif isinstance(event, Stopped):
            self._stopped(event)
        elif isinstance(event, Notice):
            self._status(event.message)
        elif hasattr(event, "client_id") and event.client_id is not None:
            record = self.records.get(event.client_id)
            if record is None:
                record = self.records[event.client_id] = ClientRecord(event.client_id, tls_port=self._tls())
            record.apply(event)
            self.query_one(ClientsTable).show(record)
            if self.selected == event.client_id or self.selected is None:
                self.selected = event.client_id
                self.query_one(ClientDetails).show(record)
        else:
            self._status(getattr(event, "message", str(event)), failed=True)

    def _tls(self) -> bool:
        return bool(self.listener and self.listener.config.tls)

    def _listening(self, event: Listening) -> None:
        start = self.query_one("#lv-start", Button)
        start.label, start.variant, start.disabled = "Stop", "error", False
        self.query_one("#lv-pause", Button).disabled = False
        self.query_one("#lv-probe", Button).disabled = False
        host = f"[{event.address}]" if ":" in event.address else event.address
        text = (f"listening on {host}:{event.port} ({'TLS' if event.tls else 'plain TCP'}); backlog asked "
                f"{event.backlog}, effective {event.effective_backlog}, somaxconn {event.somaxconn}")
        if self.listener is not None and self.listener.cert_info is not None:
            text += f"\ncertificate {self.listener.cert_info.cert_path} SHA-256 {self.listener.cert_info.fingerprint}"
        self._status(text)
        self.query_one(QueueGauge).show(0, event.effective_backlog, event.paused)

    def _stopped(self, event: Stopped) -> None:
        self.listener = None
        start = self.query_one("#lv-start", Button)
        start.label, start.variant, start.disabled = "Start", "success", False
        pause = self.query_one("#lv-pause", Button)
        pause.label, pause.disabled = "Pause accepting", True
        self.query_one("#lv-probe", Button).disabled = True
        self.query_one(ListenerForm).set_locked(False)
        self.query_one(QueueGauge).clear()
        self._status(f"stopped; {event.clients_served} clients served")

    def _status(self, text: str, failed: bool = False) -> None:
        status = self.query_one("#lv-status", Static)
        status.update(Text(visible(text)))
        status.set_class(failed, "-failed")

    # -- the user's actions -------------------------------------------------------------------
    @on(Button.Pressed, "#lv-pause")
    def action_toggle_pause(self) -> None:
        if self.listener is not None:
            self.listener.toggle_pause()

    @on(Button.Pressed, "#lv-probe")
    def action_use_as_target(self) -> None:
        listener = self.listener
        if listener is None:
            self._status("start the listener first", failed=True)
            return
        host = listener.address
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        self.post_message(self.UseAsTarget(host, listener.port, listener.config.tls,
                                           listener.cert_path if listener.config.tls else None))

    @on(DataTable.RowHighlighted, "#lv-clients")
    def _row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        if message.row_key is None or message.row_key.value is None:
            return
        client_id = int(message.row_key.value)
        self.selected = client_id
        self.query_one(ClientDetails).show(self.records.get(client_id))

"""The Listener view: configure and run a listener, watch its accept queue, its clients and what they sent.

The listener runs in a child process (engine.listener.process), so that its answers never wait
for the interpreter while the UI draws; its events arrive here as messages (posted from the
reader thread: post_message is thread-safe) and only this widget, on the UI thread, touches its children.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, DataTable, Static

from tlsbench.errors import InputError
from tlsbench.engine.listener.process import ListenerProcess
from tlsbench.engine.listener.events import Listening, Notice, PauseChanged, QueueChanged, Stopped
from tlsbench.visible import visible
from tlsbench.tui.listener.client_details import ClientDetails
from tlsbench.tui.listener.clients_table import ClientsTable
from tlsbench.tui.listener.listener_form import ListenerForm
from tlsbench.tui.listener.queue_gauge import QueueGauge
from tlsbench.tui.listener.records import ClientRecord


class ListenerView(Widget):
    """The Listener tab. Its keys (F5, F9, ctrl+o) are the screen's: see tui.actions."""

    SCOPED_CSS = False  # some rules depend on the screen's layout classes
    DEFAULT_CSS = """
    ListenerView { layout: vertical; height: 1fr; }
    ListenerView #lv-buttons { height: 1; padding: 0 1; }
    ListenerView #lv-buttons Button { margin-right: 2; }
    ListenerView #lv-pause { width: 22; }  /* room for "Resume accepting  F9" too */
    ListenerView #lv-status { height: auto; padding: 0 1; }
    ListenerView #lv-status.-failed { color: $error; }
    ListenerView #lv-cert { height: auto; padding: 0 1; color: $text-muted; }
    ListenerView #lv-gauge { padding: 0 1; }
    ListenerView #lv-bottom { height: 1fr; }
    ListenerView ClientsTable { width: 3fr; min-width: 40; height: 1fr; min-height: 4; }
    ListenerView ClientDetails { width: 2fr; min-width: 30; height: 1fr; min-height: 4; }
    /* clients and details side by side, or stacked on a narrower terminal */
    WorkbenchScreen.-form-drawer #lv-bottom { layout: vertical; }
    WorkbenchScreen.-tabbed ListenerView.-listening #lv-form { display: none; } /* the status line says it all */
    WorkbenchScreen.-tabbed #lv-cert { display: none; }
    WorkbenchScreen.-form-drawer #lv-clients, WorkbenchScreen.-form-drawer #lv-details { width: 1fr; }
    """

    class UseAsTarget(Message):
        """The user wants a connection composed at this listener."""

        def __init__(self, host: str, port: int, tls: bool, cafile: str | None, name: str | None = None) -> None:
            super().__init__()
            self.host, self.port, self.tls, self.cafile = host, port, tls, cafile
            self.name = name  # the name its certificate holds (SNI and verification), connecting to `host`

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
        self.listener: ListenerProcess | None = None
        self.records: dict[int, ClientRecord] = {}
        self.selected: int | None = None
        self.probe: tuple[str, int] | None = None  # (address, port) of the Connection tab's probe
        self.tls = False  # what the listener said when it started listening
        self.listening_text = ""

    def compose(self) -> ComposeResult:
        yield ListenerForm(id="lv-form")
        with Horizontal(id="lv-buttons"):
            yield Button("Start  F5", id="lv-start", variant="success", compact=True)
            yield Button("Pause accepting  F9", id="lv-pause", disabled=True, compact=True)
            yield Button("Probe this listener  ^o", id="lv-probe", disabled=True, compact=True)
        yield Static(Text("not listening"), id="lv-status")
        yield Static("", id="lv-cert")  # the certificate to trust (left out on a small terminal)
        yield QueueGauge(id="lv-gauge")
        with Horizontal(id="lv-bottom"):
            yield ClientsTable(id="lv-clients")
            yield ClientDetails(id="lv-details")

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.can_focus = False  # the keys are in the footer; Tab goes through the fields and the table

    # -- starting and stopping ------------------------------------------------------------------
    def focus_first(self) -> None:
        """Focus the first field (once the view is composed: it is built when its tab is first shown)."""
        if getattr(self.screen, "tab", "listener") != "listener":
            return  # the tab was left before it was built: focus stays where the person went
        first = self.query("#bind")
        if first:
            first.first().focus()
        else:
            self.call_after_refresh(self.focus_first)

    @on(Button.Pressed, "#lv-start")
    def action_start_or_stop(self) -> None:
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
        # post_message is thread-safe: the reader of the listener's events only ever posts
        self.listener = ListenerProcess(config, on_event=lambda event: self.post_message(self.EventArrived(event)))
        self._start_listener(self.listener)

    @work(thread=True, exclusive=True, exit_on_error=False, group="listener-control")
    def _start_listener(self, listener: ListenerProcess) -> None:
        try:
            listener.start()  # a process, binding and certificate generation: not on the UI thread
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
            self.query_one("#lv-pause", Button).label = ("Resume accepting  F9" if event.paused
                                                         else "Pause accepting  F9")
        elif isinstance(event, Stopped):
            self._stopped(event)
        elif isinstance(event, Notice):
            self._status(event.message)
        elif hasattr(event, "client_id") and event.client_id is not None:
            record = self.records.get(event.client_id)
            if record is None:
                record = self.records[event.client_id] = ClientRecord(event.client_id, tls_port=self._tls())
            record.apply(event)
            table = self.query_one(ClientsTable)
            table.show(record)
            if self._is_probe(record):
                self._select(record.client_id)
            elif self.selected == event.client_id or self.selected is None:
                self.selected = event.client_id
                self.query_one(ClientDetails).show(record, self._is_probe(record))
        else:
            self._status(getattr(event, "message", str(event)), failed=True)

    def _tls(self) -> bool:
        return self.tls

    def _listening(self, event: Listening) -> None:
        self.tls = event.tls
        self.add_class("-listening")
        form = self.query_one(ListenerForm)
        if self.screen.focused is not None and form in self.screen.focused.ancestors_with_self:
            self.query_one(ClientsTable).focus()  # the form is locked now (and hidden on a small terminal)
        start = self.query_one("#lv-start", Button)
        start.label, start.variant, start.disabled = "Stop  F5", "error", False
        self.query_one("#lv-pause", Button).disabled = False
        self.query_one("#lv-probe", Button).disabled = False
        host = f"[{event.address}]" if ":" in event.address else event.address
        text = (f"listening on {host}:{event.port} ({'TLS' if event.tls else 'plain TCP'}); backlog asked "
                f"{event.backlog}, effective {event.effective_backlog}, somaxconn {event.somaxconn}")
        cert = self.query_one("#lv-cert", Static)
        if self.listener is not None and self.listener.cert_info is not None:
            info = self.listener.cert_info
            cert.update(Text(visible(f"certificate {info.cert_path} SHA-256 {info.fingerprint}")))
        else:
            cert.update("")
        self.listening_text = text
        self._status(text)
        self.query_one(QueueGauge).show(0, event.effective_backlog, event.paused)

    def _stopped(self, event: Stopped) -> None:
        self.listener = None
        self.remove_class("-listening")
        start = self.query_one("#lv-start", Button)
        start.label, start.variant, start.disabled = "Start  F5", "success", False
        pause = self.query_one("#lv-pause", Button)
        pause.label, pause.disabled = "Pause accepting  F9", True
        self.query_one("#lv-probe", Button).disabled = True
        self.query_one(ListenerForm).set_locked(False)
        self.query_one(QueueGauge).clear()
        self.query_one("#lv-cert", Static).update("")
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
        tls = listener.config.tls
        # The generated certificate names localhost (and any --name): ask for that name, pinned to the
        # listener's address, so SNI and verification work as a real client's would.
        name = (listener.config.names or ("localhost",))[0] if tls and listener.cert_info is not None else None
        self.post_message(self.UseAsTarget(host, listener.port, tls, listener.cert_path if tls else None, name))

    @on(DataTable.RowHighlighted, "#lv-clients")
    def _row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        if message.row_key is None or message.row_key.value is None:
            return
        client_id = int(message.row_key.value)
        self.selected = client_id
        record = self.records.get(client_id)
        self.query_one(ClientDetails).show(record, record is not None and self._is_probe(record))

    # -- the Connection tab's probe of this listener -------------------------------------------
    def _is_probe(self, record: ClientRecord) -> bool:
        return self.probe is not None and record.peer_port == self.probe[1] and \
            self.probe[0] in ("", record.peer_address)

    def _select(self, client_id: int) -> None:
        self.selected = client_id
        self.query_one(ClientsTable).select_client(client_id)
        record = self.records[client_id]
        self.query_one(ClientDetails).show(record, True)
        self._status(f"{self.listening_text}\n◆ client #{client_id} is your probe from the Connection tab "
                     f"(ephemeral port {record.peer_port}): highlighted below")

    def highlight_client(self, address: str | None, port: int) -> None:
        """Highlight the client that came from this local address and ephemeral port (now, or when
        its connection shows up)."""
        self.probe = (address or "", port)
        for record in self.records.values():
            if self._is_probe(record):
                self._select(record.client_id)
                return

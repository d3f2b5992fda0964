"""The workbench screen: the Connection tab (profiles, the form, the results) and the Listener tab.

Layout follows the terminal's size (tui.layout); keys follow tui.actions; runs go to a thread
worker that only posts messages. The top line holds the tabs and, beside them, the target bar
(tui/target_actions.py), where a pasted URL or command line fills the form and runs.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static

from tlsbench.engine.cancel import CancelToken
from tlsbench.errors import InputError
from tlsbench.tui.actions import TABS, action_tab, bindings
from tlsbench.tui.deferred import LazyPane
from tlsbench.tui.layout import Layout, choose_layout, too_small_message
from tlsbench.tui.enumerate_action import EnumerateAction
from tlsbench.tui.target_actions import TargetActions
from tlsbench.tui.messages import EngineEvent, RunCaptured, RunCrashed, RunRefused
from tlsbench.tui.navigation import Navigation
from tlsbench.tui.pcap_action import PcapAction
from tlsbench.tui.profile_actions import ProfileActions
from tlsbench.tui.run_status import same_connection
from tlsbench.tui.safe_text import data
from tlsbench.tui.widgets.action_bar import ActionBar
from tlsbench.tui.widgets.compose_form import ComposeForm
from tlsbench.tui.widgets.key_bar import KeyBar
from tlsbench.tui.widgets.findings_panel import FindingsPanel, change_words
from tlsbench.tui.widgets.profile_list import ProfileList
from tlsbench.tui.widgets.results_view import ResultsView
from tlsbench.tui.widgets.tab_strip import TabStrip
from tlsbench.tui.widgets.target_bar import TargetBar

if TYPE_CHECKING:
    from tlsbench.tui.listener.listener_view import ListenerView

HISTORY = 50  # finished runs kept for "the previous run of the same connection"
PREBUILD_AFTER_S = 1.0  # the form's fields are built this long after the first screen (hidden until used)
TOOLBAR = [("run", "▶ Run", "^r"), ("cancel", "■ Cancel", "^g"), ("compare", "⇄ History", "F4"),
           ("copy_command", "Copy", "^y")]


class RunEntry:
    __slots__ = ("profile", "spec", "result", "record", "recorded")

    def __init__(self, profile, spec, result) -> None:
        self.profile, self.spec, self.result = profile, spec, result
        self.record: dict | None = None  # its history record (tlsbench.history), made when first needed
        self.recorded: threading.Event | None = None  # set once its history write (in a thread) is done


def _listener_view():
    from tlsbench.tui.listener import ListenerView

    return ListenerView()


class WorkbenchScreen(Screen, Navigation, ProfileActions, EnumerateAction, TargetActions, PcapAction):
    """Everything on one screen. State classes: -running while a run is in flight; the layout's
    classes (-form-inline/-form-drawer, -panels/-tabbed, -too-small) and -form-open."""

    AUTO_FOCUS = "#profile-options"
    BINDINGS = bindings("workbench")

    def __init__(self, store=None, *, spec=None, profile: str | None = None, run: bool = False) -> None:
        super().__init__()
        self.store = store
        self.initial_spec, self.initial_profile, self.run_at_start = spec, profile, run
        self.run_id = 0
        self.token: CancelToken | None = None
        self.running = False
        self.previous = None  # the previous result of the connection shown now (for F4)
        self.current_spec = None
        self.current_profile: str | None = None
        self.history: list[RunEntry] = []
        # The events of the run shown now, and the last finished run as (spec, events) for "Save this run"
        # (Copy / share): two runs at most are kept, never the whole history.
        self.run_events: list = []
        self.last_run: tuple | None = None
        self.tab = "connection"
        self.arrangement: Layout | None = None  # once the size is known
        self._listener_probe_run: int | None = None
        self._shown = False  # first shown yet (see post_message)

    def post_message(self, message) -> bool:
        if isinstance(message, events.ScreenResume) and not self._shown:
            # First shown straight after its widgets were mounted, each styled as it was: styling them
            # all again, as Textual does whenever a screen is resumed, was a third of the launch's
            # styling (tests/test_tui_quit.py checks the styles are the same without it).
            self._shown = True
            message.refresh_styles = False
        return super().post_message(message)

    def compose(self) -> ComposeResult:
        # The layout's classes before any child exists: setting them later would restyle every widget.
        self._apply_layout(self.app.size.width, self.app.size.height)
        with Horizontal(id="top-row"):  # the tabs, and the target bar beside them (a focus stop of its own)
            yield TabStrip(list(TABS), prefix=Text(" ◆ tlsbench ", style="bold"), id="top-tabs")
            yield TargetBar(id="target-bar")
        with ContentSwitcher(initial="connection", id="tabs"):
            with Horizontal(id="connection"):
                yield ProfileList(id="profiles")
                yield ComposeForm(id="form")
                with Vertical(id="results-column"):
                    yield ActionBar(TOOLBAR, id="toolbar")
                    yield ResultsView(id="results")
            yield LazyPane(_listener_view, id="listener")
        size = self.app.size
        yield Static(Text(too_small_message(size.width, size.height)), id="too-small")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.reload_profiles()
        form = self.query_one(ComposeForm)
        if self.initial_spec is not None:
            form.load_spec(self.initial_spec)
            self._list().current = None
        else:
            name = self.initial_profile or self.default_profile()
            if name:
                self.compose_profile(name)
        self._sync_toolbar()
        if self.run_at_start:
            self.call_after_refresh(self.action_run)

    def first_screen_drawn(self) -> None:
        """Called by the app once this screen is first drawn (App.on_ready)."""
        # Once the first screen is up and quiet, build the form's fields unseen: F7 is then immediate.
        # Counted from the first frame, not from the mount: on a slow or busy machine the first frame
        # may itself take a second, and this work must not compete with it.
        self.set_timer(PREBUILD_AFTER_S, self.query_one(ComposeForm).prebuild)

    # --- layout -------------------------------------------------------------------------------------

    def on_resize(self, event) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        layout = choose_layout(width, height)
        if layout.too_small:
            for note in self.query("#too-small").results(Static):
                note.update(Text(too_small_message(width, height)))
        if layout == self.arrangement:
            return
        self.arrangement = layout
        extra: dict[str, bool] = {}
        if layout.form_inline:
            extra["-form-open"] = False
        elif self.focused is not None and self.query("#form") and \
                self.query_one("#form") in self.focused.ancestors_with_self:
            extra["-form-open"] = True  # narrowed while typing in the form: it stays in view
        self.update_classes({**layout.classes, **extra})

    # --- running ------------------------------------------------------------------------------------

    def action_run(self) -> None:
        zone = self.zone()
        if self.tab != "connection":
            self.show_tab("connection")
            zone = "listener"
        form = self.query_one(ComposeForm)
        spec = form.checked_spec()
        if spec is None:
            self.open_form()
            self.notify("a field needs attention before the run", title="Invalid input", severity="error")
            return
        if zone not in ("profiles", None):  # from the profile list a run shows beside it
            self.go("results")
        else:
            self.set_class(False, "-form-open")
        self.start_run(spec, self._list().current)

    def start_run(self, spec, profile: str | None = None) -> None:
        if self.token is not None:
            self.token.cancel()
        self.previous = self.previous_run(spec, profile)
        self.run_id += 1
        self.token = CancelToken()
        self.current_spec, self.current_profile = spec, profile
        remember = getattr(self.app, "remember_secrets", None)
        if remember is not None:
            remember(spec)
        self.run_events = []
        self.last_capture = None  # the run shown is the one a capture is saved of
        self.query_one(ResultsView).start(spec, self.previous)
        self._set_running(True)
        self.remember_last_used(spec)
        self.run_in_thread(spec, self.token, self.run_id)

    def previous_run(self, spec, profile: str | None):
        """The last finished run of the same connection (same profile, or an equal spec), or None."""
        for entry in reversed(self.history):
            if same_connection(entry.profile, entry.spec, profile, spec):
                return entry.result
        return None

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def run_in_thread(self, spec, token: CancelToken, run_id: int) -> None:
        """Runs the probe; only posts messages (post_message is thread-safe), never touches widgets."""
        from tlsbench.engine.capture.isolated import run_probe_captured

        try:
            # In a child process: the UI thread's work must not show up in the stage timings. Its
            # capture comes back aside from the events (no TLS secret in a saved run file).
            _, captured = run_probe_captured(
                spec, on_event=lambda event: self.post_message(EngineEvent(run_id, event)), cancel=token)
            self.post_message(RunCaptured(run_id, spec, captured))
        except InputError as exc:
            self.post_message(RunRefused(run_id, exc))
        except Exception as exc:  # the UI must survive any engine failure and say what happened
            self.post_message(RunCrashed(run_id, f"{type(exc).__name__}: {exc}"))

    def on_engine_event(self, message: EngineEvent) -> None:
        if message.run_id != self.run_id:
            return  # an old run that was replaced
        from tlsbench.engine.events import RunFinished

        self.run_events.append(message.event)
        self.query_one(ResultsView).apply(message.event)
        if isinstance(message.event, RunFinished):
            self._finished(message.event.result)

    def _finished(self, result) -> None:
        self.last_run = (self.current_spec, tuple(self.run_events))
        entry = RunEntry(self.current_profile, self.current_spec, result)
        self.history.append(entry)
        del self.history[:-HISTORY]
        from tlsbench.tui.screens.history import record_finished

        record_finished(self, entry)  # a saved profile's run is kept in its history
        self._set_running(False)
        if self._listener_probe_run == self.run_id:
            self._listener_probe_run = None
            port = result.socket.local_port if result.socket else None
            view = cast("ListenerView | None", self.query_one("#listener", LazyPane).content)
            if view is not None and port:
                view.highlight_client(result.socket.local_address, port)

    def on_run_refused(self, message: RunRefused) -> None:
        if message.run_id != self.run_id:
            return
        self._set_running(False)
        form = self.query_one(ComposeForm)
        self.open_form()
        form.mark_invalid(message.error)
        self.query_one(ResultsView).crashed(str(message.error), "not run, a file was refused")
        self.notify(str(message.error), title="Invalid input", severity="error", markup=False)

    def on_run_crashed(self, message: RunCrashed) -> None:
        if message.run_id == self.run_id:
            self.query_one(ResultsView).crashed(message.error)
            self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.set_class(running, "-running")
        self._sync_toolbar()
        self.refresh_bindings()

    def _sync_toolbar(self) -> None:
        bar = self.query_one(ActionBar)
        bar.set_enabled("cancel", self.running)
        bar.set_enabled("compare", self._can_compare())

    def _can_compare(self) -> bool:
        return self.query_one(ResultsView).result is not None

    def action_cancel(self) -> None:
        if self.running and self.token is not None:
            self.token.cancel()
            self.query_one(ResultsView).cancelling()

    def show_result(self, result, spec=None, profile: str | None = None) -> None:
        """Show a finished result without running (snapshots, replays)."""
        spec = spec or self.current_spec
        self.previous = self.previous_run(spec, profile)
        self.current_spec, self.current_profile = spec, profile
        results = self.query_one(ResultsView)
        results.start(spec, self.previous)
        results.finish(result)
        self.history.append(RunEntry(profile, spec, result))
        self._set_running(False)

    def show_events(self, events, spec, note=None) -> None:
        """Show a finished run from its events, as if it had just run (`tlsbench show FILE`); `note` (a
        rich Text) is shown in the run's status line. Nothing is written (no profile, no state)."""
        self.previous = None
        self.current_spec, self.current_profile = spec, None
        self.run_events = []
        results = self.query_one(ResultsView)
        results.start(spec, None)
        results.note = note
        for event in events:
            self.on_engine_event(EngineEvent(self.run_id, event))

    def check_action(self, action: str, parameters) -> bool | None:
        tab = action_tab(action)
        if action == "panel":
            tab = "connection"
        if tab in ("connection", "listener") and tab != self.tab:
            return False
        if action == "cancel" and not self.running:
            return None
        if action == "compare" and not self._can_compare():
            return None
        return True

    # --- other actions ------------------------------------------------------------------------------

    def action_copy_command(self) -> None:
        spec = self.query_one(ComposeForm).checked_spec()
        if spec is None:
            self.open_form()
            return
        try:
            from tlsbench.tui.screens.copy_command import CopyCommandScreen

            self.app.push_screen(CopyCommandScreen(spec, run=None if self.running else self.last_run,
                                                 running=self.running))
        except ImportError:
            self.notify("command equivalents are not available in this build", severity="warning")

    def action_compare(self) -> None:
        """F4, History: the runs of this connection (a profile's kept runs), to compare any two."""
        if self.query_one(ResultsView).result is None:
            self.notify("run the connection first: its runs are listed here to compare", severity="warning")
            return
        from tlsbench.tui.screens.history import open_history

        open_history(self)

    def action_repeat(self) -> None:
        """F10: the composed connection run again and again (tui/screens/repeat.py); Esc there comes back
        here with the series' last run shown."""
        if self.tab != "connection":
            self.show_tab("connection")
        spec = self.query_one(ComposeForm).checked_spec()
        if spec is None:
            self.open_form()
            self.notify("a field needs attention before the runs", title="Invalid input", severity="error")
            return
        self.action_cancel()
        profile = self._list().current
        from tlsbench.tui.screens.repeat import RepeatScreen

        def back(last) -> None:
            if last is not None:
                self.run_id += 1  # an earlier run's late events must not land on it
                self.show_result(last, spec, profile)
            self.go("results")

        self.app.push_screen(RepeatScreen(spec), back)

    def action_expand_all(self) -> None:
        results = self.query_one(ResultsView)
        for stage in list(results.waterfall.rows):
            results.waterfall.expand(stage)
        from tlsbench.tui.widgets.chain_panel import ChainPanel

        results.query_one("#chain", ChainPanel).expand_all_certs()

    def action_apply_suggestion(self) -> None:
        """Apply the first concrete suggested change to the form's values, load them back, and run."""
        if self.tab != "connection":
            self.notify("ctrl+f applies a suggestion of the Connection tab's findings", severity="warning")
            return
        if self.running:
            self.notify("wait for the run to finish (or cancel it) before applying a suggestion", severity="warning")
            return
        chosen = self.query_one(FindingsPanel).applicable()
        if chosen is None:
            self.notify("no finding suggests a change that can be applied as it is", severity="warning")
            return
        change = chosen[1]
        form = self.query_one(ComposeForm)
        if not form.ready:
            return
        from tlsbench.engine.options import spec_from_values, values_of

        form.clear_errors()
        try:
            spec = spec_from_values(change.apply(values_of(form.build())))
        except InputError as exc:
            self.open_form(form.mark_invalid(exc))
            self.notify(str(exc), title="Invalid input", severity="error", markup=False)
            return
        form.load_spec(spec)
        self.notify(data(f"applied: {change_words(change)}").plain, markup=False)
        self.start_run(spec)

    def action_diagnose(self) -> None:
        from tlsbench.tui.screens.diagnosis import open_diagnosis

        open_diagnosis(self)


    # --- the listener tab ---------------------------------------------------------------------------

    def _listener(self):
        return self.query_one("#listener", LazyPane).ensure()

    def action_listener_start(self) -> None:
        self._listener().action_start_or_stop()

    def action_listener_pause(self) -> None:
        self._listener().action_toggle_pause()

    def action_listener_probe(self) -> None:
        self._listener().action_use_as_target()

    def on_listener_view_use_as_target(self, message) -> None:
        """Compose a connection to the listener, switch to the Connection tab and run it."""
        from tlsbench.engine.spec import build_spec, format_hostport

        name = getattr(message, "name", None)
        try:
            spec = build_spec(format_hostport(name or message.host, message.port), pin=message.host if name else None,
                              tls=bool(message.tls), cafile=getattr(message, "cafile", None) if message.tls else None)
        except InputError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.query_one(ComposeForm).load_spec(spec)
        self._list().current = None
        self._list().options.highlighted = None
        self.show_tab("connection")
        self.notify(data(f"probing the listener at {spec.target}; ctrl+t goes back to see this client there")
                    .plain, markup=False)
        self.start_run(spec, None)
        self._listener_probe_run = self.run_id

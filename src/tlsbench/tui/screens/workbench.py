"""The workbench screen: Profiles | Compose | Results, and the Listener tab. Runs go to a thread worker."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, TabbedContent, TabPane

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.errors import InputError
from tlsbench.engine.events import RunFinished
from tlsbench.tui.deferred import Deferred
from tlsbench.tui.enumerate_action import EnumerateAction
from tlsbench.tui.messages import EngineEvent, RunCrashed, RunRefused
from tlsbench.tui.profile_actions import ProfileActions
from tlsbench.tui.safe_text import data
from tlsbench.tui.widgets.compose_form import ComposeForm
from tlsbench.tui.widgets.findings_panel import APPLY_KEY, FindingsPanel, change_words
from tlsbench.tui.widgets.profile_list import ProfileList
from tlsbench.tui.widgets.results_view import ResultsView

# (key, action, footer text, palette help). One table feeds the footer and the command palette.
ACTIONS = [
    ("ctrl+r", "run", "Run", "Run the composed connection"),
    ("ctrl+g", "cancel", "Cancel", "Cancel the run in flight (closes its socket)"),
    ("ctrl+s", "save_profile", "Save", "Save the composed connection as a profile"),
    ("f2", "rename_profile", "Rename", "Rename the selected profile"),
    ("f3", "duplicate_profile", "Duplicate", "Duplicate the selected profile"),
    ("f8", "delete_profile", "Delete", "Delete the selected profile (asks first)"),
    ("ctrl+y", "copy_command", "Copy cmd", "Show and copy the equivalent curl / openssl / tlsbench lines"),
    ("f4", "compare", "Compare", "Compare the previous run with the current one"),
    ("f6", "expand_all", "Expand", "Expand every stage row and certificate"),
    ("f7", "toggle_form", "Form", "Hide or show the Compose form"),
    (APPLY_KEY, "apply_suggestion", "Apply fix", "Apply the suggested change of the first finding that has one "
                                                 "to the form, and run again"),
    ("f9", "enumerate", "Enumerate", "Ask which TLS versions and cipher suites the server accepts"),
    ("f12", "diagnose", "Why?", "Try variants of this run (SNI, versions, trust, proxy...) and say what makes it work"),
]
CONTEXTUAL = {"apply_suggestion"}  # not in the footer: the findings panel shows the key where it applies


class WorkbenchScreen(Screen, ProfileActions, EnumerateAction):
    """Everything on one screen; state classes -running on the screen while a run is in flight."""

    BINDINGS = [Binding(key, action, label, tooltip=help, show=action not in CONTEXTUAL)
                for key, action, label, help in ACTIONS] + [
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def __init__(self, store=None, *, spec=None, profile: str | None = None, run: bool = False) -> None:
        super().__init__()
        self.store = store
        self.initial_spec, self.initial_profile, self.run_at_start = spec, profile, run
        self.run_id = 0
        self.token: CancelToken | None = None
        self.running = False
        self.previous = None  # the last finished result before the current one
        self.current_spec = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with TabbedContent(id="tabs", initial="connection"):
            with TabPane("Connection", id="connection"):
                with Horizontal(id="workbench"):
                    yield ProfileList(id="profiles")
                    yield ComposeForm(id="form")
                    with Vertical(id="results-column"):
                        with Horizontal(id="toolbar"):
                            yield Button("▶ Run  ^r", id="run-button", variant="success")
                            yield Button("■ Cancel  ^g", id="cancel-button", variant="error", disabled=True)
                            yield Button("⇄ Compare  F4", id="compare-button", disabled=True)
                            yield Button("Copy as command  ^y", id="copy-button")
                        yield ResultsView(id="results")
            with TabPane("Listener", id="listener"):
                yield self._listener()
        yield Footer()

    @staticmethod
    def _listener() -> Deferred:
        def make():
            from tlsbench.tui.listener import ListenerView

            return ListenerView()

        return Deferred(make)  # a hidden tab: imported, built and mounted after the first frame

    def on_mount(self) -> None:
        self.title = "tlsbench"
        self.sub_title = "TCP · SOCKS · TLS workbench"
        self.reload_profiles()

    def on_compose_form_ready(self, event: ComposeForm.Ready) -> None:
        """The form exists: compose the starting connection, and run it when asked to."""
        form = self.query_one(ComposeForm)
        if self.initial_spec is not None:
            form.load_spec(self.initial_spec)
        else:
            name = self.initial_profile or self.default_profile()
            if name:
                self.compose_profile(name)
        if self.run_at_start:
            self.call_after_refresh(self.action_run)

    # --- running ------------------------------------------------------------------------------------

    def action_run(self) -> None:
        form = self.query_one(ComposeForm)
        if not form.ready:
            return
        form.clear_errors()
        try:
            spec = form.build()
        except InputError as exc:
            form.mark_invalid(exc)
            self.query_one(ComposeForm).display = True
            self.notify(str(exc), title="Invalid input", severity="error", markup=False)
            return
        self.start_run(spec)

    def start_run(self, spec) -> None:
        if self.token is not None:
            self.token.cancel()
        results = self.query_one(ResultsView)
        if results.result is not None:
            self.previous = results.result
        self.run_id += 1
        self.token = CancelToken()
        self.current_spec = spec
        results.start(spec, self.previous)
        self._set_running(True)
        self.remember_last_used(spec)
        self.run_in_thread(spec, self.token, self.run_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def run_in_thread(self, spec, token: CancelToken, run_id: int) -> None:
        """Runs the probe; only posts messages (post_message is thread-safe), never touches widgets."""
        from tlsbench.engine.isolated import run_probe_isolated

        try:
            # In a child process: the UI thread's work must not show up in the stage timings.
            run_probe_isolated(spec, on_event=lambda event: self.post_message(EngineEvent(run_id, event)),
                               cancel=token)
        except InputError as exc:
            self.post_message(RunRefused(run_id, exc))
        except Exception as exc:  # the UI must survive any engine failure and say what happened
            self.post_message(RunCrashed(run_id, f"{type(exc).__name__}: {exc}"))

    def on_engine_event(self, message: EngineEvent) -> None:
        if message.run_id != self.run_id:
            return  # an old run that was replaced
        self.query_one(ResultsView).apply(message.event)
        if isinstance(message.event, RunFinished):
            self._set_running(False)

    def on_run_refused(self, message: RunRefused) -> None:
        if message.run_id != self.run_id:
            return
        self._set_running(False)
        form = self.query_one(ComposeForm)
        form.mark_invalid(message.error)
        form.display = True
        self.query_one(ResultsView).crashed(str(message.error), "not run, a file was refused")
        self.notify(str(message.error), title="Invalid input", severity="error", markup=False)

    def on_run_crashed(self, message: RunCrashed) -> None:
        if message.run_id == self.run_id:
            self.query_one(ResultsView).crashed(message.error)
            self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.set_class(running, "-running")
        self.query_one("#cancel-button", Button).disabled = not running
        results = self.query_one(ResultsView)
        self.query_one("#compare-button", Button).disabled = self.previous is None or results.result is None

    def action_cancel(self) -> None:
        if self.running and self.token is not None:
            self.token.cancel()
            self.query_one(ResultsView).cancelling()

    def show_result(self, result, spec=None) -> None:
        """Show a finished result without running (snapshots, replays)."""
        results = self.query_one(ResultsView)
        if results.result is not None:
            self.previous = results.result
        results.start(spec or self.current_spec, self.previous)
        results.finish(result)
        self._set_running(False)

    # --- other actions ------------------------------------------------------------------------------

    def action_copy_command(self) -> None:
        try:
            spec = self.query_one(ComposeForm).build()
        except InputError as exc:
            self.query_one(ComposeForm).mark_invalid(exc)
            return
        try:
            from tlsbench.tui.screens.copy_command import CopyCommandScreen

            self.app.push_screen(CopyCommandScreen(spec))
        except ImportError:
            self.notify("command equivalents are not available in this build", severity="warning")

    def action_compare(self) -> None:
        current = self.query_one(ResultsView).result
        if self.previous is None or current is None:
            self.notify("run twice to compare: the previous run is kept when you run again", severity="warning")
            return
        from tlsbench.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(self.previous, current))

    def action_expand_all(self) -> None:
        results = self.query_one(ResultsView)
        for stage in list(results.waterfall.rows):
            results.waterfall.expand(stage)
        results.query_one("#chain").expand_all_certs()

    def action_apply_suggestion(self) -> None:
        """Apply the first concrete suggested change to the form's values, load them back, and run."""
        if self.query_one(TabbedContent).active != "connection":
            self.notify(f"{APPLY_KEY} applies a suggestion of the Connection tab's findings", severity="warning")
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
            form.mark_invalid(exc)
            form.display = True
            self.notify(str(exc), title="Invalid input", severity="error", markup=False)
            return
        form.load_spec(spec)
        self.notify(data(f"applied: {change_words(change)}").plain, markup=False)
        self.start_run(spec)
    def action_diagnose(self) -> None:
        from tlsbench.tui.screens.diagnosis import open_diagnosis

        open_diagnosis(self)

    def action_toggle_form(self) -> None:
        form = self.query_one(ComposeForm)
        form.display = not form.display

    @on(Button.Pressed, "#run-button")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#cancel-button")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#compare-button")
    def _compare_pressed(self) -> None:
        self.action_compare()

    @on(Button.Pressed, "#copy-button")
    def _copy_pressed(self) -> None:
        self.action_copy_command()

    # --- the listener tab ---------------------------------------------------------------------------

    def on_listener_view_use_as_target(self, message) -> None:
        """Compose a connection to the listener and switch to the Connection tab."""
        from tlsbench.engine.spec import build_spec, format_hostport

        try:
            spec = build_spec(format_hostport(message.host, message.port), tls=bool(message.tls),
                              cafile=getattr(message, "cafile", None) if message.tls else None)
        except InputError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.query_one(ComposeForm).load_spec(spec)
        self.query_one(ProfileList).current = None
        self.query_one(TabbedContent).active = "connection"
        self.notify(data(f"composed a connection to the listener at {spec.target}").plain, markup=False)

"""Where the person is in the workbench: the zones of tui/states.py (profiles, form, results, target
bar, listener), moving between them, Escape, the form opened in the results' place, tabs and panels.

A mixin of the workbench screen (tui/screens/workbench.py), so that the screen module stays about
layout and runs; Escape's targets come from the states table, so the model and the keys agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.widgets import ContentSwitcher

from tlsbench.tui.deferred import LazyPane
from tlsbench.tui.widgets.compose_form import ComposeForm
from tlsbench.tui.widgets.results_view import ResultsView
from tlsbench.tui.widgets.tab_strip import TabStrip
from tlsbench.tui.widgets.target_bar import TargetBar

if TYPE_CHECKING:
    from tlsbench.tui.listener.listener_view import ListenerView
    from tlsbench.tui.workbench_parts import WorkbenchParts as _Base
else:
    _Base = object


class Navigation(_Base):
    """Mixed into WorkbenchScreen."""

    tab: str  # the tab shown: "connection" | "listener" (set by the screen)

    @property
    def form_open(self) -> bool:
        """The form can be seen (always on a wide terminal; when opened with F7 on a narrower one)."""
        assert self.arrangement is not None  # laid out at mount
        return self.arrangement.form_inline or self.has_class("-form-open")

    def open_form(self, focus: str | None = None) -> None:
        assert self.arrangement is not None  # laid out at mount
        if not self.arrangement.form_inline:
            self.add_class("-form-open")
        self.query_one(ComposeForm).activate(focus)

    def close_form(self) -> None:
        """Back to the results (on a narrow terminal the form gives the results their place back)."""
        self.go("results")

    # --- where the person is (tui/states.py) --------------------------------------------------------

    def zone(self) -> str | None:
        """The zone of tui/states.py that has focus, or None (focus nowhere, or on the tab row)."""
        focused = self.focused
        if focused is None:
            return None
        ids = {node.id for node in focused.ancestors_with_self}
        for zone, wid in (("profiles", "profiles"), ("form", "form"), ("results", "results-column"),
                          ("target", "target-bar"), ("listener", "listener")):
            if wid in ids:
                return zone
        return None

    def go(self, zone: str) -> None:
        """Move to a zone of tui/states.py: the form opens in the results' place on a narrow terminal;
        every other zone gives the results their place back."""
        if zone == "stay":
            return
        if zone == "form":
            if self.tab != "connection":
                self.show_tab("connection")
            self.open_form()
            return
        if zone != "target":
            self.set_class(False, "-form-open")
        if zone == "listener":
            self.show_tab("listener")
        elif self.tab != "connection":
            self.show_tab("connection")
        if zone == "profiles":
            self.query_one("#profile-options").focus()
        elif zone == "results":
            self.query_one(ResultsView).focus_shown()
        elif zone == "target":
            self.query_one("#target-bar").focus()

    def action_back(self) -> None:
        """Escape: where tui/states.py says (the form → the results → the profile list); on the profile
        list it cancels a run in flight."""
        from tlsbench.tui.states import back_target

        zone = self.zone()
        if self.tab == "listener":
            return
        if zone in ("profiles", None) and self.running:
            self.action_cancel()
        self.go(back_target(zone or "profiles"))

    def action_new_connection(self) -> None:
        """n: an empty form, the host field focused (the profile list loses its selection)."""
        self.query_one(ComposeForm).load_spec(None)
        self._list().current = None
        self._list().options.highlighted = None
        self.go("form")

    # --- the form -----------------------------------------------------------------------------------

    def action_form(self) -> None:
        form = self.query_one(ComposeForm)
        inside = self.focused is not None and form in self.focused.ancestors_with_self
        assert self.arrangement is not None  # laid out at mount
        if self.has_class("-form-open") or (self.arrangement.form_inline and inside):
            self.close_form()
        else:
            self.go("form")

    def on_compose_form_submitted(self, message: ComposeForm.Submitted) -> None:
        self.action_run()

    def on_compose_form_leave(self, message: ComposeForm.Leave) -> None:
        self.close_form()

    # --- tabs and panels ----------------------------------------------------------------------------

    def show_tab(self, tab: str) -> None:
        if tab == self.tab:
            return
        self.tab = tab
        self.query_one("#top-tabs", TabStrip).show(tab)
        self.query_one(TargetBar).display = tab == "connection"
        self.query_one("#tabs", ContentSwitcher).current = tab
        self.set_class(False, "-form-open")  # the Connection tab comes back with its results
        if tab == "listener":
            view = cast("ListenerView", self.query_one("#listener", LazyPane).ensure())
            self.call_after_refresh(view.focus_first)
        else:
            self.query_one("#profile-options").focus()
        self.refresh_bindings()

    def action_switch_tab(self) -> None:
        self.show_tab("listener" if self.tab == "connection" else "connection")

    def on_tab_strip_chosen(self, message: TabStrip.Chosen) -> None:
        if message.strip.id == "top-tabs":  # (a plain handler: @on's selector costs start-up time)
            self.show_tab(message.tab)

    def action_panel(self, panel: str) -> None:
        self.set_class(False, "-form-open")
        results = self.query_one(ResultsView)
        results.show_panel(panel)
        widget = results.panel_widget(panel)
        self.call_after_refresh(widget.focus)

"""The workbench's target bar at work: what was pasted becomes the form's values and a run.

engine/paste.py reads the line; what it could not carry over is said — in a notification and in the
bar's tooltip, which keeps it — never dropped in silence. A pasted line describes a whole connection,
so the form starts from the defaults, not from the profile shown before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.errors import InputError
from tlsbench.tui.safe_text import data

if TYPE_CHECKING:
    from tlsbench.tui.workbench_parts import WorkbenchParts as _Screen
else:
    _Screen = object

SOURCES = {"hostport": "host:port", "url": "URL", "tlsbench": "tlsbench line", "curl": "curl command",
           "openssl": "openssl s_client command"}


class TargetActions(_Screen):
    """Mixed into the workbench screen: ctrl+l, the bar's Enter and Escape, a paste anywhere else."""

    def action_target(self) -> None:
        if self.tab != "connection":
            self.show_tab("connection")
        self.query_one("#target-bar").focus()

    def on_target_bar_leave(self, message) -> None:
        self.query_one("#profile-options").focus()

    def on_paste(self, event) -> None:
        """A paste that no field took (the profile list, the results had focus) goes to the bar."""
        if self.tab != "connection" or not event.text.strip():
            return
        from tlsbench.tui.widgets.target_bar import TargetBar

        bar = self.query_one("#target-bar", TargetBar)
        bar.value = ""
        bar.focus()
        bar.post_message(type(event)(event.text))

    def on_target_bar_submitted(self, message) -> None:
        from tlsbench.engine.options import spec_from_values
        from tlsbench.engine.paste import parse_pasted
        from tlsbench.tui.widgets.compose_form import ComposeForm

        if self.running:
            self.notify("wait for the run to finish (or cancel it: ctrl+g) before running another",
                        severity="warning")
            return
        try:
            pasted = parse_pasted(message.text)
            spec = spec_from_values(pasted.values)
        except InputError as exc:
            self.notify(data(str(exc)).plain, title="Cannot use this target", severity="error", markup=False)
            return
        self.query_one(ComposeForm).load_spec(spec)
        profiles = self._list()
        profiles.current = None
        profiles.options.highlighted = None
        source = SOURCES.get(pasted.source, pasted.source)
        if pasted.dropped:
            words = "; ".join(pasted.dropped)
            message.bar.tooltip = f"not carried over from the {source}: {words}"
            self.notify(data(f"not carried over: {words}").plain, title=f"Read the {source}",
                        severity="warning", timeout=15, markup=False)
        else:
            message.bar.tooltip = None
            self.notify(f"the form now holds the {source}", timeout=4)
        self.start_run(spec)

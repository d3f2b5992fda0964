"""A Select that copes with its parts not being there (yet, or any more).

Textual's Select composes its parts (the current value, the overlay) after it is mounted and
reaches for them when its value changes. A value set in between, or the app closing while the
form is being built (it is built unseen a moment after launch), would raise NoMatches; here the
update waits for the parts, or is dropped when the Select is gone.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Select
from textual.widgets._select import SelectCurrent, SelectOverlay


class SafeSelect(Select):
    def _parts_ready(self) -> bool:
        current = self.query(SelectCurrent)
        return bool(current) and bool(self.query(SelectOverlay)) and bool(current.first().query("#label"))

    def _on_mount(self, event) -> None:
        # Textual calls each class's _on_mount, this one first: when the parts are missing, stop
        # Select's and run it once they are there.
        if not self._parts_ready():
            event.prevent_default()
            self._set_up_later()

    def _set_up_later(self) -> None:
        if not self.is_attached:
            return  # gone (the app is closing)
        if self._parts_ready():
            Select._on_mount(self, events.Mount())
        else:
            self.call_after_refresh(self._set_up_later)

    def _watch_value(self, value) -> None:
        if not self._parts_ready():
            if self.is_attached:
                self.call_after_refresh(self._watch_value, self.value)
            return
        super()._watch_value(value)

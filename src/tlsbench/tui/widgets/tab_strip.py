"""A one-row strip of tabs: cheaper than Textual's Tabs (one widget, no underline row).

Used for the Connection / Listener tabs and for the results' panels on a small terminal. A click
on a label, or left/right while it has focus, posts `Chosen`; the owner decides what to show.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from tlsbench.tui.actions import bindings


class TabStrip(Widget):
    DEFAULT_CSS = """
    TabStrip { height: 1; width: 1fr; background: $panel; color: $text-muted; }
    TabStrip:focus { background: $panel-lighten-1; }
    """
    BINDINGS = bindings("tab-strip")

    class Chosen(Message):
        """A tab was clicked or stepped to (a plain class: a dataclass costs start-up time)."""

        def __init__(self, strip: "TabStrip", tab: str) -> None:
            super().__init__()
            self.strip, self.tab = strip, tab

        @property
        def control(self) -> "TabStrip":
            return self.strip

    def __init__(self, tabs: list[tuple[str, str]], *, active: str | None = None, prefix: Text | None = None,
                 keys: bool = False, focusable: bool = False, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.can_focus = focusable
        self.tabs = list(tabs)
        self.active = active or self.tabs[0][0]
        self.prefix = prefix or Text()
        self.keys = keys  # show "1", "2", … before each label
        self.notes: dict[str, str] = {}  # e.g. {"findings": "2"} -> "Findings (2)"
        self._spans: list[tuple[int, int, str]] = []

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append_text(self.prefix)
        self._spans = []
        for index, (tab, label) in enumerate(self.tabs, 1):
            note = self.notes.get(tab)
            text = f" {index} {label}" if self.keys else f" {label}"
            text += f" ({note}) " if note else " "
            start = out.cell_len
            if tab == self.active:
                out.append(text, style="bold reverse")
            else:
                out.append(text)
            self._spans.append((start, out.cell_len, tab))
            out.append(" ")
        return out

    def show(self, tab: str) -> None:
        if tab != self.active:
            self.active = tab
            self.refresh()

    def set_note(self, tab: str, note: str | None) -> None:
        if self.notes.get(tab) != note:
            if note:
                self.notes[tab] = note
            else:
                self.notes.pop(tab, None)
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        for start, end, tab in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(self, tab))
                return

    def action_step(self, delta: int) -> None:
        names = [tab for tab, _ in self.tabs]
        index = (names.index(self.active) + delta) % len(names)
        self.post_message(self.Chosen(self, names[index]))

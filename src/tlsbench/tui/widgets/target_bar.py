"""The target bar: one line beside the tabs where a person types or pastes what they already have.

`HOST:PORT`, `https://host/path`, a `tlsbench probe …` line, a `curl …` command or an `openssl s_client …`
command (engine/paste.py reads them all — the inverse of "copy as command"). Enter posts `Submitted`;
the screen fills the form from it and runs. The text stays, so it can be edited and sent again.
"""

from __future__ import annotations

import re

from textual import events
from textual.message import Message
from textual.widgets import Input

from tlsbench.tui.actions import bindings

PLACEHOLDER = "ctrl+l: paste URL / curl / s_client line"  # 40 cells: whole beside the tabs at 80 columns


class TargetBar(Input):
    DEFAULT_CSS = """
    TargetBar { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    TargetBar:focus { border: none; background: $primary; color: $text; }
    TargetBar > .input--placeholder { color: $text-muted; }
    """
    BINDINGS = bindings("target-bar")

    class Submitted(Message):
        """Enter in the bar: `text` is what to read (never empty)."""

        def __init__(self, bar: "TargetBar", text: str) -> None:
            super().__init__()
            self.bar, self.text = bar, text

        @property
        def control(self) -> "TargetBar":
            return self.bar

    class Leave(Message):
        """Escape in the bar: focus goes back to where the person was."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id, select_on_focus=True)

    def _on_paste(self, event: events.Paste) -> None:
        """A command pasted over several lines (`\\` continuations, or just wrapped) is one line here;
        Input keeps only the first line of a paste."""
        event.prevent_default()
        event.stop()
        text = one_line(event.text)
        if text:
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(text)
            else:
                self.replace(text, *selection)

    async def action_submit(self) -> None:
        text = self.value.strip()
        if text:
            self.post_message(self.Submitted(self, text))

    def action_leave(self) -> None:
        self.post_message(self.Leave())


def one_line(text: str) -> str:
    """Lines joined as a shell reads them: `\\` + newline (and the next line's indent) continues, any
    other line break is one space."""
    text = re.sub(r"[ \t]*\\\r?\n[ \t]*", " ", text)
    return re.sub(r"[ \t]*\r?\n[ \t]*", " ", text).strip()

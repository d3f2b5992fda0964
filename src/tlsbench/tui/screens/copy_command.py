"""'Copy as command': the equivalent tlsbench, curl and openssl s_client lines, and what they can't do."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tlsbench.tui.safe_text import data
from tlsbench.tui.screens.dialog_css import DIALOG_CSS


def equivalent_lines(spec):
    """[(tool, command line or None, notes, cannot)] from the engine's equivalents module."""
    from tlsbench.engine.equivalents import equivalent_commands

    eq = equivalent_commands(spec)
    return eq, [(e.tool, e.command if e.available else None, list(e.notes), list(e.cannot)) for e in eq.all()]


class CopyCommandScreen(ModalScreen[None]):
    """Shows the command lines; 'c' copies all of them to the clipboard (OSC 52)."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS

    BINDINGS = [Binding("c,ctrl+y", "copy", "Copy to clipboard"), Binding("escape,q", "close", "Close")]

    def __init__(self, spec) -> None:
        super().__init__(classes="dialog-screen")
        self.spec = spec
        self.equivalents, self.lines = equivalent_lines(spec)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Copy as command", style="bold"), classes="dialog-title")
            with VerticalScroll(id="commands"):
                for tool, command, notes, cannot in self.lines:
                    yield Static(Text(tool, style="bold cyan"), classes="command-tool")
                    # Our own command lines: shown exactly as they will be pasted (backslashes single).
                    line = (data(command, "bold", double_backslashes=False) if command
                            else Text("cannot express this connection", style="red"))
                    yield Static(line, classes="command-line", id=f"command-{tool}")
                    for note in notes:
                        yield Static(data(f"  · {note}", "dim", double_backslashes=False), classes="command-note")
                    for item in cannot:
                        yield Static(data(f"  ✘ cannot express: {item}", "yellow", double_backslashes=False),
                                     classes="command-cannot")
        yield Footer()

    def text(self) -> str:
        return self.equivalents.as_text()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text())
        self.notify("command lines copied to the clipboard (OSC 52)", title="Copied")

    def action_close(self) -> None:
        self.dismiss(None)

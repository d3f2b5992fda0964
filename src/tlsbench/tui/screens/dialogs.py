"""Small modal dialogs: a yes/no confirmation and a name prompt."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static
from tlsbench.tui.actions import bindings
from tlsbench.tui.screens.dialog_css import DIALOG_CSS


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True on yes."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS

    BINDINGS = bindings("confirm")

    def __init__(self, question: Text) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class NamePrompt(ModalScreen[str | None]):
    """Ask for a profile name; dismisses with the name, or None when cancelled."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS

    BINDINGS = bindings("name")

    def __init__(self, title: str, initial: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-text")
            yield Input(value=self.initial, placeholder="letters, digits, . - _", id="name")
            yield Static("", id="name-error", classes="field-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if name:
            self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)

"""What the server accepts, as the workbench shows it: the enumeration's lines and findings,
literal text in a scrolling view. Escape closes it (and cancels an enumeration in flight)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tlsbench.tui.actions import bindings
from tlsbench.tui.widgets.findings_panel import suggestion_words
from tlsbench.tui.safe_text import data


class EnumerationScreen(ModalScreen):
    DEFAULT_CSS = """
    EnumerationScreen { align: center middle; }
    EnumerationScreen > VerticalScroll { width: 95%; height: 90%; border: round $accent; padding: 0 1;
                                         background: $surface; }
    """
    BINDINGS = bindings("enumeration")

    def __init__(self, target: str, token) -> None:
        super().__init__()
        self.target, self.token = target, token
        self.result = None

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"What {self.target} accepts (Esc closes)"
            yield Static(Text("asking which versions and cipher suites the server accepts ...", style="dim"),
                         id="enumeration-text")

    def show_result(self, found) -> None:
        from tlsbench.engine.tls.enumeration import enumeration_lines

        self.result = found
        text = Text()
        for line in enumeration_lines(found):
            text.append_text(data(line))
            text.append("\n")
        for f in found.findings:
            style = {"error": "bold red", "warning": "yellow"}.get(f.severity, "cyan")
            text.append(f"\n{f.severity:<8}", style=style)
            text.append_text(data(f"{f.code}: {f.title}"))
            text.append("\n")
            text.append_text(data(f"        {f.explanation}"))
            text.append("\n")
            if f.suggestion:
                text.append_text(data(f"        -> {suggestion_words(f.suggestion)}", "dim"))
                text.append("\n")
        self.query_one("#enumeration-text", Static).update(text)

    def show_error(self, message: str) -> None:
        self.query_one("#enumeration-text", Static).update(data(f"the enumeration stopped: {message}", "red"))

    def action_close(self) -> None:
        self.token.cancel()
        self.dismiss()

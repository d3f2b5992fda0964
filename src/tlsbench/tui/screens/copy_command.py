"""'Copy / share': save the last run to a file (`tlsbench show FILE` opens it), and the equivalent
tlsbench, curl and openssl s_client lines with what they can't do."""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from tlsbench.tui.widgets.command_line import CommandLine
from tlsbench.tui.actions import bindings
from tlsbench.tui.safe_text import data, line
from tlsbench.tui.screens.dialog_css import DIALOG_CSS

SHARE_CSS = """
#save-run-status { height: auto; }
CopyCommandScreen .dialog { height: 90%; }
CopyCommandScreen #commands { height: 1fr; max-height: 100%; }  /* scrolls inside the dialog on a short screen */
"""


def equivalent_lines(spec: Any) -> tuple[Any, list[tuple[str, str | None, list[str], list[str]]]]:
    """[(tool, command line or None, notes, cannot)] from the engine's equivalents module."""
    from tlsbench.engine.equivalents import equivalent_commands

    eq = equivalent_commands(spec)
    return eq, [(e.tool, e.command if e.available else None, list(e.notes), list(e.cannot)) for e in eq.all()]


class CopyCommandScreen(ModalScreen[None]):
    """Shows the command lines; 'c' copies all of them to the clipboard (OSC 52). `run` is the last
    finished run as (spec, events), saved by 'Save this run' (s, then Enter) as a run file."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + SHARE_CSS
    AUTO_FOCUS = "#commands"

    BINDINGS = bindings("copy")

    def __init__(self, spec: Any, run: tuple[Any, tuple[Any, ...]] | None = None, running: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.spec = spec
        self.last_run = run
        self.run_in_flight = running
        self.equivalents, self.lines = equivalent_lines(spec)
        self.saved: str | None = None  # the path last written
        self._confirm: str | None = None  # a path that exists, to replace at the next press

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Copy / share", style="bold"), classes="dialog-title")
            yield from self._save_section()
            commands = VerticalScroll(id="commands")
            commands.border_title = "Commands"
            with commands:
                for tool, command, notes, cannot in self.lines:
                    yield Static(Text(tool, style="bold cyan"), classes="command-tool")
                    # Our own command lines: shown exactly as they will be pasted (backslashes single).
                    if command:  # wrapped between arguments (an option stays with its value)
                        yield CommandLine(command, "bold", classes="command-line", id=f"command-{tool}")
                    else:
                        yield Static(Text("cannot express this connection", style="red"), classes="command-line",
                                     id=f"command-{tool}")
                    for note in notes:
                        yield Static(data(f"  · {note}", "dim", double_backslashes=False), classes="command-note")
                    for item in cannot:
                        yield Static(data(f"  ✘ cannot express: {item}", "yellow", double_backslashes=False),
                                     classes="command-cannot")
        yield Footer()

    def _save_section(self) -> ComposeResult:
        if self.last_run is None:
            why = ("a run is in flight: save it here once it has finished" if self.run_in_flight
                   else "no finished run yet (run the connection, then save it here)")
            yield Static(Text(f"Save this run: {why}.", style="dim"), id="save-run-status")
            return
        from tlsbench.engine.records.runfile import default_file_name

        yield Static(line(("Save this run to a file", "bold"), (" — s, then Enter (open it with: tlsbench show FILE)",
                                                                  "dim")))
        yield Input(default_file_name(self.last_run[0]), id="save-run-path")
        yield Static(line(("in ", "dim"), (os.getcwd(), "dim"), ("; passwords are never written", "dim")),
                     id="save-run-status")

    def text(self) -> str:
        return self.equivalents.as_text()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text())
        self.notify("command lines copied to the clipboard (OSC 52)", title="Copied")

    def action_focus_save(self) -> None:
        for field in self.query("#save-run-path"):
            field.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "save-run-path":
            event.stop()
            self.save()

    def _status(self, text: Text) -> None:
        self.query_one("#save-run-status", Static).update(text)

    def save(self) -> None:
        """Write the run to the path in the field; the outcome in one line under it."""
        if self.last_run is None:
            return
        from tlsbench.errors import InputError
        from tlsbench.engine.records.runfile import run_record, save_run

        path = self.query_one("#save-run-path", Input).value.strip()
        if not path:
            self._status(Text("✘ give a file name", style="bold red"))
            return
        expanded = os.path.expanduser(path)
        if os.path.lexists(expanded) and self._confirm != path:
            self._confirm = path
            self._status(line(("exists: ", "yellow"), (path, "bold"),
                              (" — Enter again to replace it (only a run file is replaced)", "yellow")))
            return
        self._confirm = None
        spec, events = self.last_run
        try:
            written = save_run(expanded, run_record(spec, events))
        except (InputError, OSError, ValueError) as exc:
            reason = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
            message = " ".join(reason.split())
            self._status(line(("✘ not saved: ", "bold red"), (message, "red")))
            return
        self.saved = written
        size = os.path.getsize(written)
        self._status(line(("✔ saved to ", "bold green"), (written, "green"), (f" ({size:,} bytes)", "dim")))

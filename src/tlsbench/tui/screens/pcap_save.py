"""The dialog that saves the last run's capture as pcapng: a path (a name in the current directory by
default), Enter to write it, Escape to leave. The file is written as `--pcap` writes it: atomically,
0600, never through a symbolic link; an existing file is replaced after a second Enter."""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tlsbench.tui.actions import bindings
from tlsbench.tui.safe_text import line
from tlsbench.tui.screens.dialog_css import DIALOG_CSS


class PcapSavePrompt(ModalScreen[None]):
    """`run` is (spec, Captured) of the last finished run, or None (no run yet, or one in flight)."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + "#pcap-status { height: auto; }"

    BINDINGS = bindings("pcap")

    def __init__(self, run: tuple[Any, Any] | None, running: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.run = run
        self.running = running
        self._confirm: str | None = None  # a path that exists, replaced at the next Enter

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Save the capture of this run (pcapng)", style="bold"), classes="dialog-title")
            if self.run is None:
                why = ("a run is in flight: save its capture here once it has finished" if self.running
                       else "no finished run to save (run the connection, then save its capture here)")
                yield Static(Text(f"{why}. Escape closes.", style="dim"), id="pcap-status")
                return
            from tlsbench.engine.capture.files import default_pcap_name

            spec, captured = self.run
            yield Input(default_pcap_name(spec.host, spec.port), id="pcap-path")
            count = len(captured.connections)
            what = (f"; {count} connection{'s' if count != 1 else ''}; the TLS secrets are inside (Wireshark decrypts "
                    "it: keep the file private); proxy passwords are masked")
            yield Static(line(("in ", "dim"), (os.getcwd(), "dim"), (what, "dim"),
                              ("\nEnter saves · Escape cancels", "dim")), id="pcap-status")

    def _status(self, text: Text) -> None:
        self.query_one("#pcap-status", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save(event.value.strip())

    def save(self, path: str) -> None:
        """Write the capture to `path`; closes when written, else says why in one line."""
        if self.run is None:
            return
        from tlsbench.engine.capture.files import save_pcap
        from tlsbench.errors import InputError

        if not path:
            self._status(Text("✘ give a file name", style="bold red"))
            return
        if os.path.lexists(os.path.expanduser(path)) and self._confirm != path:
            self._confirm = path
            self._status(line(("exists: ", "yellow"), (path, "bold"), (" — Enter again to replace it", "yellow")))
            return
        self._confirm = None
        try:
            written = save_pcap(path, self.run[1])
        except (InputError, OSError) as exc:
            reason = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._status(line(("✘ not saved: ", "bold red"), (" ".join(reason.split()), "red")))
            return
        from tlsbench.visible import visible

        self.app.notify(f"capture saved to {visible(str(written), keep_newlines=False)} "
                        f"({os.path.getsize(written):,} bytes; TLS secrets inside)", title="Saved", markup=False)
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

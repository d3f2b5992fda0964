"""The workbench opened on a saved run (`tlsbench show FILE`): the run shown as if it had just run."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tlsbench.engine.records.runfile import RunRecord, spec_of
from tlsbench.visible import visible
from tlsbench.tui.app import WorkbenchApp
from tlsbench.tui.safe_text import line, middle_ellipsis


SOURCE_WIDTH = 48  # a longer path is shortened in its middle: the file's name stays whole


def saved_note(source: str, record: RunRecord) -> Text:
    """The read-only marker in the run's status line: which file, and when it was saved."""
    when = record.saved_at.replace("T", " ").replace("Z", " UTC")
    name = source.rpartition("/")[2]
    if len(source) > SOURCE_WIDTH and len(name) < SOURCE_WIDTH - 8:
        head = middle_ellipsis(source[:len(source) - len(name)], SOURCE_WIDTH - len(name))
        source = head + name
    return line(("◆ saved run ", "bold reverse"), (source, "bold"), (f" · saved {when} · read-only", ""))


class SavedRunApp(WorkbenchApp):
    """The workbench with the form loaded from the run's connection and the run's events fed to the
    results the way a live run's are. Opening it writes nothing (no profile, no state file)."""

    def __init__(self, store: Any, record: RunRecord, source: str) -> None:
        self.record, self.source = record, source
        super().__init__(store, spec=spec_of(record))
        self.title = f"tlsbench — saved run {visible(source, keep_newlines=False)}"
        self.sub_title = f"saved {record.saved_at} (read-only)"

    def on_ready(self) -> None:
        super().on_ready()
        screen = self.screen
        show = getattr(screen, "show_events", None)
        if show is not None:
            show(self.record.events, spec_of(self.record), saved_note(self.source, self.record))

"""A live gauge of the kernel's accept queue against the effective backlog."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label, ProgressBar


class QueueGauge(Widget):
    DEFAULT_CSS = """
    QueueGauge { height: 1; layout: horizontal; }
    QueueGauge Label { width: auto; margin-right: 1; }
    QueueGauge ProgressBar { width: 1fr; }
    QueueGauge ProgressBar Bar { width: 1fr; }
    QueueGauge.-paused Label { color: $warning; }
    """

    def compose(self) -> ComposeResult:
        yield Label(Text("accept queue: not listening"), id="gauge-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="gauge-bar")

    def show(self, length: int, backlog: int | None, paused: bool) -> None:
        label = f"accept queue {length} / {backlog if backlog is not None else '?'} queued"
        if paused:
            label += " (paused: not accepting)"
        self.query_one("#gauge-label", Label).update(Text(label))
        self.query_one("#gauge-bar", ProgressBar).update(total=max(backlog or 1, 1), progress=length)
        self.set_class(paused, "-paused")

    def clear(self) -> None:
        self.query_one("#gauge-label", Label).update(Text("accept queue: not listening"))
        self.query_one("#gauge-bar", ProgressBar).update(total=1, progress=0)
        self.set_class(False, "-paused")

"""Compare the previous run with the current one, stage by stage."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from tlsbench.tui.safe_text import data

STYLES = {"ok": "green", "failed": "bold red", "skipped": "dim", "cancelled": "yellow"}


def _cell(record) -> Text:
    if record is None:
        return Text("—", style="dim")
    if record.status == "skipped":
        return Text("skipped", style="dim")
    return Text(f"{record.status:<7} {record.duration_ms:8.1f} ms", style=STYLES.get(record.status, ""))


def _delta(prev, cur) -> Text:
    if prev is None or cur is None or "skipped" in (prev.status, cur.status):
        return Text("")
    diff = cur.duration_ms - prev.duration_ms
    return Text(f"{diff:+.1f} ms", style="red" if diff > 0 else "green")


def compare_rows(previous, current) -> list[tuple[Text, Text, Text, Text]]:
    rows = []
    keys = [r.id for r in current.stages] + [r.id for r in previous.stages if current.stage(r.id) is None]
    for key in keys:
        prev, cur = previous.stage(key), current.stage(key)
        label = (cur or prev).label or key
        rows.append((Text(label, style="bold"), _cell(prev), _cell(cur), _delta(prev, cur)))
    total = (Text("total", style="bold"), Text(f"{'ok' if previous.ok else 'failed':<7} {previous.total_ms:8.1f} ms"),
             Text(f"{'ok' if current.ok else 'failed':<7} {current.total_ms:8.1f} ms"),
             Text(f"{current.total_ms - previous.total_ms:+.1f} ms"))
    rows.append(total)
    return rows


class CompareScreen(ModalScreen[None]):
    """Previous run | current run | difference, one row per stage, then the findings of each."""

    BINDINGS = [Binding("escape,q,p", "close", "Close")]

    def __init__(self, previous, current) -> None:
        super().__init__(classes="dialog-screen")
        self.previous, self.current = previous, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Previous run vs current run", style="bold"), classes="dialog-title")
            yield Static(data(f"previous: {self.previous.target}   current: {self.current.target}", "dim"))
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            codes = Text("findings before: ", style="dim")
            codes.append_text(data(", ".join(self.previous.codes()) or "none"))
            codes.append("\nfindings now:    ", style="dim")
            codes.append_text(data(", ".join(self.current.codes()) or "none"))
            yield Static(codes, id="compare-findings")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("stage", "previous", "current", "change")
        for row in compare_rows(self.previous, self.current):
            table.add_row(*row)

    def action_close(self) -> None:
        self.dismiss(None)

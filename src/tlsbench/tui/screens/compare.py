"""Compare the previous run with the current one, stage by stage."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from tlsbench.tui.run_status import run_status, stage_status
from tlsbench.tui.safe_text import data
from tlsbench.tui.screens.dialog_css import DIALOG_CSS

STYLES = {"ok": "green", "failed": "bold red", "skipped": "dim", "cancelled": "yellow"}


def _cell(record) -> Text:
    if record is None:
        return Text("—", style="dim")
    status = stage_status(record)
    if status == "skipped":
        return Text("skipped", style="dim")
    return Text(f"{status:<9} {record.duration_ms:8.1f} ms", style=STYLES.get(status, ""))


def _delta(prev, cur) -> Text:
    if prev is None or cur is None or "skipped" in (prev.status, cur.status):
        return Text("")
    diff = cur.duration_ms - prev.duration_ms
    return Text(f"{diff:+.1f} ms", style="red" if diff > 0 else "green")


def _total(result) -> Text:
    status = run_status(result)
    return Text(f"{status:<9} {result.total_ms:8.1f} ms", style=STYLES.get(status, ""))


def compare_rows(previous, current) -> list[tuple[Text, Text, Text, Text]]:
    rows = []
    keys = [r.id for r in current.stages] + [r.id for r in previous.stages if current.stage(r.id) is None]
    for key in keys:
        prev, cur = previous.stage(key), current.stage(key)
        label = (cur or prev).label or key
        rows.append((Text(label, style="bold"), _cell(prev), _cell(cur), _delta(prev, cur)))
    rows.append((Text("total", style="bold"), _total(previous), _total(current),
                 Text(f"{current.total_ms - previous.total_ms:+.1f} ms")))
    return rows


class CompareScreen(ModalScreen[None]):
    """The previous run of the same connection | this run | difference, one row per stage, then the
    findings of each."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS

    BINDINGS = [Binding("escape,q,p", "close", "Close")]

    def __init__(self, previous, current) -> None:
        super().__init__(classes="dialog-screen")
        self.previous, self.current = previous, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("The previous run of this connection vs this run", style="bold"),
                         classes="dialog-title")
            yield Static(data(f"{self.current.target}: {run_status(self.previous)} then {run_status(self.current)}",
                              "dim"))
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

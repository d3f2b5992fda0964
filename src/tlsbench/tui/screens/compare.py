"""Two runs side by side: the options that differed, the socket, each stage's time, the chain
(fingerprints, leaf first) and the findings (only in A, only in B, both).

The comparison itself is tlsbench.history.compare (the same as `tlsbench history --compare`); this
screen lays it out as one table with a row per line, grouped by section. Every value is data.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from tlsbench.tui.actions import bindings
from tlsbench.history.compare import (Comparison, StageRow, cell, compare, delta_text, short_fingerprint,
                                      stage_label)
from tlsbench.tui.safe_text import data
from tlsbench.tui.screens.dialog_css import DIALOG_CSS

STYLES = {"ok": "green", "failed": "bold red", "skipped": "dim", "cancelled": "yellow"}
COMPARE_CSS = """
.dialog.runs { width: 100%; max-width: 120; height: 100%; max-height: 40; padding: 0 1; }
.dialog.runs .dialog-title { margin-bottom: 0; }
.dialog.runs DataTable, .dialog.runs #compare-table { height: 1fr; max-height: 100%; }
"""

Row = tuple[Text, Text, Text, Text]


def one_line(value: object, style: str = "") -> Text:
    """A value from a file or the network on one line: a newline shows as \\n, never a second row."""
    return data(value, style, keep_newlines=False)


def _status_cell(status: str | None, ms: float | None) -> Text:
    if status is None:
        return Text("—", style="dim")
    return Text(cell(status, ms), style=STYLES.get(status, ""))


def _stage_row(row: StageRow, label: str) -> Row:
    delta = row.delta_ms
    style = "" if delta is None or abs(delta) < 0.05 else ("red" if delta > 0 else "green")
    return (Text(label, style="bold"), _status_cell(row.a_status, row.a_ms), _status_cell(row.b_status, row.b_ms),
            Text(delta_text(row), style=style))


def _section(title: str) -> Row:
    return (Text(title, style="bold underline"), Text(""), Text(""), Text(""))


def _differs(flag: bool) -> Text:
    return Text("differs", style="yellow") if flag else Text("")


def comparison_rows(c: Comparison) -> list[Row]:
    """The table's rows: a section title, then its lines (key | A | B | change)."""
    rows: list[Row] = [_section("options that differed")]
    rows += [(one_line(r.key, "bold"), one_line(r.a), one_line(r.b), Text("")) for r in c.options] or \
        [(Text("none", style="dim"), Text(""), Text(""), Text(""))]
    rows.append(_section("stages"))
    rows += [_stage_row(s, stage_label(s.key)) for s in c.stages]
    rows.append(_stage_row(c.total, "total"))
    rows.append(_section("socket"))
    rows += [(Text(r.key.replace("_", " "), style="bold"), one_line(r.a), one_line(r.b), _differs(r.differs))
             for r in c.socket]
    rows.append(_section("chain (sha256)"))
    rows += [(Text(r.key, style="bold"), one_line(short_fingerprint(r.a, 6)), one_line(short_fingerprint(r.b, 6)),
              _differs(r.differs) if r.differs else Text("same", style="green")) for r in c.chain] or \
        [(Text("none", style="dim"), Text(""), Text(""), Text(""))]
    rows.append(_section("findings"))
    for label, codes, column in (("only in A", c.findings_only_a, 1), ("only in B", c.findings_only_b, 2),
                                 ("in both", c.findings_both, 0)):
        text = one_line(", ".join(codes) or "none", "" if codes else "dim")
        row = [Text(label, style="bold"), Text(""), Text(""), Text("")]
        if column:
            row[column] = text
        else:
            row[1], row[2] = text, text.copy()
        rows.append((row[0], row[1], row[2], row[3]))
    return rows


def _when(at: str) -> str:
    return at.replace("T", " ").rstrip("Z") + " UTC" if at.endswith("Z") else at


class CompareScreen(ModalScreen[None]):
    """Run A | run B | change, one row per line of the comparison."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + COMPARE_CSS

    BINDINGS = bindings("compare")

    def __init__(self, a: dict[str, Any], b: dict[str, Any], a_label: str = "A", b_label: str = "B",
                 title: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.a, self.b = a, b
        self.a_label, self.b_label, self.title_text = a_label, b_label, title
        self.comparison = compare(a, b)

    def compose(self) -> ComposeResult:
        c = self.comparison
        with Vertical(classes="dialog wide runs"):
            yield Static(one_line(f"{self.title_text}: run A vs run B", "bold"), classes="dialog-title")
            heading = one_line(f"A {self.a_label:<7} {_when(c.a_at)}  {c.a_verdict}", "dim")
            heading.append("\n")
            heading.append_text(one_line(f"B {self.b_label:<7} {_when(c.b_at)}  {c.b_verdict}", "dim"))
            yield Static(heading, id="compare-heading")
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", f"A {self.a_label}", f"B {self.b_label}", "change")
        for row in comparison_rows(self.comparison):
            table.add_row(*row)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)

"""The table of a listener's clients: one row per client, updated in place as events arrive.

Columns are as wide as what they hold until the table is too narrow: then the widest give up cells
(middle-cut addresses and names, end-cut the rest) so the result column stays on screen; the details
below the table show every value whole. The findings come before the long result text, the worst
first and coloured by its severity.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tlsbench.engine.findings.model import sort_findings
from tlsbench.visible import visible
from tlsbench.tui.listener.records import ClientRecord
from tlsbench.tui.safe_text import middle_ellipsis

COLUMNS = (("id", "#"), ("peer", "peer"), ("port", "port"), ("sni", "SNI"), ("protocol", "protocol"),
           ("findings", "findings"), ("result", "result"))
SEVERITY = {"error": ("✘ ", "bold red"), "warning": ("▲ ", "yellow"), "info": ("ℹ ", "blue")}


def findings_cell(record: ClientRecord) -> Text:
    """The worst finding first, with its severity; '+N' for the others."""
    findings = sort_findings([item.finding for item in record.findings])
    if not findings:
        return Text("")
    mark, style = SEVERITY.get(findings[0].severity, ("· ", ""))
    cell = Text(mark + findings[0].code, style=style)
    if len(findings) > 1:
        cell.append(f" +{len(findings) - 1}", style="dim")
    return cell


# The narrowest each column gets when the table must fit (80 columns): the result keeps its room.
MIN_WIDTH = {"id": 2, "peer": 9, "port": 5, "sni": 9, "protocol": 8, "findings": 12, "result": 14}
RESULT_WANTED = 18  # other columns give up cells until the result has this many (or they are at their minimum)


def _fit(text: str, width: int | None, middle: bool = False) -> str:
    if width is None or len(text) <= width:
        return text
    return middle_ellipsis(text, width) if middle else text[:max(0, width - 1)] + "…"


def _cells(record: ClientRecord, widths: dict[str, int] | None = None) -> dict[str, Text]:
    """The row's cells, each cut to its column's width (the details below the table show them whole)."""
    # Every cell is a Text: a string cell would be parsed as markup, and SNI comes from the client.
    w = widths or {}
    findings = findings_cell(record)
    if w.get("findings") and findings.cell_len > w["findings"]:
        findings.truncate(w["findings"], overflow="ellipsis")
    return {
        "id": Text(str(record.client_id)),
        "peer": Text(_fit(record.peer_address, w.get("peer"), middle=True)),
        "port": Text(str(record.peer_port), style="bold cyan"),
        "sni": Text(_fit(visible(record.sni, keep_newlines=False), w.get("sni"), middle=True)),
        "protocol": Text(_fit(record.protocol, w.get("protocol")),
                         style="bold red" if "port" in record.protocol else ""),
        "findings": findings,
        "result": Text(_fit(visible(record.result, keep_newlines=False), w.get("result")),
                       style="red" if "failed" in record.result else ""),
    }


def column_widths(width: int, natural: dict[str, int], padding: int) -> dict[str, int]:
    """Widths that fit `width` cells: each column as wide as what it holds, the widest giving up cells
    (down to its minimum) until the result has RESULT_WANTED, and the result takes what is left."""
    widths = {key: max(MIN_WIDTH[key], natural.get(key, 0)) for key, _ in COLUMNS}
    usable = width - padding * len(COLUMNS)

    def left() -> int:
        return usable - sum(v for k, v in widths.items() if k != "result")

    want = min(RESULT_WANTED, natural.get("result", 0))
    while left() < want:
        over = {k: v - MIN_WIDTH[k] for k, v in widths.items() if k != "result" and v > MIN_WIDTH[k]}
        if not over:
            break
        widths[max(over, key=lambda k: over[k])] -= 1
    widths["result"] = max(MIN_WIDTH["result"], left())
    return widths


class ClientsTable(DataTable):
    DEFAULT_CSS = """
    ClientsTable { height: 1fr; border: round $primary-darken-2; overflow-x: hidden;
                   scrollbar-background: $panel; scrollbar-size-vertical: 1; }
    ClientsTable:focus { border: round $primary; border-title-background: $primary; border-title-color: $text; }
    """

    def on_mount(self) -> None:
        self.border_title = "Clients"
        self.records: dict[str, ClientRecord] = {}
        self._widths: dict[str, int] | None = None
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=MIN_WIDTH[key])

    def _natural(self) -> dict[str, int]:
        out = {key: len(label) for key, label in COLUMNS}
        for record in self.records.values():
            for key, cell in _cells(record).items():
                out[key] = max(out[key], cell.cell_len)
        return out

    def _refit(self) -> None:
        """Fixed column widths that fit the table's width; every cell cut to its column."""
        width = self.scrollable_content_region.width
        if not width:
            return
        widths = column_widths(width, self._natural(), 2 * self.cell_padding)
        if widths == self._widths:
            return
        self._widths = widths
        for column_key, column in self.columns.items():
            column.auto_width = False
            column.width = widths[str(column_key.value)]
        for row_key, record in self.records.items():
            if row_key in self.rows:
                for name, value in _cells(record, widths).items():
                    self.update_cell(row_key, name, value)
        self._require_update_dimensions = True
        self.refresh()

    def on_resize(self, event) -> None:
        self._refit()

    def show(self, record: ClientRecord) -> None:
        """Add the client's row, or update its cells in place; the columns are fitted to the width."""
        key = str(record.client_id)
        self.records[key] = record
        cells = _cells(record, self._widths)
        if key in self.rows:
            for column, value in cells.items():
                self.update_cell(key, column, value)
        else:
            self.add_row(*(cells[c] for c, _ in COLUMNS), key=key)
        self._refit()

    def port_of(self, client_id: int) -> str:
        return str(self.get_cell(str(client_id), "port"))

    def select_client(self, client_id: int) -> None:
        key = str(client_id)
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key))

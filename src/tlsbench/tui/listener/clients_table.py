"""The table of a listener's clients: one row per client, updated in place as events arrive.

Columns are as wide as what they hold (DataTable's auto width); the findings come before the long
result text, the worst first and coloured by its severity.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tlsbench.engine.findings import sort_findings
from tlsbench.engine.visible import visible
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


SNI_CELL = 20  # a long name is cut in the middle; the details below the table show it whole
RESULT_MIN = 16


def _cells(record: ClientRecord, result_room: int | None = None) -> dict[str, Text]:
    # Every cell is a Text: a string cell would be parsed as markup, and SNI comes from the client.
    result = visible(record.result, keep_newlines=False)
    if result_room is not None and len(result) > result_room:  # the whole of it is in the details
        result = result[:result_room - 1] + "…"
    return {
        "id": Text(str(record.client_id)),
        "peer": Text(record.peer_address),
        "port": Text(str(record.peer_port), style="bold cyan"),
        "sni": Text(middle_ellipsis(visible(record.sni, keep_newlines=False), SNI_CELL)),
        "protocol": Text(record.protocol, style="bold red" if "port" in record.protocol else ""),
        "findings": findings_cell(record),
        "result": Text(result, style="red" if "failed" in record.result else ""),
    }


class ClientsTable(DataTable):
    DEFAULT_CSS = """
    ClientsTable { height: 1fr; border: round $primary-darken-2; overflow-x: hidden;
                   scrollbar-background: $panel; scrollbar-size-vertical: 1; }
    ClientsTable:focus { border: round $primary; border-title-background: $primary; border-title-color: $text; }
    """

    def on_mount(self) -> None:
        self.border_title = "Clients"
        self.records: dict[str, ClientRecord] = {}
        self._room: int | None = None
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def result_room(self) -> int | None:
        """Cells left for the result column once the others have theirs (None before the first layout)."""
        width = self.scrollable_content_region.width
        if not width:
            return None
        others = sum(column.get_render_width(self) for key, column in self.columns.items() if key.value != "result")
        return max(RESULT_MIN, width - others - 2)

    def on_resize(self, event) -> None:
        if self.result_room() != self._room:
            self._refit()

    def _refit(self) -> None:
        self._room = self.result_room()
        for key, record in self.records.items():
            if key in self.rows:
                self.update_cell(key, "result", _cells(record, self._room)["result"], update_width=True)

    def show(self, record: ClientRecord) -> None:
        """Add the client's row, or update its cells in place; the result is cut to the room left."""
        key = str(record.client_id)
        self.records[key] = record
        self._room = self.result_room()
        cells = _cells(record, self._room)
        if key in self.rows:
            for column, value in cells.items():
                self.update_cell(key, column, value, update_width=True)
        else:
            self.add_row(*(cells[c] for c, _ in COLUMNS), key=key)
        if self.result_room() != self._room:  # a wider cell elsewhere took room from the result
            self._refit()

    def port_of(self, client_id: int) -> str:
        return str(self.get_cell(str(client_id), "port"))

    def select_client(self, client_id: int) -> None:
        key = str(client_id)
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key))

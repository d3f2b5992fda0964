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


def _cells(record: ClientRecord) -> dict[str, Text]:
    # Every cell is a Text: a string cell would be parsed as markup, and SNI comes from the client.
    return {
        "id": Text(str(record.client_id)),
        "peer": Text(record.peer_address),
        "port": Text(str(record.peer_port), style="bold cyan"),
        "sni": Text(visible(record.sni, keep_newlines=False)),
        "protocol": Text(record.protocol, style="bold red" if "port" in record.protocol else ""),
        "findings": findings_cell(record),
        "result": Text(visible(record.result, keep_newlines=False),
                       style="red" if "failed" in record.result else ""),
    }


class ClientsTable(DataTable):
    DEFAULT_CSS = """
    ClientsTable { height: 1fr; border: round $primary-darken-2; }
    ClientsTable:focus { border: round $primary; border-title-background: $primary; border-title-color: $text; }
    """

    def on_mount(self) -> None:
        self.border_title = "Clients"
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, record: ClientRecord) -> None:
        """Add the client's row, or update its cells in place."""
        key = str(record.client_id)
        cells = _cells(record)
        if key in self.rows:
            for column, value in cells.items():
                self.update_cell(key, column, value, update_width=True)
        else:
            self.add_row(*(cells[c] for c, _ in COLUMNS), key=key)

    def port_of(self, client_id: int) -> str:
        return str(self.get_cell(str(client_id), "port"))

    def select_client(self, client_id: int) -> None:
        key = str(client_id)
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key))

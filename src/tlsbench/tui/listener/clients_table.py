"""The table of a listener's clients: one row per client, updated in place as events arrive."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tlsbench.engine.visible import visible
from tlsbench.tui.listener.records import ClientRecord

COLUMNS = (("id", "#"), ("peer", "peer address"), ("port", "ephemeral port"), ("sni", "SNI"),
           ("protocol", "protocol"), ("result", "result"), ("findings", "findings"))


def _cells(record: ClientRecord) -> dict[str, Text]:
    # Every cell is a Text: a string cell would be parsed as markup, and SNI comes from the client.
    return {
        "id": Text(str(record.client_id)),
        "peer": Text(record.peer_address),
        "port": Text(str(record.peer_port)),
        "sni": Text(visible(record.sni, keep_newlines=False)),
        "protocol": Text(record.protocol, style="bold red" if "port" in record.protocol else ""),
        "result": Text(visible(record.result, keep_newlines=False),
                       style="red" if "failed" in record.result else ""),
        "findings": Text(", ".join(record.codes), style="yellow" if record.codes else ""),
    }


class ClientsTable(DataTable):
    DEFAULT_CSS = """
    ClientsTable { height: 1fr; }
    """

    def on_mount(self) -> None:
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

"""The socket side panel: addresses, ephemeral port, family, the OS range and TCP_INFO figures."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tlsbench.tui.safe_text import data, field as wide_field

field = partial(wide_field, width=13)


class SocketPanel(VerticalScroll):
    """Re-rendered on every SocketUpdated event (a handful per run); scrolls when the panel is short."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = None

    def compose(self) -> ComposeResult:
        yield Static(Text("no connection yet", style="dim"), id="socket-body")

    def on_mount(self) -> None:
        self.border_title = "Socket"

    def update(self, text: Text) -> None:
        self.query_one("#socket-body", Static).update(text)

    def clear_socket(self) -> None:
        self.info = None
        self.update(Text("no connection yet", style="dim"))

    def show_socket(self, info) -> None:
        self.info = info
        rows: list[Text] = []
        if info.local_address is not None:
            rows.append(Text("local", style="bold"))
            rows.append(field(" address", info.local_address))
            rows.append(field(" port", info.local_port, "bold cyan"))
        if info.ephemeral_range:
            lo, hi = info.ephemeral_range
            rows.append(field(" OS range", f"{lo}–{hi}"))
        if info.peer_address is not None:
            rows.append(Text("peer" + (" (the proxy)" if info.via_proxy else ""), style="bold"))
            rows.append(field(" address", info.peer_address))
            rows.append(field(" port", info.peer_port))
        if info.family:
            rows.append(field(" family", info.family))
        tcp = info.tcp_info
        if tcp is not None:
            rows.append(Text("TCP_INFO", style="bold"))
            rows.append(field(" rtt", f"{tcp.rtt_ms:.3f} ms"))
            rows.append(field(" rtt var", f"{tcp.rttvar_ms:.3f} ms"))
            rows.append(field(" rto", f"{tcp.rto_ms:.0f} ms"))
            rows.append(field(" retransmits", f"{tcp.retransmits} now, {tcp.total_retrans} total",
                              "yellow" if tcp.total_retrans else ""))
            rows.append(field(" lost", tcp.lost))
            rows.append(field(" mss snd/rcv", f"{tcp.snd_mss} / {tcp.rcv_mss}"))
        self.update(Text("\n").join(rows) if rows else data("no socket details", "dim"))

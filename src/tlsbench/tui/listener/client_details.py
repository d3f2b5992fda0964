"""The details of one client: its ClientHello, its first bytes (hex and text), its findings."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tlsbench.engine.findings.model import sort_findings
from tlsbench.visible import hexdump, visible, visible_bytes
from tlsbench.tui.listener.records import ClientRecord
from tlsbench.tui.widgets.findings_panel import suggestion_words


LABEL_WIDTH = 16


def render_record(record: ClientRecord, probe: bool = False) -> Text:
    """All of it as one Text: client text is appended as data, never parsed as markup.

    `probe`: this client is the run the Connection tab made ("Probe this listener")."""
    out = Text()

    def line(label: str, value: str = "", style: str = "") -> None:
        # At least one space between label and value, however long the label (evidence labels vary).
        out.append(label.ljust(LABEL_WIDTH - 1) + " ", style="bold")
        out.append(visible(value, keep_newlines=False), style=style)
        out.append("\n")

    if probe:
        out.append("◆ your probe from the Connection tab (same ephemeral port)\n", style="bold cyan")
    line("client", f"#{record.client_id} from {record.peer_address} port {record.peer_port} to {record.local}")
    line("protocol", record.protocol)
    line("result", record.result)
    if record.hello is not None:
        h = record.hello
        out.append("\nClientHello\n", style="bold underline")
        line("  SNI", record.sni)
        line("  ALPN offered", ", ".join(h.alpn) or ("(not reached)" if h.cut_short else "(none)"))
        line("  versions", ", ".join(h.versions) or "(not reached)")
        line("  cipher suites", str(h.cipher_count) if h.ciphers_reached else "(not reached)")
        if h.ja4:
            line("  JA4", h.ja4)
            line("  JA3", h.ja3_hash or "")
            line("  JA3 string", h.ja3 or "")
        if h.cut_short:
            line("  note", f"the ClientHello was cut short ({h.length:,} of {h.declared_length or '?'} bytes)")
        elif h.problem:
            line("  note", f"the ClientHello is malformed: {h.problem}")
    hs = record.handshake
    if hs is not None:
        out.append("\nHandshake\n", style="bold underline")
        if hs.ok:
            line("  result", f"{hs.version} {hs.cipher}, ALPN {hs.alpn or '(none)'}, {hs.duration_ms:.1f} ms")
        else:
            line("  failed", hs.failure or "", style="red")
            if hs.alert:
                line("  client alert", hs.alert, style="red")
    if record.data is not None:
        data = record.data.data
        out.append(f"\nFirst bytes ({len(data)}{'+' if record.data.truncated else ''})\n", style="bold underline")
        out.append(hexdump(data[:512], width=8) + "\n")
        out.append("text: ", style="bold")
        out.append(visible_bytes(data[:512]) + "\n")
    for f in sort_findings([item.finding for item in record.findings]):
        style = {"error": "bold red", "warning": "bold yellow"}.get(f.severity, "bold blue")
        out.append(f"\n[{f.severity}] {f.code}\n", style=style)
        out.append(visible(f.title) + "\n", style="bold")
        out.append(visible(f.explanation) + "\n")
        out.append("-> " + visible(suggestion_words(f.suggestion)) + "\n", style="green")
        for peer in f.suggestion.peers:
            out.append("   $ " + visible(peer.command) + "\n", style="dim")
        for e in f.evidence:
            line(f"  {e.label}", e.value, style="dim")
    if record.closed is not None:
        c = record.closed
        out.append("\n")
        line("closed", f"after {c.duration_ms:.1f} ms, {c.bytes_received} bytes in, {c.bytes_sent} out")
    return out


class ClientDetails(VerticalScroll):
    DEFAULT_CSS = """
    ClientDetails { border: round $primary-darken-2; padding: 0 1; }
    ClientDetails:focus { border: round $primary; border-title-background: $primary; border-title-color: $text; }
    ClientDetails #details-body { height: auto; }
    """

    def compose(self):
        yield Static(Text("Select a client to see what it sent."), id="details-body")

    def on_mount(self) -> None:
        self.border_title = "What the client sent"

    def show(self, record: ClientRecord | None, probe: bool = False) -> None:
        body = self.query_one("#details-body", Static)
        body.update(render_record(record, probe) if record else Text("Select a client to see what it sent."))

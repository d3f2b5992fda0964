"""The results: the verdict, the findings, the waterfall, the chain and the socket.

Side by side when the terminal has room (the screen's -panels class), one panel at a time behind a
row of tabs when it has not (-tabbed: then the verdict and the first finding's title stay above
the tabs, so what matters is read without switching). workbench.tcss does the arranging; this
widget only says which panel is shown (its -show-<panel> class).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tlsbench.tui.actions import PANELS
from tlsbench.tui.run_status import run_status
from tlsbench.tui.safe_text import line
from tlsbench.tui.widgets.chain_panel import ChainPanel
from tlsbench.tui.widgets.findings_panel import FindingsPanel, headline
from tlsbench.tui.widgets.socket_panel import SocketPanel
from tlsbench.tui.widgets.tab_strip import TabStrip
from tlsbench.tui.widgets.waterfall import Waterfall

IDLE_HEADER = "Choose a profile and press Enter to run it (F7 opens the form)."


def describe_spec(spec) -> Text:
    """One line saying what is being tried, e.g. 'example.com:443 via socks5 127.0.0.1:1080 · TLS, SNI x'."""
    parts = [(spec.target, "bold")]
    if spec.pin:
        parts.append((f" pinned to {spec.pin}", ""))
    for hop in spec.proxies:
        parts.append((f" via {hop.kind} {hop.address}", ""))
    if spec.tls.enabled:
        sni = spec.sni
        parts.append((f" · TLS, SNI {sni}" if sni else " · TLS, no SNI", ""))
        if spec.tls.verify == "off":
            parts.append((" · verification OFF", "bold yellow"))
    else:
        parts.append((" · plain TCP", ""))
    if spec.app.http:
        parts.append((" · HTTP GET", ""))
    elif spec.app.send:
        parts.append((" · send text", ""))
    return line(*parts)


class ResultsView(Vertical):
    """Consumes engine events in order; every widget is updated in place."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-show-stages")
        self.result = None
        self.spec = None
        self.panel = "stages"
        self.note: Text | None = None  # shown after the verdict until the next run (e.g. a saved run's file)

    def compose(self) -> ComposeResult:
        yield Static(Text(IDLE_HEADER, style="dim"), id="run-header")
        yield Static("", id="finding-line", classes="-empty")
        yield TabStrip(list(PANELS), keys=True, id="panel-tabs")
        yield FindingsPanel(id="findings")
        with Horizontal(id="results-body"):
            with Vertical(id="stage-column"):
                yield Waterfall(id="waterfall")
                yield ChainPanel(id="chain")
            yield SocketPanel(id="socket")

    # --- which panel is shown (on a small terminal) -------------------------------------------------

    def show_panel(self, panel: str) -> None:
        self.panel = panel
        for name, _ in PANELS:
            self.set_class(name == panel, f"-show-{name}")
        self.query_one("#panel-tabs", TabStrip).show(panel)

    def panel_widget(self, panel: str):
        """The widget that takes the focus for a panel."""
        if panel == "chain":
            return self.query_one(ChainPanel).focus_target()
        return self.query_one({"stages": "#waterfall", "socket": "#socket", "findings": "#findings"}[panel])

    def focus_shown(self) -> None:
        """Focus the panel shown (one at a time on a small terminal; else the one chosen last)."""
        self.panel_widget(self.panel or "stages").focus()

    def on_tab_strip_chosen(self, message: TabStrip.Chosen) -> None:
        if message.strip.id == "panel-tabs":
            message.stop()
            self.show_panel(message.tab)
            self.call_after_refresh(self.panel_widget(message.tab).focus)  # never leave the focus hidden

    # --- the run ------------------------------------------------------------------------------------

    @property
    def waterfall(self) -> Waterfall:
        return self.query_one(Waterfall)

    def _state(self, name: str) -> None:
        for cls in ("-running", "-ok", "-failed", "-cancelled"):
            self.set_class(cls == name, cls)

    def _header(self, status: Text) -> None:
        head = Text()
        head.append_text(status)
        if self.note is not None:
            head.append("  ")
            head.append_text(self.note)
        if self.spec is not None:
            head.append("  ")
            head.append_text(describe_spec(self.spec))
        self.query_one("#run-header", Static).update(head)

    def _finding_line(self) -> None:
        findings = self.query_one(FindingsPanel)
        text = headline(findings.findings, final=findings.final, ok=findings.ok, more_hint=" (4 Findings)")
        finding_line = self.query_one("#finding-line", Static)
        finding_line.update(text)
        finding_line.set_class(not text.plain, "-empty")
        count = len(findings.findings)
        self.query_one("#panel-tabs", TabStrip).set_note("findings", str(count) if count else None)

    def start(self, spec, previous=None) -> None:
        """A new run: verdict, findings, chain and socket are reset before its first event arrives."""
        self.spec, self.result, self.note = spec, None, None
        self._state("-running")
        self._header(Text("● running", style="bold yellow"))
        self.query_one(FindingsPanel).clear_findings()
        self._finding_line()
        self.waterfall.reset(previous)
        self.query_one(ChainPanel).clear_chain("waiting for the handshake…")
        self.query_one(SocketPanel).clear_socket()

    def apply(self, event) -> None:
        # Imported here: the engine's records are not needed to draw the first screen.
        from tlsbench.engine.events import (FindingRaised, PlanReady, RunFinished, SocketUpdated, StageFinished,
                                            StageSkipped, StageStarted, TlsMessageSeen)

        if isinstance(event, PlanReady):
            self.waterfall.plan(event.steps)
        elif isinstance(event, StageStarted):
            self.waterfall.stage_started(event.stage, event.at_ms, event.doing, event.parent)
        elif isinstance(event, StageFinished):
            self.waterfall.stage_finished(event.record)
            # The chain panel is the target's: a nested connection's chain (a DoH server's) is in its row.
            if event.record.name == "chain" and event.record.detail is not None and event.record.parent is None:
                self.query_one(ChainPanel).show_chain(event.record.detail)
        elif isinstance(event, StageSkipped):
            self.waterfall.stage_skipped(event.stage, event.reason, event.parent)
        elif isinstance(event, TlsMessageSeen):
            self.waterfall.message_seen(event)
        elif isinstance(event, SocketUpdated):
            self.query_one(SocketPanel).show_socket(event.socket)
        elif isinstance(event, FindingRaised):
            self.query_one(FindingsPanel).add_finding(event.finding)
            self._finding_line()
        elif isinstance(event, RunFinished):
            self.finish(event.result)

    def finish(self, result) -> None:
        self.result = result
        self.waterfall.show_result(result)
        self.query_one(FindingsPanel).show_findings(result.findings, result.ok)
        self._finding_line()
        self.query_one(SocketPanel).show_socket(result.socket)
        chain = self.query_one(ChainPanel)
        status = run_status(result)
        if result.chain is not None:
            chain.show_chain(result.chain)
        elif status == "cancelled":
            chain.clear_chain("cancelled before a certificate arrived")
        elif result.tls is not None or (self.spec is not None and self.spec.tls.enabled):
            chain.clear_chain("no certificate: the handshake did not get that far")
        else:
            chain.clear_chain("plain TCP: no TLS in this run")
        self._state(f"-{status}")
        if status == "cancelled":
            verdict = Text(f"■ CANCELLED after {result.total_ms:.1f} ms", style="bold yellow")
        elif status == "ok":
            verdict = Text(f"✔ OK in {result.total_ms:.1f} ms", style="bold green")
        else:
            failed = next((s.label or s.name for s in result.stages if s.status == "failed"), None)
            where = f" at {failed}" if failed else ""
            verdict = Text(f"✘ FAILED{where} after {result.total_ms:.1f} ms", style="bold red")
        self._header(verdict)

    def crashed(self, error: str, heading: str = "the run stopped unexpectedly") -> None:
        self._state("-failed")
        self.waterfall.cancel_running()
        self._header(line((f"✘ {heading}: ", "bold red"), (error, "red")))

    def cancelling(self) -> None:
        self._header(Text("■ cancelling…", style="bold yellow"))

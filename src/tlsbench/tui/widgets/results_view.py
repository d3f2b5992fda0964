"""The results area: run status, findings on top, the waterfall and chain, the socket panel beside."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tlsbench.engine.events import (FindingRaised, PlanReady, RunFinished, SocketUpdated, StageFinished,
                                    StageSkipped, StageStarted, TlsMessageSeen)
from tlsbench.tui.safe_text import line
from tlsbench.tui.widgets.chain_tree import ChainTree
from tlsbench.tui.widgets.findings_panel import FindingsPanel
from tlsbench.tui.widgets.socket_panel import SocketPanel
from tlsbench.tui.widgets.waterfall import Waterfall


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
        super().__init__(id=id)
        self.result = None
        self.spec = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Compose a connection, then ctrl+r runs it.", style="dim"), id="run-header")
        yield FindingsPanel(id="findings")
        with Horizontal(id="results-body"):
            with Vertical(id="stage-column"):
                yield Waterfall(id="waterfall")
                yield ChainTree(id="chain")
            yield SocketPanel(id="socket")

    @property
    def waterfall(self) -> Waterfall:
        return self.query_one(Waterfall)

    def _state(self, name: str) -> None:
        for cls in ("-running", "-ok", "-failed", "-cancelled"):
            self.set_class(cls == name, cls)

    def _header(self, status: Text) -> None:
        head = Text()
        head.append_text(status)
        if self.spec is not None:
            head.append("  ")
            head.append_text(describe_spec(self.spec))
        self.query_one("#run-header", Static).update(head)

    def start(self, spec, previous=None) -> None:
        self.spec, self.result = spec, None
        self._state("-running")
        self._header(Text("● running", style="bold yellow"))
        self.query_one(FindingsPanel).clear_findings()
        self.waterfall.reset(previous)
        self.query_one(ChainTree).clear_chain("waiting for the handshake…")
        self.query_one(SocketPanel).clear_socket()

    def apply(self, event) -> None:
        if isinstance(event, PlanReady):
            self.waterfall.plan(event.steps)
        elif isinstance(event, StageStarted):
            self.waterfall.stage_started(event.stage, event.at_ms, event.doing)
        elif isinstance(event, StageFinished):
            self.waterfall.stage_finished(event.record)
            if event.record.name == "chain" and event.record.detail is not None:
                self.query_one(ChainTree).show_chain(event.record.detail)
        elif isinstance(event, StageSkipped):
            self.waterfall.stage_skipped(event.stage, event.reason)
        elif isinstance(event, TlsMessageSeen):
            self.waterfall.message_seen(event)
        elif isinstance(event, SocketUpdated):
            self.query_one(SocketPanel).show_socket(event.socket)
        elif isinstance(event, FindingRaised):
            self.query_one(FindingsPanel).add_finding(event.finding)
        elif isinstance(event, RunFinished):
            self.finish(event.result)

    def finish(self, result) -> None:
        self.result = result
        self.waterfall.show_result(result)
        self.query_one(FindingsPanel).show_findings(result.findings, result.ok)
        self.query_one(SocketPanel).show_socket(result.socket)
        chain = self.query_one(ChainTree)
        if result.chain is not None:
            chain.show_chain(result.chain)
        else:
            chain.clear_chain("no certificate: the handshake did not get that far" if result.tls
                              else "no TLS in this run")
        if result.cancelled:
            self._state("-cancelled")
            status = Text(f"■ cancelled after {result.total_ms:.1f} ms", style="bold yellow")
        elif result.ok:
            self._state("-ok")
            status = Text(f"✔ OK in {result.total_ms:.1f} ms", style="bold green")
        else:
            self._state("-failed")
            failed = next((s.label or s.name for s in result.stages if s.status == "failed"), None)
            where = f" at {failed}" if failed else ""
            status = Text(f"✘ FAILED{where} after {result.total_ms:.1f} ms", style="bold red")
        self._header(status)

    def crashed(self, error: str, heading: str = "the run stopped unexpectedly") -> None:
        self._state("-failed")
        self.waterfall.cancel_running()
        self._header(line((f"✘ {heading}: ", "bold red"), (error, "red")))

    def cancelling(self) -> None:
        self._header(Text("■ cancelling…", style="bold yellow"))

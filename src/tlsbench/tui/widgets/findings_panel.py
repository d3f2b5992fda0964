"""Findings: the diagnosis, errors first, at the top of the results so it is seen first."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tlsbench.tui.safe_text import data, line

ICONS = {"error": ("✘ ERROR", "bold white on red"), "warning": ("▲ WARNING", "bold black on yellow"),
         "info": ("ℹ INFO", "bold white on blue")}
SHORT_ICONS = {"error": ("✘", "bold red"), "warning": ("▲", "bold yellow"), "info": ("ℹ", "bold blue")}


def finding_text(f) -> Text:
    icon, style = ICONS.get(f.severity, ("·", ""))
    out = line((f" {icon} ", style), ("  ", ""), (f.title, "bold"), (f"  [{f.code}]", "dim"))
    if f.stage:
        out.append(f"  stage: {f.stage}", style="dim")
    out.append("\n")
    out.append_text(data(f.explanation))
    if f.suggestion:
        out.append("\n")
        out.append_text(line(("→ try: ", "bold cyan"), (f.suggestion, "cyan")))
    for ev in f.evidence:
        out.append("\n")
        out.append_text(line(("  evidence ", "dim"), (f"{ev.label}: ", "dim bold"), (ev.value, "yellow")))
    return out


def sort_findings(findings):
    from tlsbench.engine.findings import sort_findings as by_severity  # not needed for the first screen

    return by_severity(findings)


def headline(findings, *, final: bool, ok: bool, more_hint: str = "") -> Text:
    """One or two lines: the first finding's severity and title, and how many more there are."""
    items = sort_findings(findings)
    if not items:
        if not final:
            return Text("")
        return Text("No problems found." if ok else "No findings.", style="green" if ok else "dim")
    first = items[0]
    icon, style = SHORT_ICONS.get(first.severity, ("·", ""))
    out = line((f"{icon} ", style), (first.title, "bold"), (f"  [{first.code}]", "dim"))
    if len(items) > 1:
        out.append(f"  +{len(items) - 1} more{more_hint}", style="dim")
    return out


class FindingsPanel(VerticalScroll):
    """All findings of the run; class -error / -warning / -ok colours the border. Scrolls by keyboard."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.findings: list = []
        self.final = False
        self.ok = False

    def compose(self) -> ComposeResult:
        yield Static(Text("Findings appear here after a run.", style="dim"), id="findings-body")

    def on_mount(self) -> None:
        self.border_title = "Findings"

    def _state(self, name: str | None) -> None:
        for cls in ("-error", "-warning", "-ok", "-empty"):
            self.set_class(cls == name, cls)

    def _body(self, text: Text) -> None:
        self.query_one("#findings-body", Static).update(text)

    def clear_findings(self, note: str = "running…") -> None:
        self.findings, self.final, self.ok = [], False, False
        self._state("-empty")
        self.border_title = "Findings"
        self._body(Text(note, style="dim"))

    def add_finding(self, finding) -> None:
        if finding not in self.findings:
            self.findings.append(finding)
        self._render_all(final=False)

    def show_findings(self, findings, ok: bool) -> None:
        self.findings = list(findings)
        self._render_all(final=True, ok=ok)

    def _render_all(self, final: bool, ok: bool = False) -> None:
        self.final, self.ok = final, ok
        items = sort_findings(self.findings)
        severities = {f.severity for f in items}
        if "error" in severities or (final and not ok):
            self._state("-error")
        elif "warning" in severities:
            self._state("-warning")
        else:
            self._state("-ok" if final else "-empty")
        self.border_title = f"Findings ({len(items)})" if items else "Findings"
        if not items:
            msg = "No problems found." if final and ok else ("running…" if not final else "No findings.")
            self._body(Text(msg, style="green" if ok else "dim"))
            return
        self._body(Text("\n\n").join(finding_text(f) for f in items))

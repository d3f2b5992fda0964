"""Findings: the diagnosis, errors first, at the top of the results so it is seen first.

A finding's suggestion is worded here with the compose form's own words ("set Pinned IP to
127.0.0.1", from each option's field label and select choice labels in engine/options.py); the
first finding whose suggestion holds a concrete change names the key that applies it.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tlsbench.tui.widgets.command_line import command_text
from tlsbench.engine.findings.model import sort_findings
from tlsbench.engine.options import BY_NAME, Option, applies, defaults
from tlsbench.engine.suggestions import Change, Suggestion, render, route_flag
from tlsbench.tui.safe_text import data, line

ICONS = {"error": ("✘ ERROR", "bold white on red"), "warning": ("▲ WARNING", "bold black on yellow"),
         "info": ("ℹ INFO", "bold white on blue")}
APPLY_KEY = "ctrl+f"  # the workbench's key that applies a suggested change and runs again

# The route's settings live in the hop list's fields (tui/widgets/hop_list.py), not in an option's field.
ROUTE_LABELS = {"proxy_user": "Proxy user", "proxy_cacert": "Proxy CA file",
                "proxy_password_env": "Password env variable",
                "proxy_insecure": "tlsbench probe --proxy-insecure (not in the form)"}

SHORT_ICONS = {"error": ("✘", "bold red"), "warning": ("▲", "bold yellow"), "info": ("ℹ", "bold blue")}


def label(option: Option) -> str:
    """An option's field label without its parenthesised hint: 'Pinned IP (instead of DNS)' -> 'Pinned IP'."""
    text = option.field.label if option.field is not None else option.name
    return re.sub(r"\s*\([^)]*\)\s*$", "", text)


def setting_words(name: str) -> str:
    """A setting as the form names it, quoted: '"Timeout per stage"'."""
    if name == "target":
        return '"Host" and "Port"'
    option = BY_NAME.get(name)
    if option is not None:
        return f'"{label(option)}"'
    if route_flag(name) is not None:
        words = ROUTE_LABELS.get(name, name)
        return words if "(" in words else f'"{words}"'
    return name


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def change_words(change: Change) -> str:
    """A change as edits of the form: 'set SNI to "override" and SNI name to www.lab.test'."""
    after = change.apply(defaults())
    clauses: list[tuple[str, str]] = []
    for name, value in change.values.items():
        if name == "target":
            host, _, port = str(value).rpartition(":")
            clauses += [("set", f"Host to {host.strip('[]')}"), ("set", f"Port to {port}")]
            continue
        option = BY_NAME[name]
        field = option.field
        if field is None or field.widget == "hops":
            clauses.append(("set", f"{name} to {_shown(value)}"))
            continue
        if not applies(option, after):
            continue  # hidden by the rest of the change (an SNI name once SNI is "from host")
        if field.widget == "switch":
            clauses.append(("turn", f"{label(option)} {'on' if value else 'off'}"))
        elif field.widget == "select":
            wanted = "any" if value is None else str(value)
            choice = next((text for text, v in field.choices if v == wanted), wanted)
            clauses.append(("set", f'{label(option)} to "{choice}"'))
        elif value in (None, "", [], ()) or value == option.default:
            clauses.append(("clear", label(option)))
        else:
            clauses.append(("set", f"{label(option)} to {_shown(value)}"))
    parts: list[str] = []
    previous = None
    for verb, rest in clauses:
        parts.append(rest if verb == previous else f"{verb} {rest}")
        previous = verb
    if not parts:
        return "no change"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def suggestion_words(suggestion: Suggestion) -> str:
    """The suggestion's text in the form's words."""
    return render(suggestion, change_words, setting_words)


def applicable(findings) -> tuple[object, Change] | None:
    """The first finding (errors first) whose suggestion holds a change that can be applied as it is."""
    for finding in sort_findings(list(findings)):
        change = finding.suggestion.applicable
        if change is not None:
            return finding, change
    return None


def finding_text(f, key_for: Change | None = None, width: int | None = None) -> Text:
    """One finding; `key_for` is the change the apply key makes, when it is this finding's."""
    icon, style = ICONS.get(f.severity, ("·", ""))
    out = line((f" {icon} ", style), ("  ", ""), (f.title, "bold"), (f"  [{f.code}]", "dim"))
    if f.stage:
        out.append(f"  stage: {f.stage}", style="dim")
    out.append("\n")
    out.append_text(data(f.explanation))
    if f.suggestion.text:
        out.append("\n")
        out.append_text(line(("→ try: ", "bold cyan"), (suggestion_words(f.suggestion), "cyan")))
    if key_for is not None:
        out.append("\n")
        out.append_text(line((f"  {APPLY_KEY}", "bold reverse"), (" applies: ", "bold"),
                             (change_words(key_for), ""), (", and runs again", "")))
    for peer in f.suggestion.peers:
        out.append("\n")
        out.append("  $ ", style="dim")
        out.append_text(command_text(peer.command, width - 4 if width else None, "dim cyan"))
    for ev in f.evidence:
        out.append("\n")
        out.append_text(line(("  evidence ", "dim"), (f"{ev.label}: ", "dim bold"), (ev.value, "yellow")))
    return out


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

    def applicable(self) -> tuple[object, Change] | None:
        """The finding and change the apply key would use now."""
        return applicable(self.findings)

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
        chosen = applicable(items) if final else None
        width = self.scrollable_content_region.width or None
        self._drawn_width = width
        self._body(Text("\n\n").join(
            finding_text(f, chosen[1] if chosen is not None and f is chosen[0] else None, width) for f in items))

    def on_resize(self, event) -> None:
        if self.findings and getattr(self, "_drawn_width", None) != (self.scrollable_content_region.width or None):
            self._render_all(self.final, self.ok)

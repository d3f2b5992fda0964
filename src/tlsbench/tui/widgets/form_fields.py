"""The Compose form's editable fields: one line per option, label on the left (tui.form_model.rows()).

Built unseen once the first screen is up (or when the form is first used), not at launch: these
are most of the workbench's widgets. A field's error is a line mounted under it while it is wrong.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, Switch


from tlsbench.tui.form_model import LABEL_WIDTH, SWITCH_NOTES, FieldSpec, form_hops, form_target, rows, shown_rows
from tlsbench.tui.safe_text import data
from tlsbench.tui.widgets.hop_list import HopList
from tlsbench.tui.widgets.safe_select import SafeSelect


def field_widget(field: FieldSpec, value):
    if field.kind in ("input", "host", "port"):
        return Input(str(value), placeholder=field.placeholder, id=field.wid, compact=True)
    if field.kind == "select":
        return SafeSelect(field.choices, value=value, allow_blank=False, id=field.wid, compact=True)
    return Switch(value=bool(value), id=field.wid)


def field_row(label: str, widget, *, id: str | None = None, note: str | None = None) -> Horizontal:
    """'Label       [widget]' on one line (a label too long for its column gets a line of its own)."""
    long = len(label) >= LABEL_WIDTH
    parts = [Label(label, classes="field-label" + (" -long" if long else "")), widget]
    if note:
        parts.append(Label(note, classes="switch-label"))
    return Horizontal(*parts, classes="field-row" + (" -tall" if long else ""), id=id)


class FormFields(VerticalScroll, can_focus=False):
    """Every field of the form. Read with `values()`, write with `set_values()`.

    Not a focus stop itself: focus goes to its fields, and the focused one is scrolled into view.
    """

    SCOPED_CSS = False  # the rules name #form and the field ids
    DEFAULT_CSS = """
    #form-fields.-unshown { display: none; }
    #form-fields { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    #form .section { color: $text-accent; text-style: bold; height: 1; }
    #form .field-row { height: 1; }
    #form .field-row.-tall { height: 2; layout: vertical; }
    #form .field-label { width: 12; color: $text-muted; }
    #form .field-label.-long { width: 1fr; }
    #form .field-label.second { width: auto; padding: 0 1; background: transparent; }
    #form Input, #form Select { width: 1fr; background: $boost; }
    #form #f-port { width: 8; }
    #form Input:focus, #form Select:focus-within > SelectCurrent { background: $primary; color: $text; }
    #form Input.-marked, #form Select.-marked { background: $error 35%; }
    #form Switch { height: 1; border: none; padding: 0; width: auto; background: $boost; }
    #form Switch:focus { background: $primary; }
    #form Switch.-marked { background: $error 35%; }
    #form .switch-label { width: auto; padding: 0 1; color: $text-muted; }
    #form .field-error { color: $error; height: auto; padding: 0 0 0 12; }
    #form HopList, #form .hop, #form .proxy-fields { height: auto; }
    #form .hop-buttons { height: 1; padding: 0 0 0 12; }
    #form .hop-buttons Button { margin-right: 1; }
    #form #form-run { margin: 1 0 0 12; }
    #form #form-run:focus { background: $primary; color: $text; text-style: bold; }
    #verify-warning { background: $warning 30%; color: $text-warning; padding: 0 1; height: auto; }
    """

    class Ready(Message):
        """The fields are mounted and can be read and written."""

    def __init__(self, values: dict[str, object], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.initial = values  # built with these: no value to set after mounting (tui.form_model.form_values)

    def compose(self) -> ComposeResult:
        for row in rows():
            if row.section is not None:
                yield Static(row.section, classes="section")
                continue
            first = row.fields[0]
            if first.kind == "hops":
                yield HopList(form_hops(self.initial), id="hops")
                continue
            if first.kind == "host":
                host, port = form_target(self.initial)
                with Horizontal(classes="field-row", id=row.rid):
                    yield Label("Host", classes="field-label")
                    yield field_widget(first, host)
                    yield Label("Port", classes="field-label second")
                    yield field_widget(row.fields[1], port)
                continue
            if len(row.fields) == 2:
                second = row.fields[1]
                with Horizontal(classes="field-row", id=row.rid):
                    yield Label(first.label, classes="field-label")
                    yield field_widget(first, self.initial.get(first.name))
                    yield Label(second.label, classes="field-label second")
                    yield field_widget(second, self.initial.get(second.name))
                continue
            yield field_row(first.label, field_widget(first, self.initial.get(first.name)), id=row.rid,
                            note=SWITCH_NOTES.get(first.name))
            if first.name == "verify":
                yield Static(Text("⚠ verification is OFF: any certificate is accepted", style="bold"),
                             id="verify-warning")
        # Enter in a field moves to the next one; here, at the end, Enter (or ctrl+r anywhere) runs.
        yield Button("▶ Run  ctrl+r", id="form-run", compact=True)

    def on_mount(self) -> None:
        # Ready once the children have composed theirs too (a Select fills in its parts after mounting).
        self.call_after_refresh(self._ready)

    def _ready(self) -> None:
        if not self.is_attached:
            return  # the app closed while the fields were being built
        try:
            self.sync_visibility(self.initial)
        except NoMatches:
            self.call_after_refresh(self._ready)
            return
        self.post_message(self.Ready())

    # --- values ------------------------------------------------------------------------------

    def hop_list(self) -> HopList:
        return self.query_one(HopList)

    def values(self) -> dict[str, object]:
        """{option name: the widget's value}; "target" is (host, port text)."""
        out: dict[str, object] = {"target": (self.query_one("#f-host", Input).value,
                                             self.query_one("#f-port", Input).value)}
        for row in rows():
            for field in row.fields:
                if field.kind in ("host", "port", "hops"):
                    continue
                widget: Any = self.query_one(f"#{field.wid}")  # an Input, a Select or a Switch
                out[field.name] = str(widget.value) if isinstance(widget, Select) else widget.value
        return out

    def set_values(self, values: dict[str, object]) -> None:
        try:
            host, port = form_target(values)
            self.query_one("#f-host", Input).value = str(host)
            self.query_one("#f-port", Input).value = str(port)
            for name, value in values.items():
                if name in ("target", "proxies"):
                    continue
                control: Any = self.query_one(f"#f-{name.replace('_', '-')}")  # an Input, a Select or a Switch
                control.value = bool(value) if isinstance(control, Switch) else value
            self.hop_list().load(list(form_hops(values)))
        except NoMatches:  # a Select still composing its parts: once the screen has refreshed
            self.call_after_refresh(self.set_values, values)
            return
        self.sync_visibility(values)

    def sync_visibility(self, values: dict[str, object] | None = None) -> None:
        values = values if values is not None else self.values()
        applies = shown_rows(values)
        for row in self.query(".field-row"):
            if row.id and row.id.startswith("row-") and row.parent is self:
                row.display = row.id in applies
        self.query_one("#verify-warning").display = bool(values.get("tls")) and values.get("verify") == "off"
        self.hop_list().sync()

    # --- errors ------------------------------------------------------------------------------

    def mark(self, wid: str, message: str) -> None:
        widget = self.query_one(f"#{wid}")
        widget.add_class("-marked")
        row = next((a for a in widget.ancestors if isinstance(a, Widget) and a.has_class("field-row")), widget)
        text = data(f"✘ {message}", keep_newlines=False)
        existing = self.query(f"#{wid}-error")
        if existing:
            existing.first(Static).update(text)
        elif isinstance(row.parent, Widget):
            row.parent.mount(Static(text, id=f"{wid}-error", classes="field-error"), after=row)

    def unmark(self, wid: str) -> None:
        for widget in self.query(f"#{wid}.-marked"):
            widget.remove_class("-marked")
        self.query(f"#{wid}-error").remove()

    def invalid(self) -> dict[str, str]:
        """{widget id: shown reason} for every marked field."""
        out = {}
        for widget in self.query(".-marked"):
            assert widget.id is not None  # marked by its id
            error = self.query(f"#{widget.id}-error")
            out[widget.id] = str(error.first(Static).render()) if error else ""
        return out

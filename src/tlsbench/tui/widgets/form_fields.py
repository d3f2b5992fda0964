"""The Compose form's editable fields: one line per field, label on the left (tui.form_model.LAYOUT).

Built the first time the form is used (F7, Tab or a click into it), not at launch: these are most
of the workbench's widgets. A field's error is a line mounted under it while it is wrong.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Input, Label, Select, Static, Switch

from tlsbench.tui.form_model import CHOICES, EMPTY, LAYOUT, Field, hidden_rows
from tlsbench.tui.safe_text import data
from rich.text import Text


def _widget(field: Field, value):
    if field.kind in ("input", "password"):
        return Input(str(value), placeholder=field.placeholder, id=field.wid, compact=True,
                     password=field.kind == "password")
    if field.kind == "select":
        return Select(CHOICES[field.wid], value=value, allow_blank=False, id=field.wid, compact=True)
    return Switch(value=bool(value), id=field.wid)


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
    #form .field-label { width: 12; color: $text-muted; }
    #form .field-label.second { width: auto; padding: 0 1; background: transparent; }
    #form Input, #form Select { width: 1fr; background: $boost; }
    #form #f-port { width: 8; }
    #form Input:focus, #form Select:focus-within { background: $primary 25%; }
    #form Input.-marked, #form Select.-marked { background: $error 35%; }
    #form Switch { height: 1; border: none; padding: 0; width: auto; background: $boost; }
    #form Switch:focus { background: $primary 25%; }
    #form Switch.-marked { background: $error 35%; }
    #form .switch-label { width: auto; padding: 0 1; color: $text-muted; }
    #form .field-error { color: $error; height: auto; padding: 0 0 0 12; }
    #verify-warning { background: $warning 30%; color: $text-warning; padding: 0 1; height: auto; }
    """

    class Ready(Message):
        """The fields are mounted and can be read and written."""

    def __init__(self, values: dict[str, object] | None = None, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.initial = dict(EMPTY, **(values or {}))  # built with these: no value to set after mounting

    def compose(self) -> ComposeResult:
        for row in LAYOUT:
            if row[0] == "section":
                yield Static(row[1], classes="section")
                continue
            first = row[0]
            with Horizontal(classes="field-row", id=first.row or None):
                for i, field in enumerate(row):
                    yield Label(field.label, classes="field-label" if i == 0 else "field-label second")
                    yield _widget(field, self.initial[field.wid])
                    if field.kind == "switch":
                        yield Label("on: TLS, off: plain TCP", classes="switch-label")
            if first.wid == "f-verify":
                yield Static(Text("⚠ verification is OFF: any certificate is accepted", style="bold"),
                             id="verify-warning")

    def on_mount(self) -> None:
        self.sync_visibility(self.initial)
        # Ready once the children have composed theirs too (a Select fills in its parts after mounting).
        self.call_after_refresh(self.post_message, self.Ready())

    # --- values ------------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for wid in EMPTY:
            widget = self.query_one(f"#{wid}")
            out[wid] = widget.value if not isinstance(widget, Select) else str(widget.value)
        return out

    def set_values(self, values: dict[str, object]) -> None:
        try:
            for wid, value in values.items():
                widget = self.query_one(f"#{wid}")
                if isinstance(widget, Switch):
                    widget.value = bool(value)
                else:
                    widget.value = value  # type: ignore[assignment]
        except NoMatches:  # a Select still composing its parts: once the screen has refreshed
            self.call_after_refresh(self.set_values, values)
            return
        self.sync_visibility(values)

    def sync_visibility(self, values: dict[str, object] | None = None) -> None:
        values = values if values is not None else self.values()
        hidden = hidden_rows(values)
        for row in self.query(".field-row"):
            if row.id:
                row.display = row.id not in hidden
        self.query_one("#verify-warning").display = bool(values["f-tls"]) and values["f-verify"] == "off"

    # --- errors ------------------------------------------------------------------------------

    def mark(self, wid: str, message: str) -> None:
        widget = self.query_one(f"#{wid}")
        widget.add_class("-marked")
        row = widget.parent
        text = data(f"✘ {message}", keep_newlines=False)
        existing = self.query(f"#{wid}-error")
        if existing:
            existing.first(Static).update(text)
        elif row is not None:
            self.mount(Static(text, id=f"{wid}-error", classes="field-error"), after=row)

    def unmark(self, wid: str) -> None:
        for widget in self.query(f"#{wid}.-marked"):
            widget.remove_class("-marked")
        self.query(f"#{wid}-error").remove()

    def invalid(self) -> dict[str, str]:
        """{widget id: shown reason} for every marked field."""
        out = {}
        for widget in self.query(".-marked"):
            error = self.query(f"#{widget.id}-error")
            out[widget.id] = str(error.first(Static).render()) if error else ""
        return out

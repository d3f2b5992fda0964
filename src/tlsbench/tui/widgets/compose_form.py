"""The Compose form: every connection option, validated in place through `build_spec`.

Until it is first used the form is drawn by a single widget (a read-only preview of the same
rows), so the workbench opens quickly; Tab, a click or F7 builds the editable fields in its place
(tui.widgets.form_fields). `build()` and `load_spec()` work in both states: before the fields
exist the form holds the spec it was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget

from tlsbench.tui.actions import bindings
from tlsbench.errors import InputError
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.tui.form_model import (LABEL_WIDTH, SWITCH_NOTES, choice_label, field_widget, form_hops, form_target,
                                     form_values, has_controls, rows, shown, shown_rows, spec_from_form)
from tlsbench.tui.safe_text import data

if TYPE_CHECKING:
    from tlsbench.engine.route.proxies import ProxySpec
    from tlsbench.tui.widgets.form_fields import FormFields

FIXED_WIDTHS = {"f-port": 8}  # as in the form's CSS; other fields share the rest of the row


def _cell(field, value, width: int, style) -> Text:
    if field.kind == "select":
        text = data(choice_label(field.choices, value), keep_newlines=False)
        text.truncate(max(0, width - 3))
        text.pad_right(width - text.cell_len - 2)
        text.append(" ▼", style="bold")  # its own span: placed by cell in an SVG screenshot too
    elif field.kind == "switch":
        text = Text("on " if value else "off", style="bold" if value else "dim")
    elif value:
        text = data("•" * len(str(value)) if field.kind == "password" else value, keep_newlines=False)
    else:
        text = Text(field.placeholder, style="dim italic")
    text.truncate(width, overflow="ellipsis")
    text.pad_right(width - text.cell_len)
    text.stylize(style)
    return text


def _line(labels_fields, width: int, value_style, note: str = "") -> Text:
    """One row: each (label, field, value) in turn; the fields without a fixed width share the rest."""
    fixed = sum(FIXED_WIDTHS.get(f.wid, 3 if f.kind == "switch" else 0) for _, f, _ in labels_fields)
    flexible = [f for _, f, _ in labels_fields if f.wid not in FIXED_WIDTHS and f.kind != "switch"]
    room = max(0, width - sum(len(label) for label, _, _ in labels_fields) - fixed - len(note))
    text = Text(no_wrap=True, overflow="ellipsis")
    for label, field, value in labels_fields:
        text.append(label, style="dim")
        share = FIXED_WIDTHS.get(field.wid) or (3 if field.kind == "switch" else room // max(1, len(flexible)))
        text.append_text(_cell(field, value, share, value_style))
    if note:
        text.append(note, style="dim")
    return text


def preview_lines(values: dict[str, object], width: int = 44, value_style="",
                  section_style="bold") -> list[tuple[str | None, Text]]:
    """(widget id of the line's first field or None, the line) for each row the form shows, laid out
    as the editable fields are: label column, then the fields sharing the rest of the row."""
    from tlsbench.tui.form_model import FieldSpec
    from tlsbench.tui.widgets.hop_list import HOP_FIELDS, KINDS, hop_title, hop_values, suffix

    applies = shown_rows(values)
    out: list[tuple[str | None, Text]] = []
    for row in rows():
        if row.section is not None:
            out.append((None, Text(row.section, style=section_style)))
            continue
        first = row.fields[0]
        if first.kind == "hops":
            hops: list[ProxySpec | None] = list(form_hops(values)) or [None]
            for index, hop in enumerate(hops, 1):
                hv = hop_values(hop)
                s = suffix(index)
                kinds = tuple(([("Direct", "direct")] if index == 1 else []) + KINDS)
                kind_field = FieldSpec("proxies", f"f-route{s}", hop_title(index), "select", choices=kinds)
                out.append((kind_field.wid, _line([(hop_title(index).ljust(LABEL_WIDTH), kind_field, hv["route"])],
                                                  width, value_style)))
                if hop is None:
                    continue
                for name, label, placeholder in HOP_FIELDS:
                    if name == "proxy-cafile" and not hop.declared.tls:
                        continue
                    field = FieldSpec("proxies", f"f-{name}{s}", label, "password" if name == "proxy-password"
                                      else "input", placeholder)
                    out.append((field.wid, _line([(label.ljust(LABEL_WIDTH), field, hv[name])], width, value_style)))
            continue
        if row.rid not in applies:
            continue
        if first.kind == "host":
            host, port = form_target(values)
            parts: list[tuple[str, FieldSpec, object]] = [("Host".ljust(LABEL_WIDTH), first, host),
                                                          (" Port ", row.fields[1], port)]
        else:
            parts = [(first.label.ljust(LABEL_WIDTH), first, values.get(first.name))]
            if len(row.fields) == 2:
                second = row.fields[1]
                parts.append((f" {second.label} ", second, values.get(second.name)))
        note = f" {SWITCH_NOTES[first.name]}" if first.name in SWITCH_NOTES else ""
        if len(first.label) >= LABEL_WIDTH:  # as the fields do: the label on a line of its own
            out.append((first.wid, Text(first.label, style="dim")))
            parts = [("", first, values.get(first.name))]
        out.append((first.wid, _line(parts, width, value_style, note)))
    return out


# Text fields whose value decides whether another row applies (a DoT or DoH server: "Unverified").
TEXT_SHOWS_ROWS = frozenset({"f-dns-servers", "f-doh-url"})


class FormPreview(Widget, can_focus=True):
    """The form drawn read-only: one widget standing for all the fields until the form is used."""

    DEFAULT_CSS = "FormPreview { height: auto; padding: 0 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: dict[str, object] = form_values(None)
        self._lines: list[tuple[str | None, Text]] | None = None  # drawn when shown (not on a small screen)

    @property
    def lines(self) -> list[tuple[str | None, Text]]:
        if self._lines is None:
            self._lay_out(self.content_size.width or 44)
        assert self._lines is not None
        return self._lines

    def _lay_out(self, width: int) -> None:
        self._lines = preview_lines(self.values, width, *self._styles())
        self._lines_width: int | None = width

    def _styles(self) -> tuple:
        # The fields' colours ($boost behind a value, $text-accent for a section), blended here
        # because a Rich style cannot be translucent.
        from rich.style import Style
        from textual.color import Color

        base = self.background_colors[1]
        key = (self.app.theme, base)
        if getattr(self, "_styles_for", None) != key:
            variables = self.app.get_css_variables()
            self._style_pair = (Style(bgcolor=(base + Color.parse(variables["boost"])).rich_color),
                                Style(color=(base + Color.parse(variables["text-accent"])).rich_color, bold=True))
            self._styles_for = key
        return self._style_pair

    def show(self, values: dict[str, object]) -> None:
        self.values = values
        self._lines = None
        self._lines_width = None
        self.refresh(layout=True)

    def render(self) -> Text:
        width = self.content_size.width or 44
        if self._lines is None or getattr(self, "_lines_width", None) != width:
            self._lay_out(width)
        return Text("\n").join(text for _, text in self.lines)

    def get_content_height(self, container, viewport, width: int) -> int:
        # Laid out at the width it is being given, which render() then finds already done.
        if self._lines is None or getattr(self, "_lines_width", None) != width:
            self._lay_out(width)
        return len(self.lines)

    def on_focus(self) -> None:
        form = self.parent
        if isinstance(form, ComposeForm):
            form.activate()

    def on_click(self, event: events.Click) -> None:
        form = self.parent
        if isinstance(form, ComposeForm) and 0 <= event.y < len(self.lines):
            form.activate(self.lines[event.y][0])


class ComposeForm(Vertical):
    """The connection being composed. `build()` returns a ConnectionSpec or raises InputError."""

    BINDINGS = bindings("form")

    class Ready(Message):
        """The editable fields exist: the form can be typed into."""

    class Submitted(Message):
        """The Run button: run what is composed."""

    class Leave(Message):
        """Escape in the form: go back to the results."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spec: ConnectionSpec | None = None
        self.active = False  # the editable fields are shown (the preview is gone)
        self.ready = True  # kept for callers that wait for the form: it can always build and load
        self._fields: FormFields | None = None
        self._built_for: ConnectionSpec | None = None
        self._fields_ready = False
        self._want_active = False
        self._pending_focus: str | None = None
        self._pending_marks: list[InputError] = []

    def compose(self) -> ComposeResult:
        yield FormPreview(id="form-preview")

    def on_mount(self) -> None:
        self.border_title = "Compose"

    # --- becoming editable ------------------------------------------------------------------------

    def prebuild(self) -> None:
        """Build the fields unseen (the screen calls this once it has been idle a moment after launch),
        so that opening the form later is immediate. A timer may fire as the app quits: then nothing."""
        if self._fields is None and self.is_attached:
            self._mount_fields()

    def activate(self, focus: str | None = None) -> None:
        """Show the editable fields (building them if needed) and focus `focus`, else the first field."""
        if self.active:
            self._focus_field(focus)
            return
        self._pending_focus = focus or self._pending_focus
        self._want_active = True
        if self._fields is None:
            self._mount_fields()
        elif self._fields_ready:
            self._show_fields()

    def _mount_fields(self) -> None:
        from tlsbench.tui.widgets.form_fields import FormFields

        self._fields = FormFields(form_values(self.spec), id="form-fields", classes="-unshown")
        self._built_for = self.spec
        self.mount(self._fields)

    def on_form_fields_ready(self, event) -> None:
        event.stop()
        self._fields_ready = True
        if self.spec is not self._built_for:  # composed while they were being built
            self._built.set_values(form_values(self.spec))
        if self._want_active:
            self._show_fields()

    def _show_fields(self) -> None:
        self.active = True
        self._built.remove_class("-unshown")
        self.query("#form-preview").remove()
        focus_target = self._pending_focus
        self._pending_focus = None
        for error in self._pending_marks:
            focus_target = self._mark(error)
        self._pending_marks.clear()
        self._focus_field(focus_target)
        self.post_message(self.Ready())

    def _focus_field(self, wid: str | None) -> None:
        if not self.active:
            return
        target = self.query_one(f"#{wid or 'f-host'}")
        target.focus()

    @property
    def _built(self) -> FormFields:
        """The editable fields, for what runs only once they have been mounted."""
        assert self._fields is not None
        return self._fields

    @property
    def fields(self):
        return self._fields if self.active else None

    # --- reading and writing ------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        return self._built.values() if self.active else form_values(self.spec)

    def build(self) -> ConnectionSpec:
        """Validate and build the spec; raises InputError whose `field` names the spec field."""
        if not self.active:
            if self.spec is None:
                raise InputError("no connection composed yet: choose a profile, or F7 and type a host", field="host")
            for i, hop in enumerate(self.spec.proxies, 1):
                if hop.needs_password:
                    raise InputError(f"proxy password: type it here (it is never saved) or set ${hop.password_env}",
                                     field=f"proxy_password_input#{i}")
            return self.spec
        return spec_from_form(self._built.values(), self._built.hop_list().read())

    def checked_spec(self) -> ConnectionSpec | None:
        """The spec, errors cleared; or None with the bad field marked (and the form opened on it)."""
        self.clear_errors()
        try:
            spec = self.build()
        except InputError as exc:
            self.mark_invalid(exc)
            return None
        self.spec = spec
        return spec

    def load_spec(self, spec: ConnectionSpec | None) -> None:
        """Fill the form from a spec (None empties it). The password field is always left empty."""
        self.spec = spec
        self.clear_errors()
        values = form_values(spec)
        if self._fields_ready:
            self._built.set_values(values)
        if not self.active:
            preview = self.query("#form-preview")
            if preview:
                preview.first(FormPreview).show(values)

    # --- errors ------------------------------------------------------------------------------------

    def mark_invalid(self, error: InputError) -> str:
        """Mark the field named by the error (opening the form if needed); returns its widget id."""
        wid = field_widget(error.field)
        if not self.active:
            self._pending_marks.append(error)
            self.activate(wid)
            return wid
        return self._mark(error)

    def _mark(self, error: InputError) -> str:
        wid = field_widget(error.field)
        if not self._built.query(f"#{wid}"):
            wid = "f-host"
        self._built.mark(wid, str(error))
        self._focus_field(wid)
        return wid

    def clear_errors(self) -> None:
        self._pending_marks.clear()
        if self.active:
            for wid in list(self._built.invalid()):
                self._built.unmark(wid)

    def invalid_fields(self) -> dict[str, str]:
        """{widget id: shown reason} for every marked field (used by tests and the status line)."""
        return self._built.invalid() if self.active else {}

    def _recheck(self) -> None:
        """After an edit: a marked field whose value is now valid loses its mark at once."""
        marked = self.invalid_fields()
        if not marked:
            return
        try:
            spec_from_form(self._built.values(), self._built.hop_list().read())
            still = None
        except InputError as exc:
            still = field_widget(exc.field)
        for wid in marked:
            if wid != still:
                self._built.unmark(wid)

    # --- reacting to edits -------------------------------------------------------------------------

    def on_input_changed(self, event) -> None:
        if has_controls(event.value):
            # A pasted control character would reach the terminal as is: show it escaped instead.
            event.input.value = shown(event.value)
            return
        if self.active and event.input.id in TEXT_SHOWS_ROWS:
            self._built.sync_visibility()
        self._recheck()

    def on_input_submitted(self, event) -> None:
        """Enter in a field moves to the next one, as in a paper form; the Run button (or ctrl+r) runs."""
        event.stop()
        self.screen.focus_next()

    def on_select_changed(self, event) -> None:
        if self.active:
            self._built.sync_visibility()
            self._recheck()

    def on_button_pressed(self, event) -> None:  # Run, + hop / − hop
        if event.button.id == "form-run":
            event.stop()
            self.post_message(self.Submitted())
        elif self.active:
            self.call_after_refresh(self._built.sync_visibility)

    def on_switch_changed(self, event) -> None:
        if self.active:
            self._built.sync_visibility()
            self._recheck()

    def action_leave(self) -> None:
        self.post_message(self.Leave())


__all__ = ["ComposeForm", "FormPreview"]

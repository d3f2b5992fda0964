"""The Compose form: every connection option, validated in place through `build_spec`."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from tlsbench.engine.errors import InputError
from tlsbench.engine.options import GROUP_TITLES, OPTIONS, escape, owner, spec_from_values, unescape, values_of
from tlsbench.engine.spec import ConnectionSpec, check_host, format_hostport, parse_port
from tlsbench.engine.visible import visible
from tlsbench.tui.deferred import Deferred
from tlsbench.tui.safe_text import data
from tlsbench.tui.widgets.hop_list import HopList

def widget_id(name: str) -> str:
    """The form widget of an option: "tls_min" -> "f-tls-min"."""
    return "f-" + name.replace("_", "-")


def field_widget(field: str | None) -> str:
    """The widget an InputError's field points at (target errors at the host or the port)."""
    if not field:
        return "f-host"
    if field in ("target port", "port"):
        return "f-port"
    base, _, hop = field.partition("#")
    hop_suffix = f"-{hop}" if hop and hop != "1" else ""
    for prefix in ("proxy_password_input", "proxy_password", "proxy_kind", "proxy_user", "proxy_cafile", "proxy"):
        if base.startswith(prefix):
            wid = {"proxy_password_input": "f-proxy-password", "proxy_password": "f-proxy-password-env",
                   "proxy_kind": "f-route", "proxy_user": "f-proxy-user", "proxy_cafile": "f-proxy-cafile",
                   "proxy": "f-proxy"}[prefix]
            return wid + (hop_suffix or base[len(prefix):])
    option = owner(field)
    if option is None or option.name == "target":
        return "f-host"
    if option.name == "proxies":
        return "f-proxy"
    return widget_id(option.name)


def _has_controls(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def _shown(text: str) -> str:
    """The text for an Input: control characters made visible (the rest untouched)."""
    return visible(text, keep_newlines=False) if _has_controls(text) else text


def _row(label: str, widget: Widget, *, id: str | None = None) -> Vertical:
    return Vertical(Label(label, classes="field-label"), widget,
                    Static("", id=f"{widget.id}-error", classes="field-error"), classes="field", id=id)


class FormFields(Vertical):
    """The form's fields; mounted lazily (after the first frame) because they are many widgets."""

    class Ready(Message):
        """The fields are mounted and can be read and written."""

    def __init__(self, build: Callable[[], ComposeResult], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._build = build

    def compose(self) -> ComposeResult:
        yield from self._build()

    def on_mount(self) -> None:
        self.post_message(self.Ready())


class ComposeForm(VerticalScroll):
    """The connection being composed. `build()` returns a ConnectionSpec or marks the bad field.

    Its fields appear one frame after the workbench (tui.deferred.Deferred), so the first frame is
    quick; `load_spec()` before then is remembered, and `Ready` is posted once they exist.
    """

    class Ready(Message):
        """The form can be used: fields mounted and any pending spec loaded."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ready = False
        self._pending: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Deferred(lambda: FormFields(self._fields, id="form-fields"))

    def on_form_fields_ready(self, event: FormFields.Ready) -> None:
        event.stop()
        self.ready = True
        if self._pending is not None:
            self.load_spec(self._pending[0])
            self._pending = None
        self.sync_visibility()
        self.post_message(self.Ready())

    def _fields(self) -> ComposeResult:
        """One row per declared option (engine/options.py), in its group's section."""
        section = None
        for option in OPTIONS:
            if option.group != section and option.name != "pin":
                section = option.group
                yield Static(GROUP_TITLES[section], classes="section")
            if option.name == "target":
                with Horizontal(classes="field-pair"):
                    yield _row("Host", Input(placeholder="example.com", id="f-host", compact=True), id="row-host")
                    yield _row("Port", Input(placeholder="443", id="f-port", compact=True), id="row-port")
                continue
            field = option.field
            if field is None:
                continue
            wid = widget_id(option.name)
            if field.widget == "hops":
                yield HopList(id="hops")
            elif field.widget == "switch":
                with Horizontal(classes="switch-row"):
                    yield Switch(value=bool(option.default), id=wid)
                    yield Label(field.label, classes="switch-label")
                yield Static("", id=f"{wid}-error", classes="field-error")
            elif field.widget == "select":
                first = field.choices[0][1]
                yield _row(field.label, Select(field.choices, value=first, allow_blank=False, id=wid, compact=True),
                           id=f"row-{option.name}")
            else:
                yield _row(field.label, Input(placeholder=field.placeholder, id=wid, compact=True),
                           id=f"row-{option.name}")
            if option.name == "verify":
                yield Static(Text("⚠ verification is OFF: any certificate is accepted", style="bold"),
                             id="verify-warning")

    def on_mount(self) -> None:
        self.border_title = "Compose"

    # --- reading and writing ---------------------------------------------------------------------

    def values(self) -> dict:
        """The form's value set (engine/options.py), as typed; the target as host and port."""
        host = self.query_one("#f-host", Input).value.strip()
        port = self.query_one("#f-port", Input).value.strip()
        values: dict = {"target": (host, port)}
        for option in OPTIONS:
            field = option.field
            if field is None or field.widget == "hops":
                continue
            widget = self.query_one(f"#{widget_id(option.name)}")
            if isinstance(widget, Switch):
                values[option.name] = widget.value
            elif isinstance(widget, Select):
                values[option.name] = str(widget.value)
            else:
                text = widget.value if option.name == "send" else widget.value.strip()
                values[option.name] = text or None
        return values

    def build(self) -> ConnectionSpec:
        """Validate and build the spec; raises InputError whose `field` names the spec field."""
        values = self.values()
        host, port_text = values.pop("target")
        check_host(host, "host")
        port = parse_port(port_text, "port")
        values["target"] = format_hostport(host, port)
        values["proxies"] = self.query_one(HopList).read()
        if values.get("alpn"):
            values["alpn"] = [p.strip() for p in values["alpn"].split(",")]
        if values.get("app") == "send":
            if not values.get("send"):
                raise InputError("text to send is empty", field="send")
            values["send"] = unescape(values["send"])
        spec = spec_from_values(values)
        for i, hop in enumerate(spec.proxies, 1):
            if hop.needs_password:
                # Profiles never hold the password: ask for it here rather than send an empty one.
                raise InputError(f"proxy password: type it here (it is never saved) or set ${hop.password_env}",
                                 field=f"proxy_password_input#{i}")
        return spec

    def load_spec(self, spec: ConnectionSpec | None) -> None:
        """Fill the form from a spec (None empties it). Passwords are always left empty."""
        if not self.ready:
            self._pending = (spec,)
            return
        self.clear_errors()
        values = values_of(spec) if spec is not None else {o.name: o.default for o in OPTIONS}
        self.query_one("#f-host", Input).value = _shown(spec.host) if spec else ""
        self.query_one("#f-port", Input).value = str(spec.port) if spec else ""
        self.query_one(HopList).load(list(spec.proxies) if spec else [])
        for option in OPTIONS:
            field = option.field
            if field is None or field.widget == "hops":
                continue
            value = values.get(option.name)
            widget = self.query_one(f"#{widget_id(option.name)}")
            if isinstance(widget, Switch):
                widget.value = bool(value)
            elif isinstance(widget, Select):
                choices = {v for _, v in field.choices}
                text = "any" if value is None else str(value)
                widget.value = text if text in choices else field.choices[0][1]
            else:
                if option.name == "alpn":
                    value = ",".join(value) if value else None
                elif option.name == "send" and value:
                    value = escape(value)
                elif option.name == "timeout":
                    value = f"{value:g}"
                elif option.name == "path" and value == "/":
                    value = None
                widget.value = "" if value is None else _shown(str(value))
        self.sync_visibility()

    # --- errors ------------------------------------------------------------------------------------

    def mark_invalid(self, error: InputError) -> str:
        """Mark the field named by the error; returns the widget id that was marked."""
        wid = field_widget(error.field)
        if not self.query(f"#{wid}"):
            wid = "f-host"
        widget = self.query_one(f"#{wid}")
        widget.add_class("-invalid")
        message = self.query_one(f"#{wid}-error", Static)
        message.update(data(f"✘ {error}", keep_newlines=False))
        message.add_class("-shown")
        widget.focus()
        return wid

    def clear_errors(self) -> None:
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")
        for message in self.query(".field-error.-shown"):
            message.update("")
            message.remove_class("-shown")

    def invalid_fields(self) -> dict[str, str]:
        """{widget id: shown reason} for every marked field (used by tests and the status line)."""
        return {w.id: str(self.query_one(f"#{w.id}-error", Static).render()) for w in self.query(".-invalid")}

    # --- reacting to edits -------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if _has_controls(event.value):
            # A pasted control character would reach the terminal as is: show it escaped instead.
            event.input.value = _shown(event.value)
            return
        if event.input.has_class("-invalid"):
            event.input.remove_class("-invalid")
            err = self.query_one(f"#{event.input.id}-error", Static)
            err.update("")
            err.remove_class("-shown")

    def on_select_changed(self, event: Select.Changed) -> None:
        self.sync_visibility()

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self.sync_visibility()

    def on_button_pressed(self, event) -> None:
        self.call_after_refresh(self.sync_visibility)

    def sync_visibility(self) -> None:
        if not self.ready:
            return
        self.query_one(HopList).sync()
        values = self.values()
        for option in OPTIONS:
            field = option.field
            if field is None or field.visible is None:
                continue
            row = self.query(f"#row-{option.name}")
            if row:
                row.first().display = bool(field.visible(values))
        self.query_one("#verify-warning").display = bool(values.get("tls")) and values.get("verify") == "off"

"""The Compose form: every connection option, validated in place through `build_spec`."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from tlsbench.commands.arguments import unescape_send
from tlsbench.engine.checks import escape_text
from tlsbench.engine.errors import InputError
from tlsbench.engine.spec import PROXY_PASSWORD_ENV, ConnectionSpec, build_spec, check_host, format_hostport, parse_port
from tlsbench.engine.visible import visible
from tlsbench.tui.deferred import Deferred
from tlsbench.tui.safe_text import data

ROUTES = [("Direct", "direct"), ("SOCKS4", "socks4"), ("SOCKS4a (proxy resolves)", "socks4a"),
          ("SOCKS5", "socks5"), ("SOCKS5 + remote DNS", "socks5h")]
SNI_MODES = [("from host", "host"), ("override", "override"), ("none", "none")]
VERSIONS = [("any", "any"), ("1.0", "1.0"), ("1.1", "1.1"), ("1.2", "1.2"), ("1.3", "1.3")]
VERIFY = [("system store", "system"), ("CA file", "cafile"), ("off (insecure)", "off")]
APPS = [("none", "none"), ("HTTP GET", "http"), ("send text", "send")]

# InputError.field -> the widget that holds it
FIELD_WIDGETS = {
    "target": "f-host", "host": "f-host", "port": "f-port", "target port": "f-port", "pin": "f-pin",
    "proxy_kind": "f-route", "proxy": "f-proxy", "proxy port": "f-proxy", "proxy_user": "f-proxy-user",
    "proxy_password": "f-proxy-password-env", "proxy_password_input": "f-proxy-password", "tls": "f-tls", "sni": "f-sni", "tls-min": "f-tls-min",
    "tls_min": "f-tls-min", "tls-max": "f-tls-max", "ciphers": "f-ciphers", "alpn": "f-alpn",
    "cafile": "f-cafile", "cert": "f-cert", "key": "f-key", "timeout": "f-timeout", "send": "f-send",
}


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
        yield Static("Target", classes="section")
        with Horizontal(classes="field-pair"):
            yield _row("Host", Input(placeholder="example.com", id="f-host", compact=True), id="row-host")
            yield _row("Port", Input(placeholder="443", id="f-port", compact=True, type="text"), id="row-port")
        yield _row("Pinned IP (instead of DNS)", Input(placeholder="optional", id="f-pin", compact=True))
        yield Static("Route", classes="section")
        yield _row("Route", Select(ROUTES, value="direct", allow_blank=False, id="f-route", compact=True))
        with Vertical(id="proxy-fields"):
            yield _row("Proxy HOST:PORT", Input(placeholder="127.0.0.1:1080", id="f-proxy", compact=True))
            yield _row("Proxy user", Input(placeholder="optional", id="f-proxy-user", compact=True))
            yield _row("Proxy password (never saved)",
                       Input(placeholder="or set the variable below", password=True, id="f-proxy-password", compact=True))
            yield _row("Password env variable", Input(placeholder="TLSBENCH_PROXY_PASSWORD",
                                                      id="f-proxy-password-env", compact=True))
        yield Static("TLS", classes="section")
        with Horizontal(classes="switch-row"):
            yield Switch(value=True, id="f-tls")
            yield Label("TLS handshake", classes="switch-label")
        yield Static("", id="f-tls-error", classes="field-error")
        with Vertical(id="tls-fields"):
            yield _row("SNI", Select(SNI_MODES, value="host", allow_blank=False, id="f-sni-mode", compact=True))
            yield _row("SNI name", Input(placeholder="server name to send", id="f-sni", compact=True), id="row-sni")
            with Horizontal(classes="field-pair"):
                yield _row("Min version", Select(VERSIONS, value="any", allow_blank=False, id="f-tls-min", compact=True))
                yield _row("Max version", Select(VERSIONS, value="any", allow_blank=False, id="f-tls-max", compact=True))
            yield _row("Ciphers (OpenSSL list)", Input(placeholder="default", id="f-ciphers", compact=True))
            yield _row("ALPN", Input(placeholder="e.g. h2,http/1.1", id="f-alpn", compact=True))
            yield _row("Verification", Select(VERIFY, value="system", allow_blank=False, id="f-verify", compact=True))
            yield Static(Text("⚠ verification is OFF: any certificate is accepted", style="bold"),
                         id="verify-warning")
            yield _row("CA file", Input(placeholder="/path/to/ca.pem", id="f-cafile", compact=True), id="row-cafile")
            yield _row("Client certificate", Input(placeholder="optional PEM", id="f-cert", compact=True))
            yield _row("Client key", Input(placeholder="optional PEM", id="f-key", compact=True))
        yield Static("Other", classes="section")
        yield _row("Timeout per stage (s)", Input(value="10", id="f-timeout", compact=True))
        yield _row("Application", Select(APPS, value="none", allow_blank=False, id="f-app", compact=True))
        yield _row("Text to send (\\r \\n \\t \\\\ \\xHH)", Input(placeholder="EHLO x\\r\\n", id="f-send", compact=True), id="row-send")

    def on_mount(self) -> None:
        self.border_title = "Compose"

    # --- reading and writing ---------------------------------------------------------------------

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def _select(self, wid: str) -> str:
        return str(self.query_one(f"#{wid}", Select).value)

    def _opt(self, wid: str) -> str | None:
        return self._value(wid) or None

    def build(self) -> ConnectionSpec:
        """Validate and build the spec; raises InputError whose `field` names the spec field."""
        host = self._value("f-host")
        check_host(host, "host")
        port = parse_port(self._value("f-port"), "port")
        route = self._select("f-route")
        kind = None if route == "direct" else route
        tls = self.query_one("#f-tls", Switch).value
        kwargs: dict = {}
        if kind:
            password = self.query_one("#f-proxy-password", Input).value
            kwargs.update(proxy_kind=kind, proxy=self._value("f-proxy"), proxy_user=self._opt("f-proxy-user"),
                          proxy_password=password or None, proxy_password_env=self._opt("f-proxy-password-env"))
        if tls:
            sni_mode = self._select("f-sni-mode")
            if sni_mode == "override" and not self._value("f-sni"):
                raise InputError("SNI name is empty (choose 'from host' or 'none', or type a name)", field="sni")
            verify = self._select("f-verify")
            if verify == "cafile" and not self._value("f-cafile"):
                raise InputError("CA file path is empty", field="cafile")
            lo, hi = self._select("f-tls-min"), self._select("f-tls-max")
            kwargs.update(sni=self._value("f-sni") if sni_mode == "override" else None,
                          no_sni=sni_mode == "none", tls_min=None if lo == "any" else lo,
                          tls_max=None if hi == "any" else hi, ciphers=self._opt("f-ciphers"),
                          alpn=self._opt("f-alpn"), cafile=self._opt("f-cafile") if verify == "cafile" else None,
                          insecure=verify == "off", cert=self._opt("f-cert"), key=self._opt("f-key"))
        app = self._select("f-app")
        if app == "send" and not self.query_one("#f-send", Input).value:
            raise InputError("text to send is empty", field="send")
        spec = build_spec(format_hostport(host, port), pin=self._opt("f-pin"), tls=tls,
                          timeout=self._value("f-timeout") or "10", http=app == "http",
                          send=unescape_send(self.query_one("#f-send", Input).value) if app == "send" else None,
                          **kwargs)
        proxy = spec.proxy
        if proxy and proxy.needs_password:
            # Profiles never hold the password: ask for it here rather than send an empty one.
            raise InputError(f"proxy password: type it here (it is never saved) or set ${proxy.password_env}",
                             field="proxy_password_input")
        return spec

    def load_spec(self, spec: ConnectionSpec | None) -> None:
        """Fill the form from a spec (None empties it). The password field is always left empty."""
        if not self.ready:
            self._pending = (spec,)
            return

        def put(wid: str, value) -> None:
            self.query_one(f"#{wid}", Input).value = "" if value is None else _shown(str(value))

        def choose(wid: str, value: str) -> None:
            self.query_one(f"#{wid}", Select).value = value

        self.clear_errors()
        if spec is None:
            for wid in ("f-host", "f-port", "f-pin", "f-proxy", "f-proxy-user", "f-proxy-password",
                        "f-proxy-password-env", "f-sni", "f-ciphers", "f-alpn", "f-cafile", "f-cert", "f-key",
                        "f-send"):
                put(wid, None)
            put("f-timeout", "10")
            for wid, value in (("f-route", "direct"), ("f-sni-mode", "host"), ("f-tls-min", "any"),
                               ("f-tls-max", "any"), ("f-verify", "system"), ("f-app", "none")):
                choose(wid, value)
            self.query_one("#f-tls", Switch).value = True
            self.sync_visibility()
            return
        put("f-host", spec.host)
        put("f-port", spec.port)
        put("f-pin", spec.pin)
        p = spec.proxy
        choose("f-route", p.kind if p else "direct")
        put("f-proxy", format_hostport(p.host, p.port) if p else None)
        put("f-proxy-user", p.username if p else None)
        put("f-proxy-password", None)
        # The default variable is implied by an empty field; only a custom name is shown.
        custom_env = p.password_env if p and p.username and p.password_env != PROXY_PASSWORD_ENV else None
        put("f-proxy-password-env", custom_env)
        t = spec.tls
        self.query_one("#f-tls", Switch).value = t.enabled
        choose("f-sni-mode", t.sni_mode)
        put("f-sni", t.sni_name)
        choose("f-tls-min", t.min_version or "any")
        choose("f-tls-max", t.max_version or "any")
        put("f-ciphers", t.ciphers)
        put("f-alpn", ",".join(t.alpn) if t.alpn else None)
        choose("f-verify", t.verify)
        put("f-cafile", t.cafile)
        put("f-cert", t.cert)
        put("f-key", t.key)
        put("f-timeout", f"{spec.timeout:g}")
        choose("f-app", "http" if spec.app.http else ("send" if spec.app.send else "none"))
        send = spec.app.send
        put("f-send", escape_text(send) if send else None)
        self.sync_visibility()

    # --- errors ------------------------------------------------------------------------------------

    def mark_invalid(self, error: InputError) -> str:
        """Mark the field named by the error; returns the widget id that was marked."""
        wid = FIELD_WIDGETS.get(error.field or "", "f-host")
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

    def sync_visibility(self) -> None:
        route = self._select("f-route")
        self.query_one("#proxy-fields").display = route != "direct"
        tls = self.query_one("#f-tls", Switch).value
        self.query_one("#tls-fields").display = tls
        self.query_one("#row-sni").display = self._select("f-sni-mode") == "override"
        verify = self._select("f-verify")
        self.query_one("#row-cafile").display = verify == "cafile"
        self.query_one("#verify-warning").display = tls and verify == "off"
        self.query_one("#row-send").display = self._select("f-app") == "send"

"""The Listener view's form: bind, port, backlog, TLS, reply mode, client certificate (one line each)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Switch


from tlsbench.errors import InputError
from tlsbench.engine.listener.config import ListenerConfig, checked
from tlsbench.tui.widgets.safe_select import SafeSelect

REPLY_MODES = [("echo", "echo"), ("HTTP/1.1 200", "http"), ("reply text", "text")]


def _number(text: str, what: str, field: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InputError(f"{what} {text!r} is not a number", field=field) from None


class ListenerForm(Widget):
    DEFAULT_CSS = """
    ListenerForm { height: auto; width: 1fr; layout: vertical; padding: 0 1; }
    ListenerForm Horizontal { height: 1; }
    ListenerForm Label { width: auto; padding: 0 1 0 0; color: $text-muted; }
    ListenerForm Label.after { padding: 0 1; }
    ListenerForm Input, ListenerForm Select { background: $boost; }
    ListenerForm Input:focus, ListenerForm Select:focus-within > SelectCurrent,
    ListenerForm Switch:focus { background: $primary; }
    ListenerForm #bind { width: 18; }
    ListenerForm #port, ListenerForm #backlog { width: 8; }
    ListenerForm #reply-mode { width: 18; }
    ListenerForm #reply-text, ListenerForm #client-ca { width: 1fr; }
    ListenerForm Switch { height: 1; border: none; padding: 0; width: auto; background: $boost; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(Text("bind"))
            yield Input("127.0.0.1", id="bind", compact=True,
                        tooltip="address to listen on; loopback unless you choose otherwise")
            yield Label(Text("port"), classes="after")
            yield Input("0", id="port", type="integer", compact=True, tooltip="0 picks a free port")
            yield Label(Text("backlog"), classes="after")
            yield Input("16", id="backlog", type="integer", compact=True)
            yield Label(Text("TLS"), classes="after")
            yield Switch(value=True, id="tls")
        with Horizontal():
            yield Label(Text("answer"))
            yield SafeSelect(REPLY_MODES, value="http", allow_blank=False, id="reply-mode", compact=True)
            yield Input("", placeholder="reply text (for 'reply text')", id="reply-text", compact=True)
        with Horizontal():
            yield Label(Text("client cert required"))
            yield Switch(value=False, id="client-cert")
            yield Label(Text(""), classes="after")
            yield Input("", placeholder="client CA file (PEM)", id="client-ca", compact=True)

    def set_values(self, **values) -> None:
        """Fill fields by id (bind, port, backlog, tls, reply_mode, reply_text, client_cert, client_ca)."""
        for name, value in values.items():
            widget: Any = self.query_one(f"#{name.replace('_', '-')}")  # an Input, a Switch or a Select
            widget.value = value

    def config(self) -> ListenerConfig:
        """The listener config the form describes; InputError (one line) when a field is wrong."""
        def value(wid: str) -> Any:  # an Input's text, a Switch's bool, a Select's choice
            control: Any = self.query_one(f"#{wid}")
            return control.value

        mode = value("reply-mode")
        client_cert = bool(value("client-cert"))
        return checked(ListenerConfig(
            bind=value("bind").strip() or "127.0.0.1",
            port=_number(value("port") or "0", "port", "port"),
            backlog=_number(value("backlog") or "16", "backlog", "backlog"),
            tls=bool(value("tls")),
            reply_mode=mode if mode in ("echo", "http", "text") else "echo",
            reply_text=value("reply-text"),
            require_client_cert=client_cert,
            client_ca=(value("client-ca").strip() or None) if client_cert else None,
        ))

    def set_locked(self, locked: bool) -> None:
        """While a listener runs its settings cannot change."""
        for widget in self.query("Input, Switch, Select"):
            widget.disabled = locked

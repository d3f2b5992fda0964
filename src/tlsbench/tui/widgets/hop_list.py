"""The route in the compose form: a list of proxy hops, first hop first, each with its own fields.

Hop 1's widgets keep short ids (#f-route, #f-proxy, #f-proxy-user, ...); hop N's end in "-N". Its
kind select offers "Direct" on the first hop only: direct means no hops at all.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from tlsbench.engine.errors import InputError
from tlsbench.engine.proxies import KIND_NAMES, PROXY_KINDS, ProxySpec, parse_proxy_url
from tlsbench.engine.spec import PROXY_PASSWORD_ENV

KINDS = [(KIND_NAMES[k], k) for k in PROXY_KINDS]
MAX_HOPS = 8


def suffix(index: int) -> str:
    return "" if index == 1 else f"-{index}"


def _row(label: str, widget: Widget, *, id: str | None = None) -> Vertical:
    return Vertical(Label(label, classes="field-label"), widget,
                    Static("", id=f"{widget.id}-error", classes="field-error"), classes="field", id=id)


class HopFields(Vertical):
    """One hop: its kind, where it is, and how to authenticate to it."""

    def __init__(self, index: int) -> None:
        super().__init__(classes="hop", id=f"hop{suffix(index)}")
        self.index = index

    def compose(self) -> ComposeResult:
        s = suffix(self.index)
        kinds = ([("Direct", "direct")] if self.index == 1 else []) + KINDS
        title = "Connect via" if self.index == 1 else f"Then via (hop {self.index})"
        yield _row(title, Select(kinds, value="direct" if self.index == 1 else "socks5h", allow_blank=False,
                                 id=f"f-route{s}", compact=True))
        with Vertical(id=f"proxy-fields{s}", classes="proxy-fields"):
            yield _row("Proxy HOST:PORT", Input(placeholder="127.0.0.1:1080", id=f"f-proxy{s}", compact=True))
            yield _row("Proxy user", Input(placeholder="optional", id=f"f-proxy-user{s}", compact=True))
            yield _row("Proxy password (never saved)",
                       Input(placeholder="or set the variable below", password=True, id=f"f-proxy-password{s}",
                             compact=True))
            yield _row("Password env variable", Input(placeholder=PROXY_PASSWORD_ENV,
                                                      id=f"f-proxy-password-env{s}", compact=True))
            yield _row("Proxy CA file (HTTPS proxy)", Input(placeholder="system store",
                                                            id=f"f-proxy-cafile{s}", compact=True),
                       id=f"row-proxy-cafile{s}")

    def kind(self) -> str:
        return str(self.query_one(Select).value)

    def _input(self, name: str) -> Input:
        return self.query_one(f"#f-{name}{suffix(self.index)}", Input)

    def sync(self) -> None:
        kind = self.kind()
        self.query_one(".proxy-fields").display = kind != "direct"
        self.query_one(f"#row-proxy-cafile{suffix(self.index)}").display = kind == "https"

    def read(self) -> ProxySpec | None:
        kind = self.kind()
        if kind == "direct":
            return None
        s = suffix(self.index)
        where = self._input("proxy").value.strip()
        if not where:
            raise InputError(f"proxy {self.index}: HOST:PORT is empty", field=f"proxy{s}")
        try:
            hop = parse_proxy_url(f"{kind}://{where}", what="proxy")
        except InputError as exc:
            raise InputError(str(exc), field=f"proxy{s}") from None
        user = self._input("proxy-user").value.strip() or None
        password = self._input("proxy-password").value or None
        env = self._input("proxy-password-env").value.strip() or None
        cafile = self._input("proxy-cafile").value.strip() or None if kind == "https" else None
        if env is not None and user is None:
            raise InputError("a password variable needs a proxy user", field=f"proxy_password{s}")
        return hop._replace(username=user, password=password, password_env=env, cafile=cafile)

    def load(self, hop: ProxySpec | None) -> None:
        self.query_one(Select).value = hop.kind if hop else "direct"
        self._input("proxy").value = hop.address if hop else ""
        self._input("proxy-user").value = (hop.username or "") if hop else ""
        self._input("proxy-password").value = ""
        # The default variable is implied by an empty field; only a custom name is shown.
        custom = hop.password_env if hop and hop.username and hop.password_env != PROXY_PASSWORD_ENV else None
        self._input("proxy-password-env").value = custom or ""
        self._input("proxy-cafile").value = (hop.cafile or "") if hop else ""
        self.sync()


class HopList(Vertical):
    """The whole route: hop 1 (or Direct), then the hops behind it; + adds one, − removes the last."""

    def compose(self) -> ComposeResult:
        yield HopFields(1)
        with Horizontal(id="hop-buttons", classes="hop-buttons"):
            yield Button("+ hop", id="hop-add", compact=True)
            yield Button("− hop", id="hop-remove", compact=True)

    def hops(self) -> list[HopFields]:
        return list(self.query(HopFields))

    def add(self, hop: ProxySpec | None = None) -> HopFields:
        fields = HopFields(len(self.hops()) + 1)
        self.mount(fields, before=self.query_one("#hop-buttons"))
        if hop is not None:
            self.call_after_refresh(fields.load, hop)
        return fields

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        hops = self.hops()
        if event.button.id == "hop-add" and len(hops) < MAX_HOPS and hops[0].kind() != "direct":
            self.add()
        elif event.button.id == "hop-remove" and len(hops) > 1:
            hops[-1].remove()
        self.call_after_refresh(self.sync)

    def sync(self) -> None:
        hops = self.hops()
        for fields in hops:
            fields.sync()
        direct = hops[0].kind() == "direct"
        for extra in hops[1:]:
            extra.display = not direct
        self.query_one("#hop-buttons").display = not direct
        self.query_one("#hop-remove").display = len(hops) > 1

    def read(self) -> list[ProxySpec]:
        hops = self.hops()
        first = hops[0].read()
        if first is None:
            return []
        return [first] + [h for h in (f.read() for f in hops[1:]) if h is not None]

    def load(self, hops: list[ProxySpec]) -> None:
        fields = self.hops()
        for extra in fields[1:]:
            extra.remove()
        fields[0].load(hops[0] if hops else None)
        for hop in hops[1:]:
            self.add(hop)
        self.call_after_refresh(self.sync)

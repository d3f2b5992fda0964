"""The route in the compose form: a list of proxy hops, first hop first, each with its own fields.

Hop 1's widgets keep short ids (#f-route, #f-proxy, #f-proxy-user, ...); hop N's end in "-N". Its
kind select offers "Direct" on the first hop only: direct means no hops at all. One line per field,
as in the rest of the form (tui.widgets.form_fields).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select


from tlsbench.errors import InputError
from tlsbench.engine.route.proxies import KIND_NAMES, PROXY_KINDS, ProxySpec, parse_proxy_url
from tlsbench.engine.route.proxykinds import TYPES
from tlsbench.engine.spec import PROXY_PASSWORD_ENV
from tlsbench.tui.widgets.safe_select import SafeSelect

KINDS = [(KIND_NAMES[k], k) for k in PROXY_KINDS]


def _tls_hop(kind: str) -> bool:
    """Whether the hop to a proxy of this kind is TLS itself (its CA file applies)."""
    return kind in TYPES and TYPES[kind].tls


MAX_HOPS = 8
# (field name, label, placeholder) of a hop's fields after its kind
HOP_FIELDS = (("proxy", "Proxy", "HOST:PORT, e.g. 127.0.0.1:1080"), ("proxy-user", "User", "optional"),
              ("proxy-password", "Password", "never saved"), ("proxy-password-env", "Pass. env", PROXY_PASSWORD_ENV),
              ("proxy-cafile", "Proxy CA", "system store (HTTPS proxy)"))


def suffix(index: int) -> str:
    return "" if index == 1 else f"-{index}"


def hop_values(hop: ProxySpec | None) -> dict[str, str]:
    """What a hop's fields show (the password never; the default password variable as empty)."""
    if hop is None:
        return {"route": "direct", "proxy": "", "proxy-user": "", "proxy-password": "", "proxy-password-env": "",
                "proxy-cafile": ""}
    custom = hop.password_env if hop.username and hop.password_env != PROXY_PASSWORD_ENV else None
    return {"route": hop.kind, "proxy": hop.address, "proxy-user": hop.username or "", "proxy-password": "",
            "proxy-password-env": custom or "", "proxy-cafile": hop.cafile or ""}


def hop_title(index: int) -> str:
    return "Route" if index == 1 else f"Hop {index}"


class HopFields(Vertical):
    """One hop: its kind, where it is, and how to authenticate to it."""

    def __init__(self, index: int, hop: ProxySpec | None = None) -> None:
        super().__init__(classes="hop", id=f"hop{suffix(index)}")
        self.index = index
        self.initial = hop_values(hop) if hop is not None or index == 1 else dict(hop_values(None), route="socks5h")

    def compose(self) -> ComposeResult:
        s = suffix(self.index)
        kinds = ([("Direct", "direct")] if self.index == 1 else []) + KINDS
        with Horizontal(classes="field-row hop-kind"):
            yield Label(hop_title(self.index), classes="field-label")
            yield SafeSelect(kinds, value=self.initial["route"], allow_blank=False, id=f"f-route{s}", compact=True)
        with Vertical(id=f"proxy-fields{s}", classes="proxy-fields"):
            for name, label, placeholder in HOP_FIELDS:
                with Horizontal(classes="field-row", id=f"row-{name}{s}"):
                    yield Label(label, classes="field-label")
                    yield Input(self.initial[name], placeholder=placeholder, id=f"f-{name}{s}", compact=True,
                                password=name == "proxy-password")

    def kind(self) -> str:
        return str(self.query_one(Select).value)

    def _input(self, name: str) -> Input:
        return self.query_one(f"#f-{name}{suffix(self.index)}", Input)

    def sync(self) -> None:
        kind = self.kind()
        self.query_one(".proxy-fields").display = kind != "direct"
        self.query_one(f"#row-proxy-cafile{suffix(self.index)}").display = _tls_hop(kind)

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
        cafile = self._input("proxy-cafile").value.strip() or None if _tls_hop(kind) else None
        if env is not None and user is None:
            raise InputError("a password variable needs a proxy user", field=f"proxy_password{s}")
        return hop._replace(username=user, password=password, password_env=env, cafile=cafile)

    def load(self, hop: ProxySpec | None) -> None:
        values = hop_values(hop)
        self.query_one(Select).value = values.pop("route")
        for name, value in values.items():
            self._input(name).value = value
        self.sync()


class HopList(Vertical):
    """The whole route: hop 1 (or Direct), then the hops behind it; + adds one, − removes the last."""

    def __init__(self, hops: list[ProxySpec] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = list(hops or [])

    def compose(self) -> ComposeResult:
        yield HopFields(1, self.initial[0] if self.initial else None)
        for index, hop in enumerate(self.initial[1:], 2):
            yield HopFields(index, hop)
        with Horizontal(id="hop-buttons", classes="hop-buttons"):
            yield Button("+ hop", id="hop-add", compact=True)
            yield Button("− hop", id="hop-remove", compact=True)

    def hops(self) -> list[HopFields]:
        return list(self.query(HopFields))

    def add(self, hop: ProxySpec | None = None) -> HopFields:
        fields = HopFields(len(self.hops()) + 1, hop)
        self.mount(fields, before=self.query_one("#hop-buttons"))
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
            if fields.is_mounted:
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

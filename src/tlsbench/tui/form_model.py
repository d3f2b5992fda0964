"""What the Compose form holds, without widgets: its fields, a spec as field values and back.

The form's widgets (tui.widgets.form_fields) and its cheap read-only preview
(tui.widgets.compose_form) both read this table, so they show the same rows in the same order.
"""

from __future__ import annotations

from typing import NamedTuple

from tlsbench.commands.arguments import unescape_send
from tlsbench.engine.errors import InputError
from tlsbench.engine.spec import PROXY_PASSWORD_ENV, ConnectionSpec, build_spec, check_host, format_hostport, parse_port
from tlsbench.engine.visible import visible

ROUTES = [("Direct", "direct"), ("SOCKS4", "socks4"), ("SOCKS4a (proxy resolves)", "socks4a"),
          ("SOCKS5", "socks5"), ("SOCKS5 + remote DNS", "socks5h")]
SNI_MODES = [("from host", "host"), ("override", "override"), ("none", "none")]
VERSIONS = [("any", "any"), ("1.0", "1.0"), ("1.1", "1.1"), ("1.2", "1.2"), ("1.3", "1.3")]
VERIFY = [("system store", "system"), ("CA file", "cafile"), ("off (insecure)", "off")]
APPS = [("nothing", "none"), ("HTTP GET", "http"), ("send text", "send")]
CHOICES = {"f-route": ROUTES, "f-sni-mode": SNI_MODES, "f-tls-min": VERSIONS, "f-tls-max": VERSIONS,
           "f-verify": VERIFY, "f-app": APPS}


class Field(NamedTuple):
    wid: str  # widget id
    label: str  # in the label column ("" for the second widget of a row)
    kind: str  # "input" | "password" | "select" | "switch"
    placeholder: str = ""
    row: str = ""  # the row id when it can be hidden (see visible_rows)


# Rows in order: a section heading is ("section", title); a row is a tuple of Fields drawn on one line.
LAYOUT: list = [
    ("section", "Target"),
    (Field("f-host", "Host", "input", "example.com", "row-host"), Field("f-port", "Port", "input", "443")),
    (Field("f-pin", "Pinned IP", "input", "optional, instead of DNS", "row-pin"),),
    ("section", "Route"),
    (Field("f-route", "Route", "select", row="row-route"),),
    (Field("f-proxy", "Proxy", "input", "HOST:PORT, e.g. 127.0.0.1:1080", "row-proxy"),),
    (Field("f-proxy-user", "User", "input", "optional", "row-proxy-user"),),
    (Field("f-proxy-password", "Password", "password", "never saved", "row-proxy-password"),),
    (Field("f-proxy-password-env", "Pass. env", "input", PROXY_PASSWORD_ENV, "row-proxy-password-env"),),
    ("section", "TLS"),
    (Field("f-tls", "TLS", "switch", row="row-tls"),),
    (Field("f-sni-mode", "SNI", "select", row="row-sni-mode"),),
    (Field("f-sni", "SNI name", "input", "server name to send", "row-sni"),),
    (Field("f-tls-min", "Versions", "select", row="row-versions"), Field("f-tls-max", "to", "select")),
    (Field("f-ciphers", "Ciphers", "input", "default (OpenSSL list)", "row-ciphers"),),
    (Field("f-alpn", "ALPN", "input", "e.g. h2,http/1.1", "row-alpn"),),
    (Field("f-verify", "Verify", "select", row="row-verify"),),
    (Field("f-cafile", "CA file", "input", "/path/to/ca.pem", "row-cafile"),),
    (Field("f-cert", "Client cert", "input", "optional PEM", "row-cert"),),
    (Field("f-key", "Client key", "input", "optional PEM", "row-key"),),
    ("section", "Other"),
    (Field("f-timeout", "Timeout", "input", "10", "row-timeout"),),
    (Field("f-app", "Then", "select", row="row-app"),),
    (Field("f-send", "Send text", "input", "EHLO x\\r\\n (\\r\\n allowed)", "row-send"),),
]

FIELDS: dict[str, Field] = {f.wid: f for row in LAYOUT if row[0] != "section" for f in row}
TLS_ROWS = ("row-sni-mode", "row-sni", "row-versions", "row-ciphers", "row-alpn", "row-verify", "row-cafile",
            "row-cert", "row-key")
PROXY_ROWS = ("row-proxy", "row-proxy-user", "row-proxy-password", "row-proxy-password-env")

# InputError.field -> the widget that holds it
FIELD_WIDGETS = {
    "target": "f-host", "host": "f-host", "port": "f-port", "target port": "f-port", "pin": "f-pin",
    "proxy_kind": "f-route", "proxy": "f-proxy", "proxy port": "f-proxy", "proxy_user": "f-proxy-user",
    "proxy_password": "f-proxy-password-env", "proxy_password_input": "f-proxy-password", "tls": "f-tls",
    "sni": "f-sni", "tls-min": "f-tls-min", "tls_min": "f-tls-min", "tls-max": "f-tls-max", "tls_max": "f-tls-max",
    "ciphers": "f-ciphers", "alpn": "f-alpn", "cafile": "f-cafile", "cert": "f-cert", "key": "f-key",
    "timeout": "f-timeout", "send": "f-send",
}

EMPTY: dict[str, object] = {
    "f-host": "", "f-port": "", "f-pin": "", "f-route": "direct", "f-proxy": "", "f-proxy-user": "",
    "f-proxy-password": "", "f-proxy-password-env": "", "f-tls": True, "f-sni-mode": "host", "f-sni": "",
    "f-tls-min": "any", "f-tls-max": "any", "f-ciphers": "", "f-alpn": "", "f-verify": "system", "f-cafile": "",
    "f-cert": "", "f-key": "", "f-timeout": "10", "f-app": "none", "f-send": "",
}


def has_controls(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def shown(text: str) -> str:
    """The text for an Input: control characters made visible (the rest untouched)."""
    return visible(text, keep_newlines=False) if has_controls(text) else text


def values_from_spec(spec: ConnectionSpec | None) -> dict[str, object]:
    """{widget id: value} for a spec (None: the empty form). The password is never filled in."""
    values = dict(EMPTY)
    if spec is None:
        return values

    def put(wid: str, value) -> None:
        values[wid] = "" if value is None else shown(str(value))

    put("f-host", spec.host)
    put("f-port", spec.port)
    put("f-pin", spec.pin)
    p = spec.proxy
    values["f-route"] = p.kind if p else "direct"
    put("f-proxy", format_hostport(p.host, p.port) if p else None)
    put("f-proxy-user", p.username if p else None)
    # The default variable is implied by an empty field; only a custom name is shown.
    put("f-proxy-password-env", p.password_env if p and p.username and p.password_env != PROXY_PASSWORD_ENV
        else None)
    t = spec.tls
    values["f-tls"] = t.enabled
    values["f-sni-mode"] = t.sni_mode
    put("f-sni", t.sni_name)
    values["f-tls-min"] = t.min_version or "any"
    values["f-tls-max"] = t.max_version or "any"
    put("f-ciphers", t.ciphers)
    put("f-alpn", ",".join(t.alpn) if t.alpn else None)
    values["f-verify"] = t.verify
    put("f-cafile", t.cafile)
    put("f-cert", t.cert)
    put("f-key", t.key)
    put("f-timeout", f"{spec.timeout:g}")
    values["f-app"] = "http" if spec.app.http else ("send" if spec.app.send else "none")
    send = spec.app.send
    put("f-send", send.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t") if send else None)
    return values


def hidden_rows(values: dict[str, object]) -> set[str]:
    """Rows that do not apply to these values (no proxy, no TLS, no SNI override, …)."""
    hidden: set[str] = set()
    if values["f-route"] == "direct":
        hidden.update(PROXY_ROWS)
    if not values["f-tls"]:
        hidden.update(TLS_ROWS)
    if values["f-sni-mode"] != "override":
        hidden.add("row-sni")
    if values["f-verify"] != "cafile":
        hidden.add("row-cafile")
    if values["f-app"] != "send":
        hidden.add("row-send")
    return hidden


def spec_from_values(values: dict[str, object]) -> ConnectionSpec:
    """Validate and build the spec; raises InputError whose `field` names the spec field."""
    def text(wid: str) -> str:
        return str(values.get(wid) or "").strip()

    def opt(wid: str) -> str | None:
        return text(wid) or None

    host = text("f-host")
    check_host(host, "host")
    port = parse_port(text("f-port"), "port")
    route = str(values["f-route"])
    kind = None if route == "direct" else route
    tls = bool(values["f-tls"])
    kwargs: dict = {}
    if kind:
        kwargs.update(proxy_kind=kind, proxy=text("f-proxy"), proxy_user=opt("f-proxy-user"),
                      proxy_password=str(values.get("f-proxy-password") or "") or None,
                      proxy_password_env=opt("f-proxy-password-env"))
    if tls:
        sni_mode = str(values["f-sni-mode"])
        if sni_mode == "override" and not text("f-sni"):
            raise InputError("SNI name is empty (choose 'from host' or 'none', or type a name)", field="sni")
        verify = str(values["f-verify"])
        if verify == "cafile" and not text("f-cafile"):
            raise InputError("CA file path is empty", field="cafile")
        lo, hi = str(values["f-tls-min"]), str(values["f-tls-max"])
        kwargs.update(sni=text("f-sni") if sni_mode == "override" else None, no_sni=sni_mode == "none",
                      tls_min=None if lo == "any" else lo, tls_max=None if hi == "any" else hi,
                      ciphers=opt("f-ciphers"), alpn=opt("f-alpn"),
                      cafile=opt("f-cafile") if verify == "cafile" else None, insecure=verify == "off",
                      cert=opt("f-cert"), key=opt("f-key"))
    app = str(values["f-app"])
    send = str(values.get("f-send") or "")
    if app == "send" and not send:
        raise InputError("text to send is empty", field="send")
    spec = build_spec(format_hostport(host, port), pin=opt("f-pin"), tls=tls, timeout=text("f-timeout") or "10",
                      http=app == "http", send=unescape_send(send) if app == "send" else None, **kwargs)
    proxy = spec.proxy
    if proxy and proxy.needs_password:
        # Profiles never hold the password: ask for it here rather than send an empty one.
        raise InputError(f"proxy password: type it here (it is never saved) or set ${proxy.password_env}",
                         field="proxy_password_input")
    return spec


def choice_label(wid: str, value: object) -> str:
    for label, key in CHOICES.get(wid, ()):
        if key == value:
            return label
    return str(value)

"""What the Compose form holds, without widgets: its rows, a spec as field values and back.

The rows come from the option declarations (engine/options.py), one line each: the form's
widgets (tui.widgets.form_fields, tui.widgets.hop_list) and its cheap read-only preview
(tui.widgets.compose_form) both read `rows()`, so they show the same lines in the same order.
What is the workbench's own here is presentation: a label short enough for one line, the two TLS
versions side by side.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple, cast

from tlsbench.errors import InputError
from tlsbench.engine.options import GROUP_TITLES, OPTIONS, escape, owner, spec_from_values, unescape, values_of
from tlsbench.engine.spec import ConnectionSpec, check_host, format_hostport, parse_port
from tlsbench.visible import visible

if TYPE_CHECKING:
    from tlsbench.engine.route.proxies import ProxySpec

LABEL_WIDTH = 12  # the label column, as #form .field-label in the form's CSS

# Labels that fit the label column; an option not listed here shows its declared label (on a line
# of its own above the field when it is too long).
SHORT_LABELS = {
    "pin": "Pinned IP", "local_port": "Local port", "interface": "Interface", "family": "IP version",
    "tls": "TLS", "sni_mode": "SNI", "sni": "SNI name", "tls_min": "Versions", "tls_max": "to",
    "ciphers": "Ciphers", "alpn": "ALPN", "verify": "Verify", "cafile": "CA file", "cert": "Client cert",
    "key": "Client key", "app": "Then", "path": "HTTP path", "send": "Send text", "timeout": "Timeout (s)",
    "starttls_name": "EHLO name", "xmpphost": "XMPP host", "keylog": "Key log", "reconnect": "Reconnect",
    "check_revocation": "Revocation", "http3": "HTTP/3", "dns_servers": "DNS servers", "doh_url": "DoH URL",
    "doh_insecure": "Unverified", "groups": "Groups",
}
PLACEHOLDERS = {"pin": "optional, instead of DNS", "ciphers": "default (OpenSSL list)",
                "keylog": "file for session secrets (SSLKEYLOGFILE)",
                "send": "EHLO x\\r\\n (\\r \\n \\t \\\\ \\xHH)"}
SWITCH_NOTES = {"tls": "on: TLS, off: plain TCP", "reconnect": "on: handshake twice",
                "doh_insecure": "on: DoT/DoH not verified",
                "check_revocation": "on: ask OCSP / CRL"}
PAIRED = {"tls_min": "tls_max"}  # shown on one line: "Versions [min] to [max]"


class FieldSpec(NamedTuple):
    """One field of a row: the option, its widget id and how it is drawn."""

    name: str
    wid: str
    label: str
    kind: str  # "input" | "select" | "switch" | "hops" | "host" | "port"
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()


class Row(NamedTuple):
    """A line of the form: a section title (`section` set) or one or two fields."""

    section: str | None
    fields: tuple[FieldSpec, ...] = ()
    rid: str = ""  # the row's widget id, "row-<option>"


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


def has_controls(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def shown(text: str) -> str:
    """The text for an Input: control characters made visible (the rest untouched)."""
    return visible(text, keep_newlines=False) if has_controls(text) else text


def _field(option) -> FieldSpec:
    f = option.field
    return FieldSpec(option.name, widget_id(option.name), SHORT_LABELS.get(option.name, f.label), f.widget,
                     PLACEHOLDERS.get(option.name, f.placeholder), tuple(f.choices))


@lru_cache(maxsize=1)
def rows() -> tuple[Row, ...]:
    """Every line of the form, in the declarations' order, with a title at each group."""
    out: list[Row] = []
    section = None
    paired = set(PAIRED.values())
    by_name = {o.name: o for o in OPTIONS}
    for option in OPTIONS:
        if option.group != section:
            section = option.group
            out.append(Row(GROUP_TITLES[section]))
        if option.name == "target":
            out.append(Row(None, (FieldSpec("target", "f-host", "Host", "host", "example.com"),
                                  FieldSpec("target", "f-port", "Port", "port", "443")), "row-target"))
            continue
        if option.field is None or option.name in paired:
            continue
        fields: tuple[FieldSpec, ...] = (_field(option),)
        if option.name in PAIRED:
            fields += (_field(by_name[PAIRED[option.name]]),)
        out.append(Row(None, fields, f"row-{option.name}"))
    return tuple(out)


def form_values(spec: ConnectionSpec | None) -> dict[str, object]:
    """{option name: what its widget shows} for a spec (None: the defaults); "target" is
    (host, port text) and "proxies" the list of hops. Passwords are never filled in."""
    values = values_of(spec) if spec is not None else {o.name: o.default for o in OPTIONS}
    out: dict[str, object] = {"target": (shown(spec.host), str(spec.port)) if spec else ("", ""),
                              "proxies": list(spec.proxies) if spec else []}
    for option in OPTIONS:
        field = option.field
        if field is None or field.widget == "hops":
            continue
        value = values.get(option.name)
        if field.widget == "switch":
            out[option.name] = bool(value)
        elif field.widget == "select":
            choices = {v for _, v in field.choices}
            text = "any" if value is None else str(value)
            out[option.name] = text if text in choices else field.choices[0][1]
        else:
            if option.name in ("alpn", "dns_servers"):
                value = ",".join(value) if value else None
            elif option.name == "groups":
                value = ":".join(value) if value else None
            elif option.name == "send" and value:
                value = escape(value)
            elif option.name == "timeout":
                value = f"{value:g}"
            elif option.name == "path" and value == "/":
                value = None
            out[option.name] = "" if value is None else shown(str(value))
    return out


def form_target(values: dict[str, object]) -> tuple[str, str]:
    """The (host, port text) pair of a form value set."""
    return cast("tuple[str, str]", values["target"])


def form_hops(values: dict[str, object]) -> list[ProxySpec]:
    """The hops of a form value set (empty: direct)."""
    return cast("list[ProxySpec] | None", values.get("proxies")) or []


def shown_rows(values: dict[str, object]) -> set[str]:
    """The row ids that apply to these values (no SNI name without an override, …)."""
    check = {k: v for k, v in values.items() if k not in ("target", "proxies")}
    ids = set()
    by_name = {o.name: o for o in OPTIONS}
    for row in rows():
        if row.section is not None:
            continue
        option = by_name[row.fields[0].name]
        visible_if = option.field.visible if option.field else None
        if visible_if is None or visible_if(check):
            ids.add(row.rid)
    return ids


def spec_from_form(values: dict[str, object], hops: list) -> ConnectionSpec:
    """Validate the form's values into a spec; raises InputError whose field names the option."""
    values = {k: v for k, v in values.items() if k != "proxies"}
    target = cast("tuple[object, object]", values.pop("target"))  # the form's (host, port) pair
    host, port_text = str(target[0]).strip(), str(target[1]).strip()
    check_host(host, "host")
    port = parse_port(port_text, "port")
    for key, value in list(values.items()):
        if isinstance(value, str):
            value = value if key == "send" else value.strip()
            values[key] = value or None
    values["target"] = format_hostport(host, port)
    values["proxies"] = hops
    for name in ("alpn", "dns_servers"):
        if values.get(name):
            values[name] = [p.strip() for p in str(values[name]).split(",")]
    if values.get("app") == "send":
        if not values.get("send"):
            raise InputError("text to send is empty", field="send")
        values["send"] = unescape(str(values["send"]))
    spec = spec_from_values(values)
    for i, hop in enumerate(spec.proxies, 1):
        if hop.needs_password:
            # Profiles never hold the password: ask for it here rather than send an empty one.
            raise InputError(f"proxy password: type it here (it is never saved) or set ${hop.password_env}",
                             field=f"proxy_password_input#{i}")
    return spec


def choice_label(choices, value: object) -> str:
    for label, key in choices:
        if key == value:
            return label
    return str(value)

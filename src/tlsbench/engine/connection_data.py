"""A connection as the data of a TOML file: the tables a profile file and a run file's connection
hold (host, port, [proxy] or [[proxy]], [tls], [local], [app]), written from a spec and read back
into a validated one. The keys come from the option declarations (options.py); a bad value raises
`FormatError` naming its table and key, so a front-end can point at its line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from tlsbench.errors import InputError
from tlsbench.engine.options import OPTIONS, Option, owner, spec_from_values, values_of
from tlsbench.engine.route.proxies import PROXY_KINDS, ProxySpec
from tlsbench.engine.route.proxykinds import TYPES
from tlsbench.engine.spec import ConnectionSpec, format_hostport, split_hostport

TABLES = ("proxy", "tls", "local", "app", "dns")


def _known_keys() -> dict[str, tuple[str, ...]]:
    keys: dict[str, list[str]] = {"": ["host", "port"], "proxy": list(HOP_KEYS), "app": ["http"]}
    for option in OPTIONS:
        if option.toml is not None:
            table, key = option.toml
            keys.setdefault(table, []).append(key)
    return {table: tuple(names) for table, names in keys.items()}


HOP_KEYS = ("type", "host", "port", "user", "password_env", "cafile", "insecure")
# The connection's keys, per table ("" = top level), from the option declarations. Anything else in
# a file that is not its holder's own (a profile's description) is the person's and is kept.
CONNECTION_KEYS: dict[str, tuple[str, ...]] = _known_keys()
# Written even at their default value, as earlier versions did (a file says what it means).
ALWAYS = ("timeout", "tls", "sni_mode", "verify")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FormatError(Exception):
    """A value in a profile file is wrong; `table`/`key` say where, `line` once it is known."""

    def __init__(self, message: str, table: str = "", key: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.table, self.key, self.line = table, key, line


def _applies(option: Option, values: dict[str, Any]) -> bool:
    field = option.field
    return field is None or field.visible is None or bool(field.visible(values))


def connection_to_data(spec: ConnectionSpec) -> dict[str, Any]:
    """The connection as the tables of a TOML file, in file order (after a profile's description).
    Never holds a password."""
    values = values_of(spec)
    data: dict[str, Any] = {"host": spec.host, "port": spec.port}
    hops = [_hop_table(hop) for hop in spec.proxies if hop.source is None]
    tables: dict[str, dict[str, Any]] = {"proxy": {}, "tls": {}, "local": {}, "app": {}, "dns": {}}
    for option in OPTIONS:
        if option.toml is None or not _applies(option, values):
            continue
        value = values[option.name]
        if value in (None, [], "") or (value == option.default and option.name not in ALWAYS):
            continue
        table, key = option.toml
        if option.name == "local_port" and str(value).isdigit():
            value = int(value)
        elif option.name == "timeout":
            value = float(value)
        (data if table == "" else tables[table])[key] = value
    if len(hops) == 1:
        data["proxy"] = hops[0]  # the format of earlier versions: one [proxy] table
    elif hops:
        data["proxy"] = hops  # a chain: [[proxy]] tables, first hop first
    if values["app"] != "none" or tables["app"]:
        tables["app"] = {"http": values["app"] == "http", **tables["app"]}
    for table in ("tls", "local", "app", "dns"):
        if tables[table]:
            data[table] = tables[table]
    return data


def _hop_table(hop: ProxySpec) -> dict[str, Any]:
    table: dict[str, Any] = {"type": hop.kind, "host": hop.host, "port": hop.port}
    if hop.username:
        table["user"] = hop.username
    if hop.password_env:
        table["password_env"] = hop.password_env
    if hop.cafile:
        table["cafile"] = hop.cafile
    if hop.insecure:
        table["insecure"] = True
    return table


# --- reading -----------------------------------------------------------------------------------

def check_tables(data: Mapping[str, Any]) -> None:
    for table in TABLES:
        if table in data and not isinstance(data[table], dict) and not (
                table == "proxy" and isinstance(data[table], list)):
            raise FormatError(f"{table!r} must be a table ([{table}])", "", table)


def data_to_spec(data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> ConnectionSpec:
    """Validate a file's connection tables into a spec, or raise FormatError naming the table and key
    at fault (a profile's description is read by the profile, not here)."""
    env = os.environ if environ is None else environ
    check_tables(data)
    host = typed(data, "", "host", str, required=True)
    port = typed(data, "", "port", int, required=True)
    _check_port(port, "")
    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.toml is None:
            continue
        table, key = option.toml
        container = data if table == "" else data.get(table, {})
        raw = typed(container, table, key, option.toml_type)
        if raw is not None:
            values[option.name] = str(raw) if option.name == "local_port" else raw
    _check_choices(values)
    _check_consistency(data, values)
    app = data.get("app", {})
    http = typed(app, "app", "http", bool) or False
    values["app"] = "http" if http else ("send" if values.get("send") is not None else "none")
    values["target"] = format_hostport(host, port)
    values["proxies"] = [_read_hop(hop, env) for hop in _hop_tables(data.get("proxy"))]
    try:
        spec = spec_from_values(values, environ=dict(env))
    except InputError as exc:
        at_table, at_key = _error_key(exc.field)
        message = str(exc).replace("target port ", "port ", 1).replace("target ", "host ", 1)
        raise FormatError(message, at_table, at_key) from None
    return spec


def _error_key(field: str | None) -> tuple[str, str | None]:
    """Where in the file an InputError's field lives."""
    if field in ("target port", "port"):
        return "", "port"
    option = owner(field)
    if option is None or option.name == "target":
        return "", "host"
    if option.name == "proxies":
        return "proxy", {"proxy_kind": "type", "proxy_user": "user", "proxy_password": "password_env",
                         "proxy_cafile": "cafile"}.get(field or "", "host")
    return option.toml or ("", None)


def _check_choices(values: dict[str, Any]) -> None:
    for option in OPTIONS:
        field, value = option.field, values.get(option.name)
        if value is None or field is None or field.widget != "select" or option.name in ("tls_min", "tls_max"):
            continue
        allowed = [v for _, v in field.choices if v != "any"]
        if str(value) not in allowed:
            table, key = option.toml or ("", option.name)
            raise FormatError(f"{key} {value!r} is not one of {', '.join(allowed)}", table, key)


def _check_consistency(data: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Keys that contradict each other are reported, never silently ignored."""
    tls = data.get("tls", {})
    if values.get("tls") is False:
        # a CA file also verifies DoT/DoH servers, with or without TLS to the target
        dns = data.get("dns", {}) if isinstance(data.get("dns"), dict) else {}
        dns_tls = bool(dns.get("doh_url")) or any(str(s).startswith("tls://") for s in dns.get("servers") or ())
        extra = [k for k in CONNECTION_KEYS["tls"] if k != "enabled" and k in tls
                 and not (dns_tls and k in ("cafile", "verify"))]
        if extra:
            raise FormatError(f"enabled = false conflicts with {extra[0]!r}", "tls", extra[0])
    sni_mode = values.get("sni_mode") or ("override" if values.get("sni") is not None else "host")
    values.setdefault("sni_mode", sni_mode)
    if sni_mode == "override" and not values.get("sni"):
        raise FormatError('sni = "override" needs sni_name', "tls", "sni")
    if sni_mode != "override" and values.get("sni") is not None:
        raise FormatError(f'sni_name is set but sni is {sni_mode!r} (use sni = "override")', "tls", "sni_name")
    verify = values.get("verify") or ("cafile" if values.get("cafile") else "system")
    values.setdefault("verify", verify)
    if verify == "cafile" and not values.get("cafile"):
        raise FormatError('verify = "cafile" needs cafile', "tls", "verify")
    if verify != "cafile" and values.get("cafile") is not None:
        raise FormatError(f'cafile is set but verify is {verify!r} (use verify = "cafile")', "tls", "cafile")
    if values.get("starttls") in (None, "none"):
        for key in ("starttls_name", "xmpphost"):
            if values.get(key) is not None:
                raise FormatError(f"{key} is set but starttls is not (starttls = \"smtp\", ...)", "tls", key)
    servers = values.get("dns_servers")
    if servers is not None and not all(isinstance(s, str) for s in servers):
        raise FormatError("servers must be a list of strings", "dns", "servers")
    alpn = values.get("alpn")
    if isinstance(alpn, list) and not all(isinstance(p, str) for p in alpn):
        raise FormatError("alpn must be a list of strings", "tls", "alpn")
    if isinstance(alpn, str):
        values["alpn"] = alpn.split(",")
    app = data.get("app", {})
    if app.get("http") is True and values.get("send") is not None:
        raise FormatError("http = true and send cannot be used together", "app", "send")


def _hop_tables(proxy: Any) -> list[Mapping[str, Any]]:
    if proxy is None:
        return []
    hops = proxy if isinstance(proxy, list) else [proxy]
    if not all(isinstance(h, dict) for h in hops):
        raise FormatError("each [[proxy]] must be a table", "proxy", None)
    return hops


def _read_hop(proxy: Mapping[str, Any], env: Mapping[str, str]) -> ProxySpec:
    kind = typed(proxy, "proxy", "type", str, required=True)
    if kind not in PROXY_KINDS:
        raise FormatError(f"proxy type {kind!r} is not one of {', '.join(PROXY_KINDS)}", "proxy", "type")
    p_host = typed(proxy, "proxy", "host", str, required=True)
    p_port = typed(proxy, "proxy", "port", int, required=True)
    user = typed(proxy, "proxy", "user", str)
    password_env = typed(proxy, "proxy", "password_env", str)
    if password_env is not None and not _ENV_NAME.fullmatch(password_env):
        raise FormatError(f"password_env {password_env!r} is not an environment variable name",
                          "proxy", "password_env")
    if password_env is not None and user is None:
        raise FormatError("password_env is set but user is not", "proxy", "password_env")
    if user is not None and ":" in user:
        raise FormatError("user must not hold ':' (passwords are never stored; use password_env)",
                          "proxy", "user")
    _check_port(p_port, "proxy")
    cafile = typed(proxy, "proxy", "cafile", str)
    insecure = typed(proxy, "proxy", "insecure", bool) or False
    if (cafile or insecure) and not TYPES[kind].tls:
        raise FormatError("cafile and insecure are for a proxy of type \"https\"", "proxy",
                          "cafile" if cafile else "insecure")
    try:
        host, port = split_hostport(format_hostport(p_host, p_port), "proxy")
    except InputError as exc:
        raise FormatError(str(exc), "proxy", "host") from None
    return ProxySpec(kind, host, port, user, None, password_env, cafile=cafile, insecure=insecure)


_TYPE_NAMES = {str: "a string", int: "a whole number", bool: "true or false", float: "a number",
               list: "a list", dict: "a table"}


def typed(table: Mapping[str, Any], table_name: str, key: str, types: type | tuple[type, ...],
         required: bool = False) -> Any:
    if key not in table:
        if required:
            where = f" in [{table_name}]" if table_name else ""
            raise FormatError(f"{key} is missing{where}", table_name, None)
        return None
    value = table[key]
    wanted = types if isinstance(types, tuple) else (types,)
    # bool is an int in Python; TOML keeps them apart, and so do we.
    if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in wanted)
        raise FormatError(f"{key} must be {names}, not {value!r}", table_name, key)
    return value


def _check_port(port: int, table: str) -> None:
    if not 1 <= port <= 65535:
        what = "proxy port" if table else "port"
        raise FormatError(f"{what} {port} is out of range (1-65535)", table, "port")

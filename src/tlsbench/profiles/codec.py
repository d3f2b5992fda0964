"""Profile <-> TOML: the file format, and reading a file back into a validated Profile.

One file per profile, ``<config_dir>/profiles/<name>.toml``; the name is the file name. Every key
except ``host`` and ``port`` is optional; unknown keys are kept untouched when tlsbench saves::

    # Intranet portal through the office proxy (comments and layout survive saves)
    description = "Intranet portal via the office SOCKS proxy"
    # unavailable = "..."           # written by `tlsbench lab`: why this profile's server is not running
    host = "portal.example.com"     # name or IP address (IPv6 without brackets)
    port = 443
    pin = "10.1.2.3"                # connect here instead of resolving host (like curl --resolve)
    timeout = 10.0                  # seconds, per stage

    [proxy]                         # leave the table out for a direct connection
    type = "socks5h"                # socks4, socks4a, socks5, socks5h (the proxy resolves the name)
    host = "127.0.0.1"
    port = 1080
    user = "alice"
    password_env = "OFFICE_PROXY_PASSWORD"  # the password is read from this variable; never stored

    [tls]
    enabled = true                  # false: plain TCP, no handshake
    sni = "override"                # "host" (send the host name), "none", or "override" (send sni_name)
    sni_name = "portal.internal"
    min_version = "1.2"             # 1.0, 1.1, 1.2, 1.3
    max_version = "1.3"
    ciphers = "ECDHE+AESGCM"        # OpenSSL cipher list (TLS <= 1.2)
    alpn = ["h2", "http/1.1"]
    verify = "cafile"               # "system", "cafile" (trust only cafile), "off" (no verification)
    cafile = "~/ca/office.pem"
    cert = "~/certs/me.pem"         # client certificate (PEM; may hold the key too)
    key = "~/certs/me.key"
    # starttls = "smtp"             # upgrade in the protocol first (openssl s_client -starttls), or "auto"
    # starttls_name = "mail.example.com"  # the EHLO/LHLO name (s_client -name)
    # xmpphost = "example.com"      # the XMPP domain (s_client -xmpphost)

    [app]                           # optional: what to do once connected
    http = true                     # send a minimal HTTP/1.1 GET for path with the right Host header
    path = "/"
    # send = "EHLO me\\r\\n"        # or send this text and record the answer (not with http)

Every value is validated by ``tlsbench.engine.spec.build_spec``; a bad one is reported with the file
and the line of its key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tlsbench.engine.errors import InputError
from tlsbench.engine.options import OPTIONS, owner, spec_from_values, values_of
from tlsbench.engine.proxies import PROXY_KINDS, ProxySpec
from tlsbench.engine.spec import format_hostport, split_hostport
from tlsbench.profiles.model import Profile

TABLES = ("proxy", "tls", "local", "app")


def _known_keys() -> dict[str, tuple[str, ...]]:
    keys: dict[str, list[str]] = {"": ["description", "unavailable", "host", "port"], "proxy": list(HOP_KEYS), "app": ["http"]}
    for option in OPTIONS:
        if option.toml is not None:
            table, key = option.toml
            keys.setdefault(table, []).append(key)
    return {table: tuple(names) for table, names in keys.items()}


HOP_KEYS = ("type", "host", "port", "user", "password_env", "cafile", "insecure")
# The keys tlsbench owns, per table ("" = top level), from the option declarations. Anything else in
# a file is the person's own and is kept.
KNOWN_KEYS: dict[str, tuple[str, ...]] = _known_keys()
# Written even at their default value, as earlier versions did (a file says what it means).
ALWAYS = ("timeout", "tls", "sni_mode", "verify")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FormatError(Exception):
    """A value in a profile file is wrong; `table`/`key` say where, `line` once it is known."""

    def __init__(self, message: str, table: str = "", key: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.table, self.key, self.line = table, key, line


# --- writing -----------------------------------------------------------------------------------

def _applies(option, values: dict) -> bool:
    field = option.field
    return field is None or field.visible is None or bool(field.visible(values))


def profile_to_data(profile: Profile) -> dict[str, Any]:
    """The TOML data for a profile, in file order. Never holds a password."""
    spec = profile.spec
    values = values_of(spec)
    data: dict[str, Any] = {}
    if profile.description:
        data["description"] = profile.description
    if profile.unavailable:
        data["unavailable"] = profile.unavailable
    data["host"] = spec.host
    data["port"] = spec.port
    hops = [_hop_table(hop) for hop in spec.proxies if hop.source is None]
    tables: dict[str, dict[str, Any]] = {"proxy": {}, "tls": {}, "local": {}, "app": {}}
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
    for table in ("tls", "local", "app"):
        if tables[table]:
            data[table] = tables[table]
    return data


def _hop_table(hop) -> dict[str, Any]:
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

def parse_text(text: str) -> dict[str, Any]:
    """Parse TOML; raise FormatError with the line of a syntax error, or of nesting past MAX_DEPTH
    (checked on the text first: tomllib, like tomlkit later, recurses)."""
    from tlsbench.file_limits import MAX_DEPTH, toml_deep_line

    deep = toml_deep_line(text)
    if deep is not None:
        raise FormatError(f"nested more than {MAX_DEPTH} levels deep; not read", line=deep)
    try:
        return tomllib.loads(text)
    except RecursionError:  # not expected after the check above; never a traceback all the same
        raise FormatError(f"nested more than {MAX_DEPTH} levels deep; not read") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            line, where = int(match.group(1)), f", column {match.group(2)}"
            reason = message[:match.start()].strip()
        elif "(at end of document)" in message:
            # e.g. an unclosed [ or string: the file ends where the value should
            line, where = max(1, len(text.splitlines())), " at the end of the file"
            reason = message.replace("(at end of document)", "").strip()
        else:
            line, where, reason = None, "", message
        raise FormatError(f"TOML syntax error{where}: {reason}", line=line) from None
    except ValueError:  # tomllib lets int()'s refusal of a 4300+ digit number out as it is
        from tlsbench.file_limits import toml_value_problem

        line, reason = toml_value_problem(text)
        raise FormatError(reason, line=line) from None


def data_to_profile(name: str, data: Mapping[str, Any], *, path: Path | None = None,
                    environ: Mapping[str, str] | None = None) -> Profile:
    """Validate file data into a Profile, or raise FormatError naming the table and key at fault."""
    env = os.environ if environ is None else environ
    for table in TABLES:
        if table in data and not isinstance(data[table], dict) and not (
                table == "proxy" and isinstance(data[table], list)):
            raise FormatError(f"{table!r} must be a table ([{table}])", "", table)
    description = _get(data, "", "description", str) or ""
    unavailable = _get(data, "", "unavailable", str) or ""
    host = _get(data, "", "host", str, required=True)
    port = _get(data, "", "port", int, required=True)
    _check_port(port, "")
    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.toml is None:
            continue
        table, key = option.toml
        container = data if table == "" else data.get(table, {})
        raw = _get(container, table, key, option.toml_type)
        if raw is not None:
            values[option.name] = str(raw) if option.name == "local_port" else raw
    _check_choices(values)
    _check_consistency(data, values)
    app = data.get("app", {})
    http = _get(app, "app", "http", bool) or False
    values["app"] = "http" if http else ("send" if values.get("send") is not None else "none")
    values["target"] = format_hostport(host, port)
    values["proxies"] = [_read_hop(hop, env) for hop in _hop_tables(data.get("proxy"))]
    try:
        spec = spec_from_values(values, environ=dict(env))
    except InputError as exc:
        at_table, at_key = _error_key(exc.field)
        message = str(exc).replace("target port ", "port ", 1).replace("target ", "host ", 1)
        raise FormatError(message, at_table, at_key) from None
    from tlsbench.profiles.secrets import find_passwords, ignored_note

    return Profile(name=name, spec=spec, description=description, unavailable=unavailable, path=path,
                   password_note=ignored_note(find_passwords(data)))


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
        extra = [k for k in KNOWN_KEYS["tls"] if k != "enabled" and k in tls]
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
    kind = _get(proxy, "proxy", "type", str, required=True)
    if kind not in PROXY_KINDS:
        raise FormatError(f"proxy type {kind!r} is not one of {', '.join(PROXY_KINDS)}", "proxy", "type")
    p_host = _get(proxy, "proxy", "host", str, required=True)
    p_port = _get(proxy, "proxy", "port", int, required=True)
    user = _get(proxy, "proxy", "user", str)
    password_env = _get(proxy, "proxy", "password_env", str)
    if password_env is not None and not _ENV_NAME.fullmatch(password_env):
        raise FormatError(f"password_env {password_env!r} is not an environment variable name",
                          "proxy", "password_env")
    if password_env is not None and user is None:
        raise FormatError("password_env is set but user is not", "proxy", "password_env")
    if user is not None and ":" in user:
        raise FormatError("user must not hold ':' (passwords are never stored; use password_env)",
                          "proxy", "user")
    _check_port(p_port, "proxy")
    cafile = _get(proxy, "proxy", "cafile", str)
    insecure = _get(proxy, "proxy", "insecure", bool) or False
    if (cafile or insecure) and kind != "https":
        raise FormatError("cafile and insecure are for a proxy of type \"https\"", "proxy",
                          "cafile" if cafile else "insecure")
    try:
        host, port = split_hostport(format_hostport(p_host, p_port), "proxy")
    except InputError as exc:
        raise FormatError(str(exc), "proxy", "host") from None
    return ProxySpec(kind, host, port, user, None, password_env, cafile=cafile, insecure=insecure)


_TYPE_NAMES = {str: "a string", int: "a whole number", bool: "true or false", float: "a number",
               list: "a list", dict: "a table"}


def _get(table: Mapping[str, Any], table_name: str, key: str, types: type | tuple[type, ...],
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


# --- finding the line of a key -------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_\-\"'. ]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_\-.]+))\s*=""")


def find_key_line(text: str, table: str, key: str | None) -> int | None:
    """1-based line of `key` in `[table]` (or of the table header when key is None); None if not found.

    tomlkit keeps no line numbers for values, so this scans the text: enough for the flat files
    tlsbench writes and for the usual hand edits, including dotted keys such as ``tls.alpn = [...]``.
    """
    current = ""
    header_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            current = header.group(1).replace('"', "").replace("'", "").replace(" ", "")
            if current == table and header_line is None:
                header_line = number
            continue
        match = _KEY.match(line)
        if not match or key is None:
            continue
        name = next(g for g in match.groups() if g is not None)
        full = f"{current}.{name}" if current else name
        wanted = f"{table}.{key}" if table else key
        if full == wanted:
            return number
    return header_line if table else None

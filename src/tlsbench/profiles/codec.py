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
    type = "socks5h"                # the proxy URL scheme: socks5h (the proxy resolves the name), socks5, http, ...
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

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tlsbench.engine.connection_data import (ALWAYS, CONNECTION_KEYS, HOP_KEYS, TABLES, FormatError, check_tables,
                                             connection_to_data, data_to_spec, typed)
from tlsbench.profiles.model import Profile

__all__ = ["ALWAYS", "HOP_KEYS", "KNOWN_KEYS", "TABLES", "FormatError", "data_to_profile", "find_key_line",
           "parse_text", "profile_to_data"]

# The keys tlsbench owns, per table ("" = top level): the connection's, and a profile's own.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {**CONNECTION_KEYS,
                                          "": ("description", "unavailable", *CONNECTION_KEYS[""])}


# --- writing -----------------------------------------------------------------------------------

def profile_to_data(profile: Profile) -> dict[str, Any]:
    """The TOML data for a profile, in file order. Never holds a password."""
    data: dict[str, Any] = {}
    if profile.description:
        data["description"] = profile.description
    if profile.unavailable:
        data["unavailable"] = profile.unavailable
    data.update(connection_to_data(profile.spec))
    return data


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
    check_tables(data)
    description = typed(data, "", "description", str) or ""
    unavailable = typed(data, "", "unavailable", str) or ""
    spec = data_to_spec(data, environ=environ)
    from tlsbench.profiles.secrets import find_passwords, ignored_note

    return Profile(name=name, spec=spec, description=description, unavailable=unavailable, path=path,
                   password_note=ignored_note(find_passwords(data)))


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

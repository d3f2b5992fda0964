"""Input checks at the edge: what a value must be for the protocol to carry it, as small pure functions.

Every CLI option, form field and profile value that ends up on the wire passes one of these
before anything connects, so a value that cannot be sent is refused with one line (InputError,
exit 2) naming the field — never sent half-encoded, never blamed on the server.

- ALPN (RFC 7301): each protocol 1-255 bytes (as UTF-8), the whole ProtocolNameList within the
  extension's 16-bit length.
- SNI (RFC 6066): a DNS host name, not an IP address; no trailing dot on the wire; IDNA for
  non-ASCII labels; at most 255 bytes (the HostName field's length).
- `--send` / `serve --reply`: bytes as given, with the escapes \\r \\n \\t \\\\ and \\xHH; any
  other backslash sequence is an error rather than a guess.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tlsbench.errors import InputError
from tlsbench.visible import is_hidden

if TYPE_CHECKING:
    import ssl

ALPN_MAX_PROTOCOL = 255  # one opaque<1..2^8-1>
ALPN_MAX_LIST = 65535 - 2  # ProtocolNameList<2..2^16-1> inside extension_data<0..2^16-1>
SNI_MAX = 255  # HostName<1..2^16-1> in the RFC, but DNS names end at 253 (255 on the wire)
ESCAPES_HELP = r"escapes: \r \n \t \\ \xHH (one byte)"

_SIMPLE = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}
_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)


def _shown(text: str) -> str:
    from tlsbench.visible import visible

    return repr(visible(text, keep_newlines=False, double_backslashes=False))


# --- ALPN ------------------------------------------------------------------------------------------

def check_alpn(protocols: str | Iterable[str] | None, field: str = "alpn") -> tuple[str, ...]:
    """The protocols as a tuple (a comma-separated string is split); InputError when one cannot be sent."""
    if protocols is None:
        return ()
    items = protocols.split(",") if isinstance(protocols, str) else list(protocols)
    if isinstance(protocols, str) and not protocols.strip():
        return ()
    out = []
    total = 0
    for item in items:
        if not isinstance(item, str):
            raise InputError(f"{field} protocol {item!r} is not text", field=field)
        name = item.strip()
        if not name:
            raise InputError(f"{field}: an empty protocol name (check the commas)", field=field)
        if any(ch.isspace() or is_hidden(ch) for ch in name):
            raise InputError(f"{field} protocol {_shown(name)} holds spaces, control or invisible characters",
                             field=field)
        try:
            size = len(name.encode("utf-8"))
        except UnicodeEncodeError:
            raise InputError(f"{field} protocol {_shown(name)} is not valid Unicode text", field=field) from None
        if size > ALPN_MAX_PROTOCOL:
            raise InputError(f"{field} protocol {_shown(name[:20])}... is {size} bytes; ALPN allows "
                             f"1-{ALPN_MAX_PROTOCOL}", field=field)
        total += 1 + size
        out.append(name)
    if total > ALPN_MAX_LIST:
        raise InputError(f"{field}: {len(out)} protocols take {total} bytes; the ALPN extension holds at most "
                         f"{ALPN_MAX_LIST}", field=field)
    return tuple(out)


def alpn_wire(protocols: Iterable[str]) -> bytes:
    """The ProtocolNameList body: each protocol as a length byte and its UTF-8 bytes."""
    out = bytearray()
    for name in protocols:
        raw = name.encode("utf-8")
        out.append(len(raw))
        out += raw
    return bytes(out)


def set_alpn(ctx: ssl.SSLContext, protocols: Iterable[str]) -> None:
    """Offer (client) or accept (server) these ALPN protocols on an ssl.SSLContext.

    The public set_alpn_protocols() encodes each name as ASCII and raises on anything else; ALPN
    names are bytes on the wire, so a non-ASCII name (already checked by check_alpn) goes in as its
    UTF-8 bytes through the setter that method itself calls.
    """
    protocols = tuple(protocols)
    if not protocols:
        return
    if all(p.isascii() for p in protocols):
        ctx.set_alpn_protocols(list(protocols))
    else:
        # Private (no stub declares it), present since Python 3.5.
        ctx._set_alpn_protocols(alpn_wire(protocols))  # type: ignore[attr-defined]


# --- SNI -------------------------------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def check_sni(name: str, field: str = "sni") -> str:
    """A host name that SNI can carry (RFC 6066): not an IP address, valid labels, IDNA for non-ASCII.

    Returns the name as given (stripped; one trailing dot dropped: the wire form has none).
    """
    if not isinstance(name, str):
        raise InputError(f"{field} must be a host name", field=field)
    text = name.strip()
    if not text:
        raise InputError(f"{field} is empty", field=field)
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        raise InputError(f"{field} {_shown(text)} is an IP address; SNI carries host names only (RFC 6066)",
                         field=field)
    if any(ch.isspace() or is_hidden(ch) for ch in text):
        raise InputError(f"{field} {_shown(text)} holds spaces, control or invisible characters", field=field)
    if text.endswith(".."):
        raise InputError(f"{field} {_shown(text)} ends with more than one dot", field=field)
    bare = text[:-1] if text.endswith(".") else text
    if not bare:
        raise InputError(f"{field} {_shown(text)} is not a host name", field=field)
    try:
        ascii_name = bare if bare.isascii() else bare.encode("idna").decode("ascii")
    except UnicodeError:
        raise InputError(f"{field} {_shown(text)} is not a valid host name (IDNA refuses it)", field=field) \
            from None
    if len(ascii_name) > 253:
        raise InputError(f"{field} is {len(ascii_name)} characters long; a host name has at most 253", field=field)
    for label in ascii_name.split("."):
        if not _LABEL.match(label):
            raise InputError(f"{field} {_shown(text)} is not a valid host name (bad label {_shown(label)})",
                             field=field)
    return bare


# --- --send / --reply --------------------------------------------------------------------------------

def unescape_bytes(text: str, field: str = "send") -> bytes:
    r"""The bytes that `text` asks for: UTF-8 of the text, with \r \n \t \\ \xHH escapes applied.

    Any other backslash sequence (\q, a trailing \, \x4) is an InputError: guessing would send
    something the person did not write.
    """
    out = bytearray()
    pos = 0
    while True:
        found = text.find("\\", pos)
        if found < 0:
            out += _utf8(text[pos:], field)
            return bytes(out)
        out += _utf8(text[pos:found], field)
        nxt = text[found + 1:found + 2]
        if nxt in _SIMPLE:
            out += _SIMPLE[nxt].encode("ascii")
            pos = found + 2
        elif nxt == "x":
            digits = text[found + 2:found + 4]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise InputError(f"{field}: \\x needs two hex digits (at {_shown(text[found:found + 4])}); "
                                 f"{ESCAPES_HELP}", field=field)
            out.append(int(digits, 16))
            pos = found + 4
        elif nxt == "":
            raise InputError(f"{field} ends with a lone backslash; write \\\\ for a backslash ({ESCAPES_HELP})",
                             field=field)
        else:
            raise InputError(f"{field}: unknown escape {_shown(text[found:found + 2])}; {ESCAPES_HELP}",
                             field=field)


def _utf8(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{field} is not valid Unicode text", field=field) from None


def unescape_text(text: str | None, field: str = "send") -> str | None:
    """unescape_bytes() as a str that encodes back to exactly those bytes.

    Bytes that are not UTF-8 (from \\xHH) are kept as surrogate escapes, so the engine sends them
    with `.encode("utf-8", "surrogateescape")` — see `to_wire()`.
    """
    if text is None:
        return None
    return unescape_bytes(text, field).decode("utf-8", "surrogateescape")


def to_wire(text: str) -> bytes:
    """The bytes of a text from unescape_text() (surrogate escapes back to the raw bytes they stand for)."""
    return text.encode("utf-8", "surrogateescape")


def escape_text(text: str) -> str:
    r"""The inverse of unescape_text(): text to type again (\r \n \t \\ \xHH for the rest of C0/C1, DEL
    and raw bytes; invisible format characters as \xHH of their UTF-8 bytes)."""
    from tlsbench.visible import is_hidden

    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\r\n\t":
            out.append({"\r": "\\r", "\n": "\\n", "\t": "\\t"}[ch])
        elif 0xDC80 <= ord(ch) <= 0xDCFF:
            out.append("\\x%02x" % (ord(ch) - 0xDC00))
        elif is_hidden(ch):
            out.append("".join("\\x%02x" % b for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
    return "".join(out)


# --- ports, seconds, files ---------------------------------------------------------------------------

def check_port(value: str | int, field: str = "port", *, allow_zero: bool = False) -> int:
    """A TCP port from ASCII digits (no sign, no '_', no other scripts' digits): 1-65535 (or 0 if allowed)."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(f"{field} {value!r} is not a number", field=field)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            raise InputError(f"{field} {_shown(text)} is out of range ({low}-65535)", field=field)
        if not (text.isascii() and text.isdigit()):
            raise InputError(f"{field} {_shown(text)} is not a number (digits 0-9 only)", field=field)
        if len(text) > 5:
            raise InputError(f"{field} {_shown(text)} is out of range ({low}-65535)", field=field)
        value = int(text, 10)
    if not low <= value <= 65535:
        raise InputError(f"{field} {value} is out of range ({low}-65535)", field=field)
    return value


_SECONDS = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")


def check_seconds(value: str | int | float, field: str = "timeout", *, maximum: float = 3600) -> float:
    """A number of seconds, more than 0 and at most `maximum`: plain decimal digits, no nan/inf/'_'."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{field} {value!r} is not a number of seconds", field=field)
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and _SECONDS.match(text)):
            raise InputError(f"{field} {_shown(text)} is not a number of seconds", field=field)
        value = float(text)
    seconds = float(value)
    if not 0 < seconds <= maximum:  # also refuses nan
        raise InputError(f"{field} {value!r} must be between 0 and {maximum:g} seconds", field=field)
    return seconds


def check_input_file(path: str, field: str, what: str | None = None) -> str:
    """A file the user names (certificate, key, CA): it must be, or link to, a regular file we can read.

    A FIFO or a device would make OpenSSL block or read forever; it is refused at once, named.
    """
    import os

    from tlsbench.safe_files import FileRefused, check_regular

    if not path:
        raise InputError(f"{what or field} path is empty", field=field)
    expanded = os.path.expanduser(path)
    try:
        check_regular(expanded)
    except FileRefused as exc:
        raise InputError(f"{what or field} {_shown(path)} {exc.reason}", field=field) from None
    if not os.access(expanded, os.R_OK):
        raise InputError(f"{what or field} {_shown(path)} is not readable", field=field)
    return expanded

"""Say what a client's first bytes are: a TLS handshake, an HTTP request, or something else, in words.

`sniff(data)` says what the bytes are and whether more bytes could change the answer
(`decided=False` while, say, only "GE" of "GET " has arrived). A TLS handshake ("16 03") is only
recognised here; its records are reassembled and judged by clienthello.HelloReader. Every
`description` is derived from the bytes themselves (the record type and length they declare, the
request line they hold), so a finding can quote it and stay true to its evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tlsbench.engine.listener.alerts import alert_name
from tlsbench.engine.listener.clienthello import RECORD_HANDSHAKE, RECORD_TYPES, record_type_name, size, version_name

Kind = Literal["tls", "http", "connect", "h2", "sslv2", "tls-record", "ssh", "zeros", "text", "binary", "empty"]
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT", "PRI")
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_REQUEST_LINE = re.compile(rb"^([A-Z]{3,7}) (\S{1,8192}) (HTTP/\d(?:\.\d)?)\r?$")
MAX_LINE = 8192
ALERT_LEVELS = {1: "warning", 2: "fatal"}


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    decided: bool
    request_line: str | None = None  # as received (latin-1), for HTTP and CONNECT
    method: str | None = None
    target: str | None = None  # the request target; for CONNECT the host:port asked for
    description: str = ""  # what the bytes are, in words taken from them


def sniff(data: bytes) -> Sniffed:
    if not data:
        return Sniffed("empty", decided=False, description="nothing")
    first = data[0]
    if first == RECORD_HANDSHAKE and (len(data) < 2 or data[1] == 3):
        return Sniffed("tls", decided=False, description="a TLS handshake record")
    if first in RECORD_TYPES and (len(data) < 2 or data[1] == 3):
        return _tls_record(data)
    if first & 0x80:
        return _sslv2(data)
    if data.startswith(H2_PREFACE[:16]):
        return Sniffed("h2", decided=True, request_line="PRI * HTTP/2.0", method="PRI", target="*",
                       description="the HTTP/2 connection preface (PRI * HTTP/2.0): HTTP/2 in clear text")
    if data[:1] == b"P" and H2_PREFACE.startswith(data):
        return Sniffed("h2", decided=False, description="the start of the HTTP/2 connection preface")
    if first == 0:
        return _zeros(data)
    if data.startswith(b"SSH-"):
        line = data.split(b"\n", 1)[0].rstrip(b"\r")[:120].decode("latin-1")
        return Sniffed("ssh", decided=b"\n" in data or len(data) >= 255,
                       description=f"an SSH client's banner ({line})")
    return _http_or_other(data)


def _tls_record(data: bytes) -> Sniffed:
    kind = data[0]
    if len(data) < 5:
        return Sniffed("tls-record", decided=False, description=f"the header of a TLS {record_type_name(kind)} record")
    length = int.from_bytes(data[3:5], "big")
    what = f"a TLS {RECORD_TYPES[kind]} record ({size(length)}, version {version_name(int.from_bytes(data[1:3], 'big'))})"
    if kind == 0x15:
        if len(data) < 7 and length >= 2:
            return Sniffed("tls-record", decided=False, description=what)
        if length >= 2:
            level = ALERT_LEVELS.get(data[5], f"level {data[5]}")
            what = f"a TLS alert record: {alert_name(data[6])} ({data[6]}, {level})"
    return Sniffed("tls-record", decided=True, description=f"{what} where a ClientHello was expected")


def _sslv2(data: bytes) -> Sniffed:
    """SSL 2.0's record header: 2 bytes with the top bit set (length), then the message type."""
    if len(data) < 5:
        return Sniffed("sslv2" if len(data) < 3 or data[2] == 1 else "binary", decided=len(data) >= 3 and data[2] != 1,
                       description="binary data that is not a TLS record")
    length = ((data[0] & 0x7F) << 8) | data[1]
    if data[2] == 1:
        offered = version_name(int.from_bytes(data[3:5], "big"))
        return Sniffed("sslv2", decided=True,
                       description=f"an SSLv2-format ClientHello ({size(length)}, highest version offered {offered})")
    return _binary(data)


def _zeros(data: bytes) -> Sniffed:
    if data.count(0) == len(data):
        return Sniffed("zeros", decided=len(data) >= 5, description=f"{size(len(data))} of zeros (NUL)")
    return _binary(data)


def _binary(data: bytes) -> Sniffed:
    return Sniffed("binary", decided=True, description=f"binary data that is not a TLS record "
                                                        f"(starts {data[:8].hex(' ')})")


def _printable(data: bytes) -> bool:
    sample = data[:256]
    ok = sum(1 for b in sample if 0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D))
    return ok >= 0.9 * len(sample)


def _http_or_other(data: bytes) -> Sniffed:
    word = data.split(b" ", 1)[0]
    if b" " not in data[:9]:
        prefix = len(data) < 9 and any(m.encode().startswith(word) for m in HTTP_METHODS)
        return _other(data, decided=not prefix)
    method = word.decode("latin-1")
    if method not in HTTP_METHODS:
        return _other(data, decided=True)
    end = data.find(b"\n")
    kind: Kind = "connect" if method == "CONNECT" else "http"
    if end < 0:
        # A request line whose end has not arrived yet: HTTP all the same, unless it grows absurd.
        return Sniffed(kind, decided=len(data) > MAX_LINE, request_line=data[:200].decode("latin-1"),
                       method=method, description=f"the start of an HTTP {method} request")
    line = data[:end]
    match = _REQUEST_LINE.match(line)
    target = match.group(2).decode("latin-1") if match else None
    shown = line.rstrip(b"\r").decode("latin-1")
    return Sniffed(kind, decided=True, request_line=shown, method=method, target=target,
                   description=f"an HTTP request ({shown[:120]})")


def _other(data: bytes, decided: bool) -> Sniffed:
    if _printable(data):
        line = data.split(b"\n", 1)[0].rstrip(b"\r")[:120].decode("latin-1")
        return Sniffed("text", decided=decided, description=f"plain text ({line})")
    return Sniffed("binary", decided=decided, description=f"binary data that is not a TLS record "
                                                           f"(starts {data[:8].hex(' ')})")


def describe_undecided(data: bytes) -> str:
    """Words for first bytes that ended before they said what they were (no guess at a protocol)."""
    if not data:
        return "nothing"
    if data[0] == 0 and data.count(0) == len(data):
        return f"{size(len(data))} of zeros (NUL)"
    return _other(data, decided=True).description


def headers_complete(data: bytes | bytearray) -> bool:
    """True once an HTTP request's header block has ended (blank line)."""
    return b"\r\n\r\n" in data or b"\n\n" in data

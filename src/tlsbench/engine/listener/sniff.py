"""Classify a client's first bytes: a TLS ClientHello, an HTTP request line (CONNECT apart), or other.

`sniff(data)` says what the bytes are and whether more bytes could change the answer
(`decided=False` while, say, only "GE" of "GET " has arrived).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tlsbench.engine.listener.clienthello import RECORD_HANDSHAKE, hello_complete

Kind = Literal["tls", "http", "connect", "other", "empty"]
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT", "PRI")
_REQUEST_LINE = re.compile(rb"^([A-Z]{3,7}) (\S{1,8192}) (HTTP/\d(?:\.\d)?)\r?$")
MAX_LINE = 8192


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    decided: bool
    request_line: str | None = None  # as received (latin-1), for HTTP and CONNECT
    method: str | None = None
    target: str | None = None  # the request target; for CONNECT the host:port asked for


def sniff(data: bytes) -> Sniffed:
    if not data:
        return Sniffed("empty", decided=False)
    if data[0] == RECORD_HANDSHAKE:
        if len(data) < 3:
            return Sniffed("tls", decided=False)
        if data[1] == 3:
            return Sniffed("tls", decided=hello_complete(data) or len(data) > 20000)
        return Sniffed("other", decided=True)
    word = data.split(b" ", 1)[0]
    if b" " not in data[:9]:
        prefix = any(m.encode().startswith(word) for m in HTTP_METHODS) and len(data) < 9
        return Sniffed("other", decided=not prefix)
    method = word.decode("latin-1")
    if method not in HTTP_METHODS:
        return Sniffed("other", decided=True)
    end = data.find(b"\n")
    if end < 0:
        # A request line whose end has not arrived yet: HTTP all the same, unless it grows absurd.
        return Sniffed("connect" if method == "CONNECT" else "http", decided=len(data) > MAX_LINE,
                       request_line=data[:200].decode("latin-1"), method=method)
    line = data[:end]
    match = _REQUEST_LINE.match(line)
    target = match.group(2).decode("latin-1") if match else None
    kind: Kind = "connect" if method == "CONNECT" else "http"
    return Sniffed(kind, decided=True, request_line=line.rstrip(b"\r").decode("latin-1"),
                   method=method, target=target)


def headers_complete(data: bytes) -> bool:
    """True once an HTTP request's header block has ended (blank line)."""
    return b"\r\n\r\n" in data or b"\n\n" in data

"""An HTTP proxy's answer to CONNECT, parsed from bytes (no I/O): status line and headers.

`parse_head(data)` returns None while the head is incomplete, a `ReplyHead` once the blank line
arrived, and raises `ReplyError` for bytes that are not an HTTP/1.x response head (or one larger
than MAX_HEAD). Header values are kept as latin-1 text, exactly as sent.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_HEAD = 16384  # bytes: a CONNECT reply head is a few hundred


class ReplyError(ValueError):
    """The bytes are not an HTTP/1.x response head; the message says what they are instead."""


class ReplyHead(NamedTuple):
    version: str  # "HTTP/1.1"
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # (name, value) in order, names as sent
    head_length: int  # bytes up to and including the blank line

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    def all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def status_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}".rstrip()


def _end_of_head(data: bytes) -> int:
    """Index just past the blank line (CRLFCRLF, or LFLF from lax servers), or -1."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = data.find(sep)
        if at >= 0:
            return at + len(sep)
    return -1


def parse_head(data: bytes) -> ReplyHead | None:
    if not data:
        return None
    if not b"HTTP/"[:len(data)] == data[:5]:
        raise ReplyError("not an HTTP response (it does not start with 'HTTP/')")
    end = _end_of_head(data)
    if end < 0:
        if len(data) > MAX_HEAD:
            raise ReplyError(f"the response head is longer than {MAX_HEAD} bytes")
        return None
    text = data[:end].decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    version = parts[0]
    if not version.startswith("HTTP/1.") or len(parts) < 2 or not (len(parts[1]) == 3 and parts[1].isdigit()):
        raise ReplyError(f"a malformed status line: {status_line[:80]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding: part of the previous value
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ReplyError(f"a malformed header line: {line[:80]!r}")
        headers.append((name, value.strip()))
    return ReplyHead(version, int(parts[1]), parts[2] if len(parts) > 2 else "", tuple(headers), end)


def auth_schemes(head: ReplyHead) -> list[str]:
    """The schemes a 407's Proxy-Authenticate headers offer: ['Basic', 'NTLM', ...]."""
    out = []
    for value in head.all("Proxy-Authenticate"):
        scheme = value.strip().split(" ", 1)[0].split(",", 1)[0]
        if scheme and scheme not in out:
            out.append(scheme)
    return out

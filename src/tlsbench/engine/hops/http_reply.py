"""An HTTP proxy's answer to CONNECT, parsed from bytes (no I/O): status line and headers.

`parse_head(data)` returns None while the head is incomplete, a `ReplyHead` once the blank line
arrived, and raises `ReplyError` for bytes that are not an HTTP/1.x response head, or
`HeadTooLong` (with what could be read of it) for a head larger than MAX_HEAD. Header values are
kept as latin-1 text, exactly as sent.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_HEAD = 16384  # bytes: a CONNECT reply head is a few hundred


class ReplyError(ValueError):
    """The bytes are not an HTTP/1.x response head; the message says what they are instead."""


class HeadTooLong(ReplyError):
    """The head did not end within MAX_HEAD bytes. `partial` is its status line and the header
    lines complete within the limit (None when even the status line was not valid)."""

    def __init__(self, message: str, partial: "ReplyHead | None") -> None:
        super().__init__(message)
        self.partial = partial


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
    """Index just past the first blank line (CRLFCRLF, or LFLF from lax servers), or -1."""
    ends = [at + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (at := data.find(sep)) >= 0]
    return min(ends) if ends else -1


def parse_head(data: bytes) -> ReplyHead | None:
    if not data:
        return None
    if not b"HTTP/"[:len(data)] == data[:5]:
        raise ReplyError("an answer that does not start with 'HTTP/'")
    end = _end_of_head(data[:MAX_HEAD + 4])
    if end < 0:
        if len(data) > MAX_HEAD:
            raise HeadTooLong(f"a response head longer than {MAX_HEAD} bytes", _partial(data[:MAX_HEAD]))
        if b"\n" in data:
            _status(data.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1"))  # a bad status line needs no more bytes
        return None
    text = data[:end].decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    version, status, reason = _status(lines[0])
    return ReplyHead(version, status, reason, _headers(lines[1:]), end)


def _status(status_line: str) -> tuple[str, int, str]:
    parts = status_line.split(" ", 2)
    version = parts[0]
    if not version.startswith("HTTP/1."):
        raise ReplyError(f"a status line of another HTTP version: {status_line[:80]!r} (CONNECT was sent "
                         "as HTTP/1.1)" if len(version) > 5 and version[5:6].isdigit() else
                         f"a malformed status line: {status_line[:80]!r}")
    if len(parts) < 2 or not (len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit()):
        raise ReplyError(f"a malformed status line: {status_line[:80]!r}")
    return version, int(parts[1]), parts[2] if len(parts) > 2 else ""


def _headers(lines: list[str]) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for line in lines:
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
    return tuple(headers)


def _partial(data: bytes) -> ReplyHead | None:
    """The status line and the header lines complete within `data` (a head cut at the limit)."""
    text = data.decode("latin-1").replace("\r\n", "\n")
    lines = text.split("\n")[:-1]  # the last piece is an unfinished line
    if not lines:
        return None
    try:
        version, status, reason = _status(lines[0])
        headers = _headers(lines[1:])
    except ReplyError:
        return None
    return ReplyHead(version, status, reason, headers, len(data))


def auth_schemes(head: ReplyHead) -> list[str]:
    """The schemes a 407's Proxy-Authenticate headers offer: ['Basic', 'NTLM', ...]."""
    out = []
    for value in head.all("Proxy-Authenticate"):
        scheme = value.strip().split(" ", 1)[0].split(",", 1)[0]
        if scheme and scheme not in out:
            out.append(scheme)
    return out

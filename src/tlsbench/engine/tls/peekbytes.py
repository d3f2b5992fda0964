"""Recognise what a peer sent when it was not TLS: HTTP, a mail/FTP/SSH banner, binary.

`looks_like_tls()` checks for a TLS record header (handshake or alert, version 3.x);
`classify()` names what the bytes look like and what the user probably wants instead;
`walk_records()` and `server_hello_version()` read the TLS records a server sent, so a diagnosis
can cite a record cut short, one larger than TLS allows, or the version a ServerHello really chose.
"""


from typing import NamedTuple

from tlsbench.engine.hops.starttls.protocols import DIALOGUES


_TLS_RECORD_TYPES = (0x14, 0x15, 0x16, 0x17)


def looks_like_tls(data: bytes) -> bool:
    """True when data starts like a TLS record (`16 03 0x`, `15 03 0x`, ...)."""
    if not data:
        return False
    if data[0] not in _TLS_RECORD_TYPES:
        return False
    if len(data) >= 2 and data[1] != 0x03:
        return False
    if len(data) >= 3 and data[2] > 0x04:
        return False
    return True


class PeerGuess(NamedTuple):
    # http | ssh | tls | sslv2 | text | binary | empty, or a STARTTLS protocol's name (its greeting)
    kind: str
    description: str  # "an HTTP response (HTTP/1.1 400 Bad Request)"
    starttls: str | None = None  # the openssl s_client -starttls name, when STARTTLS may be what is wanted
    http_status: int | None = None


def first_line(data: bytes, limit: int = 120) -> str:
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    return line[:limit].decode("latin-1")


def _printable_share(data: bytes) -> float:
    if not data:
        return 0.0
    ok = sum(1 for b in data if 0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D))
    return ok / len(data)


def classify(data: bytes) -> PeerGuess:
    """Say what the first bytes from a peer look like."""
    if not data:
        return PeerGuess("empty", "nothing")
    if len(data) >= 3 and looks_like_tls(data):
        return PeerGuess("tls", "a TLS record (the peer speaks TLS)")
    line = first_line(data)
    upper = data[:16].upper()
    if data.startswith(b"HTTP/"):
        status = None
        parts = line.split(" ", 2)
        if len(parts) >= 2 and len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit():
            status = int(parts[1])
        return PeerGuess("http", f"an HTTP response ({line})", http_status=status)
    if data.startswith(b"SSH-"):
        return PeerGuess("ssh", f"an SSH server banner ({line})")
    if is_sslv2_server_hello(data):
        return PeerGuess("sslv2", "an SSL 2.0 ServerHello (SSL 2.0, prohibited since 2011 by RFC 6176)")
    for name, dialogue in DIALOGUES.items():  # each protocol knows its greeting
        words = dialogue.recognise(data, line)
        if words is not None:
            return PeerGuess(name, words, starttls=name)
    if upper.startswith((b"<!DOCTYPE", b"<HTML")):
        return PeerGuess("http", "an HTML page without an HTTP status line")
    if _printable_share(data[:256]) >= 0.9:
        return PeerGuess("text", f"plain text ({line})")
    return PeerGuess("binary", "binary data that is not a TLS record")


def is_sslv2_server_hello(data: bytes) -> bool:
    """An SSL 2.0 SERVER-HELLO: a 2-byte record header (high bit set), message type 4, a
    certificate type byte, then server version 0x0002."""
    return len(data) >= 7 and data[0] & 0x80 != 0 and data[2] == 0x04 and data[5:7] == b"\x00\x02"


MAX_RECORD = 2 ** 14 + 2048  # the largest TLSCiphertext fragment TLS 1.2 allows (TLS 1.3: 2^14 + 256)
RECORD_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}


class RecordWalk(NamedTuple):
    """The TLS records in a run of bytes: how many were whole, and the one in progress."""

    whole: int  # complete records
    partial: tuple[str, int, int] | None = None  # (content type, bytes of it received, bytes it needs)
    oversized: tuple[str, int, int] | None = None  # (content type, length announced, offset) beyond MAX_RECORD


def walk_records(data: bytes) -> RecordWalk:
    """Walk TLS record headers (type, version, length) through `data`; stops at bytes that are not
    a record header."""
    at, whole = 0, 0
    while at < len(data):
        head = data[at:at + 5]
        if not looks_like_tls(head):
            break
        kind = RECORD_TYPES.get(head[0], str(head[0]))
        if len(head) < 5:
            return RecordWalk(whole, (kind, len(head), 5))
        length = int.from_bytes(head[3:5], "big")
        if length > MAX_RECORD:
            return RecordWalk(whole, None, (kind, length, at))
        have = len(data) - at
        if have < 5 + length:
            return RecordWalk(whole, (kind, have, 5 + length))
        at += 5 + length
        whole += 1
    return RecordWalk(whole)


MAX_SERVER_HELLO = 2 + 32 + 1 + 32 + 2 + 1 + 2 + 0xFFFF  # every field at its largest


class ServerHelloRead(NamedTuple):
    """What the first handshake message of a server's bytes says, read strictly."""

    version: int | None = None  # the version chosen, when the ServerHello is whole and well-formed
    problem: str | None = None  # why it is malformed ("it claims 16777215 bytes, ..."), when it is
    claimed: int | None = None  # the length its header claims


def _handshake_bytes(data: bytes) -> tuple[bytes, bool]:
    """The payload of the leading whole handshake records, and whether a record was left unfinished."""
    out, at = bytearray(), 0
    while at + 5 <= len(data) and data[at] == 22 and looks_like_tls(data[at:at + 3]):
        length = int.from_bytes(data[at + 3:at + 5], "big")
        if length > MAX_RECORD or at + 5 + length > len(data):
            return bytes(out + data[at + 5:at + 5 + length]), True
        out += data[at + 5:at + 5 + length]
        at += 5 + length
    return bytes(out), at < len(data) and data[at] == 22


def server_hello(data: bytes) -> ServerHelloRead:
    """Read the ServerHello a server's bytes start with, strictly: the version it chose (its
    supported_versions when present, else legacy_version), or the rule it breaks. Both None when the
    bytes hold no ServerHello, or not all of it yet."""
    if len(data) < 5 + 4 or data[0] != 22 or data[5] != 2:
        return ServerHelloRead()
    payload, unfinished = _handshake_bytes(data)
    if len(payload) < 4:
        return ServerHelloRead()
    claimed = int.from_bytes(payload[1:4], "big")
    if claimed > MAX_SERVER_HELLO:
        return ServerHelloRead(None, f"its ServerHello claims {claimed:,} bytes, more than any ServerHello can "
                               f"hold ({MAX_SERVER_HELLO:,}), in a record of {int.from_bytes(data[3:5], 'big')} "
                               "bytes", claimed)
    if claimed < 2 + 32 + 1 + 2 + 1:
        return ServerHelloRead(None, f"its ServerHello claims {claimed} bytes, fewer than its fixed fields take "
                               "(38)", claimed)
    if len(payload) < 4 + claimed:
        return ServerHelloRead(claimed=claimed) if unfinished else ServerHelloRead(
            None, f"its ServerHello claims {claimed:,} bytes and its records hold {len(payload) - 4}", claimed)
    body = payload[4:4 + claimed]
    legacy = int.from_bytes(body[0:2], "big")
    pos = 34
    sid = body[pos]
    if sid > 32:
        return ServerHelloRead(None, f"its ServerHello's session ID claims {sid} bytes (at most 32)", claimed)
    pos += 1 + sid + 2 + 1  # session id, cipher suite, compression method
    if pos > len(body):
        return ServerHelloRead(None, "its ServerHello ends inside its fixed fields", claimed)
    if pos == len(body):
        return ServerHelloRead(legacy, None, claimed)
    if pos + 2 > len(body) or pos + 2 + int.from_bytes(body[pos:pos + 2], "big") != len(body):
        return ServerHelloRead(None, "its ServerHello's extensions length does not match the message", claimed)
    pos += 2
    chosen = legacy
    while pos < len(body):
        if pos + 4 > len(body):
            return ServerHelloRead(None, "its ServerHello ends inside an extension header", claimed)
        kind, size = int.from_bytes(body[pos:pos + 2], "big"), int.from_bytes(body[pos + 2:pos + 4], "big")
        if pos + 4 + size > len(body):
            return ServerHelloRead(None, f"its ServerHello's extension {kind:#06x} claims {size} bytes beyond the "
                                   "message's end", claimed)
        if kind == 0x002B:
            if size != 2:
                return ServerHelloRead(None, f"its ServerHello's supported_versions holds {size} bytes (must be 2)",
                                       claimed)
            chosen = int.from_bytes(body[pos + 4:pos + 6], "big")
        pos += 4 + size
    return ServerHelloRead(chosen, None, claimed)


def server_hello_version(data: bytes) -> int | None:
    """The version a well-formed ServerHello chose; None when the bytes hold none (or a malformed one)."""
    return server_hello(data).version

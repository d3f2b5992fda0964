"""Hand-built ClientHellos, as bytes: any suite IDs, any version, for asking a server what it accepts.

The local OpenSSL cannot offer RC4, 3DES, EXPORT or single-DES suites, nor choose which TLS 1.3
suites to offer; the enumeration does not need a full handshake either — the server's choice is
in its ServerHello. `client_hello()` builds the record; `read_answer()` reads what came back
(a ServerHello, an alert, or something else), sans-IO.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Sequence

from tlsbench.engine.tls import tlsparse

TLS13 = 0x0304
GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0016,
          0x001A, 0x001B, 0x001C)
SIGNATURE_SCHEMES = (0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B,
                     0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602, 0x0203, 0x0201,
                     0x0202, 0x0101)
RENEGOTIATION_SCSV = 0x00FF


def _u8(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def _u16(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _ext(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _u16(data)


def _u16s(values: Sequence[int]) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


def client_hello(suites: Sequence[int], version: int, sni: str | None = None, *, extensions: bool = True,
                 extra: Sequence[tuple[int, bytes]] = (), groups: Sequence[int] = GROUPS,
                 shares: Sequence[tuple[int, bytes]] | None = None, random: bytes | None = None,
                 session_id: bytes | None = None) -> bytes:
    """A ClientHello record offering `suites` for `version` (0x0300 SSL 3.0 ... 0x0304 TLS 1.3).

    TLS 1.3 is offered through supported_versions, with the key shares given ((group, key) pairs;
    by default a throwaway x25519 share, enough for a ServerHello); older versions by the legacy
    version field alone. SSL 3.0 hellos carry no extensions (`extensions=False` too). `random` and
    `session_id` are kept by a client that must send its hello again after a HelloRetryRequest.
    """
    tls13 = version >= TLS13
    legacy = 0x0303 if tls13 else version
    offered = list(suites) + ([] if tls13 else [RENEGOTIATION_SCSV])
    sid = session_id if session_id is not None else (os.urandom(32) if tls13 else b"")
    body = legacy.to_bytes(2, "big") + (random or os.urandom(32)) + _u8(sid)
    body += _u16(_u16s(offered)) + _u8(b"\x00")
    if extensions and version > 0x0300:
        ext = b""
        if sni:
            name = sni.encode("idna") if not sni.isascii() else sni.encode("ascii")
            ext += _ext(0, _u16(b"\x00" + _u16(name)))
        ext += _ext(10, _u16(_u16s(groups)))
        ext += _ext(11, _u8(b"\x00"))
        ext += _ext(13, _u16(_u16s(SIGNATURE_SCHEMES)))
        ext += _ext(35, b"")  # session_ticket
        ext += _ext(23, b"")  # extended_master_secret
        for kind, value in extra:
            ext += _ext(kind, value)
        if tls13:
            ext += _ext(43, _u8(_u16s([TLS13])))
            entries = [(0x001D, os.urandom(32))] if shares is None else shares
            ext += _ext(51, _u16(b"".join(_u16s([group]) + _u16(key) for group, key in entries)))
            ext += _ext(45, _u8(b"\x01"))  # psk_dhe_ke
        size = 4 + len(body) + 2 + len(ext)
        if 252 <= size <= 511:  # some servers hang on hellos of 256-511 bytes (RFC 7685)
            ext += _ext(21, bytes(max(512 - size - 4, 1)))
        body += _u16(ext)
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    record_version = 0x0300 if version == 0x0300 else 0x0301
    return b"\x16" + record_version.to_bytes(2, "big") + _u16(message)


class Answer(NamedTuple):
    kind: str  # "hello" | "alert" | "closed" | "not-tls" | "incomplete"
    hello: tlsparse.ServerHello | None = None
    alert: int | None = None  # alert description code
    first_bytes: bytes = b""


def read_answer(data: bytes, eof: bool = False) -> Answer:
    """What the server's first bytes say: its ServerHello, an alert, or not yet enough bytes."""
    handshake = bytearray()
    pos = 0
    while pos + 5 <= len(data):
        ctype, length = data[pos], int.from_bytes(data[pos + 3:pos + 5], "big")
        if data[pos + 1] != 3 or ctype not in (20, 21, 22, 23):
            return Answer("not-tls", first_bytes=data[:64])
        if pos + 5 + length > len(data):
            break
        payload = data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if ctype == 21 and len(payload) >= 2:
            return Answer("alert", alert=payload[1], first_bytes=data[:64])
        if ctype == 22:
            handshake += payload
            if len(handshake) >= 4:
                need = 4 + int.from_bytes(handshake[1:4], "big")
                if len(handshake) >= need:
                    hello = tlsparse.parse_server_hello(bytes(handshake[:need]))
                    if hello is None:
                        return Answer("not-tls", first_bytes=data[:64])
                    return Answer("hello", hello=hello)
    if data and len(data) >= 5 and (data[1] != 3 or data[0] not in (20, 21, 22, 23)):
        return Answer("not-tls", first_bytes=data[:64])
    if data and len(data) < 5 and not data.startswith(b"\x16\x03"[:len(data)]) and not data.startswith(
            b"\x15\x03"[:len(data)]):
        return Answer("not-tls", first_bytes=data[:64])
    return Answer("closed" if eof else "incomplete", first_bytes=data[:64])

"""The stapled OCSP response: asked for with a hand-built TLS 1.2 ClientHello carrying
status_request, read from the server's CertificateStatus message.

Python's `ssl` cannot ask for a stapled response. In TLS 1.2 the server's first flight (ServerHello,
Certificate, CertificateStatus, ..., ServerHelloDone) travels in the clear, so one more connection
with our own ClientHello (engine/tls/hellobuild.py) reads it without completing a handshake. In TLS 1.3
the response rides inside the encrypted Certificate message: the hand-built TLS 1.3 client
(engine/tls13/) reads it there (stages/revocation.py chooses which).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from tlsbench.engine.tls import hellobuild

STATUS_REQUEST = (5, b"\x01\x00\x00\x00\x00")  # status_type ocsp, no responder IDs, no extensions


class Flight(NamedTuple):
    kind: str  # "done" (ServerHelloDone seen) | "alert" | "closed" | "not-tls" | "incomplete"
    messages: tuple[tuple[int, bytes], ...] = ()  # (handshake type, body)
    alert: int | None = None


def read_flight(data: bytes, eof: bool = False) -> Flight:
    """The handshake messages of a TLS 1.2 server's first flight, up to ServerHelloDone."""
    buffer = bytearray()
    pos = 0
    messages: list[tuple[int, bytes]] = []
    while pos + 5 <= len(data):
        ctype, length = data[pos], int.from_bytes(data[pos + 3:pos + 5], "big")
        if data[pos + 1] != 3 or ctype not in (20, 21, 22):
            return Flight("not-tls")
        if pos + 5 + length > len(data):
            break
        payload = data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if ctype == 21 and len(payload) >= 2:
            return Flight("alert", tuple(messages), payload[1])
        if ctype != 22:
            continue
        buffer += payload
        while len(buffer) >= 4:
            need = 4 + int.from_bytes(buffer[1:4], "big")
            if len(buffer) < need:
                break
            messages.append((buffer[0], bytes(buffer[4:need])))
            del buffer[:need]
            if messages[-1][0] == 14:  # ServerHelloDone
                return Flight("done", tuple(messages))
    return Flight("closed" if eof else "incomplete", tuple(messages))


def ocsp_from_flight(messages: Iterable[tuple[int, bytes]]) -> bytes | None:
    """The DER OCSPResponse of a CertificateStatus message (type 22), or None."""
    for htype, body in messages:
        if htype == 22 and len(body) >= 4 and body[0] == 1:
            length = int.from_bytes(body[1:4], "big")
            if len(body) >= 4 + length:
                return body[4:4 + length]
    return None


def stapling_hello(suites: Sequence[int], sni: str | None) -> bytes:
    return hellobuild.client_hello(suites, 0x0303, sni, extra=(STATUS_REQUEST,))

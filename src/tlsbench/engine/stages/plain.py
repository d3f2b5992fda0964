"""A Channel over a plain socket, for the app stage when there is no TLS (--no-tls)."""

from __future__ import annotations

import socket


class PlainChannel:
    """sendall/recv straight on the socket; recv returns b"" on an orderly close."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(data)

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def settimeout(self, seconds: float | None) -> None:
        self._sock.settimeout(seconds)

"""Byte streams the stages pass along: a connected socket, or TLS over another stream (and the
datagram socket a datagram-transport stage talks through).

A stage takes the stream the previous one left (the TCP connection, the tunnel a proxy opened,
TLS to an HTTPS proxy) and may leave a new one on top. Every stream reads and writes under one
deadline and one cancel token, owned by the `Link` at the bottom (the socket), and records the
bytes each way for the stage in flight: that transcript is the evidence a diagnosis cites.
"""

from __future__ import annotations

import socket
import time
from typing import Protocol

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.capture.taps import tap_for
from tlsbench.errors import Cancelled

CHUNK = 65536
KEEP = 8192  # bytes kept per direction and stage, as evidence


class PeerClosed(Exception):
    """The peer closed its side (EOF) before the operation finished."""


class Transcript:
    """What crossed a stream during one stage, bounded: bytes sent, bytes received, in order."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.received = bytearray()
        self.sent_chunks: list[bytes] = []  # one entry per send, for evidence that reads as messages
        self.bytes_sent = 0
        self.bytes_received = 0

    def on_send(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        if len(self.sent) < KEEP:
            part = bytes(data[:KEEP - len(self.sent)])
            self.sent += part
            self.sent_chunks.append(part)

    def on_receive(self, data: bytes) -> None:
        self.bytes_received += len(data)
        if len(self.received) < KEEP:
            self.received += data[:KEEP - len(self.received)]


class Stream(Protocol):
    """What a stage talks through. `recv` returns b"" when the peer closed its side."""

    link: "Link"
    transcript: "Transcript | None"

    def send(self, data: bytes) -> None: ...

    def recv(self, size: int = CHUNK, limit: float | None = None) -> bytes: ...

    def unread(self, data: bytes) -> None:
        """Push bytes back: the next recv returns them first (a hop read past its reply)."""

    def close(self) -> None: ...


class Datagrams(Protocol):
    """What a datagram-transport stage (QUIC) talks through: whole datagrams, each kept apart.

    It shares the `Link` (one deadline, one cancel token) and the per-stage transcript with the
    byte streams, so the runner's deadline, cancelling and evidence work the same over UDP; it is
    `RunState.datagrams`, beside `RunState.stream`, and a step's kind says which one it uses
    (`StageKind.transport`).
    """

    link: "Link"
    transcript: "Transcript | None"

    def send(self, datagram: bytes) -> None: ...

    def recv(self, limit: float | None = None) -> bytes: ...

    def close(self) -> None: ...


class Link:
    """The socket at the bottom of every stream: one deadline, one cancel token.

    The runner sets `deadline` when a stage starts; every read and write below any layer waits
    at most until then. `cancel()` from another thread shuts the socket down, which wakes any
    read in flight. When the run is captured (--pcap), `tap` notes every chunk that crossed the
    socket (engine/capture/taps.py); otherwise it is None.
    """

    def __init__(self, sock: socket.socket, cancel: CancelToken) -> None:
        self.sock = sock
        self.cancel = cancel
        self.deadline = time.monotonic() + 3600.0
        cancel.attach(sock)
        self.tap = tap_for(sock)

    def set_timeout(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self) -> None:
        if self.cancel.cancelled:
            raise Cancelled("cancelled")

    def _arm(self, limit: float | None) -> None:
        self.check()
        wait = self.remaining() if limit is None else min(limit, self.remaining())
        if wait <= 0:
            raise TimeoutError("deadline reached")
        self.sock.settimeout(wait)

    def send(self, data: bytes) -> None:
        self._arm(None)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.check()
            if self.tap is not None:
                self.tap.failed(exc)
            raise
        if self.tap is not None:
            self.tap.sent(data)

    def recv(self, size: int, limit: float | None = None) -> bytes:
        """One read; raises TimeoutError at the deadline (or after `limit` seconds)."""
        self._arm(limit)
        try:
            data = self.sock.recv(size)
        except OSError as exc:
            # A socket shut down from another thread shows up as an error or an EOF.
            self.check()
            if self.tap is not None:
                self.tap.failed(exc)
            raise
        self.check()
        if self.tap is not None:
            self.tap.received(data)
        return data


class SocketStream:
    """The TCP connection itself, with a push-back buffer (bytes a hop read past its reply)."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.transcript: Transcript | None = None
        self._pending = bytearray()

    def unread(self, data: bytes) -> None:
        self._pending[:0] = data

    def send(self, data: bytes) -> None:
        if self.transcript is not None:
            self.transcript.on_send(data)
        self.link.send(data)

    def recv(self, size: int = CHUNK, limit: float | None = None) -> bytes:
        if self._pending:
            out = bytes(self._pending[:size])
            del self._pending[:size]
            return out
        data = self.link.recv(size, limit)
        if data and self.transcript is not None:
            self.transcript.on_receive(data)
        return data

    def close(self) -> None:
        try:
            self.link.sock.close()
        except OSError:
            pass


class DatagramSocket:
    """A connected datagram (UDP) socket: each send is one datagram, each recv returns one."""

    MAX_DATAGRAM = 65535

    def __init__(self, link: Link) -> None:
        self.link = link
        self.transcript: Transcript | None = None

    def send(self, datagram: bytes) -> None:
        if self.transcript is not None:
            self.transcript.on_send(datagram)
        self.link.send(datagram)

    def recv(self, limit: float | None = None) -> bytes:
        data = self.link.recv(self.MAX_DATAGRAM, limit)
        if self.transcript is not None:
            self.transcript.on_receive(data)
        return data

    def close(self) -> None:
        try:
            self.link.sock.close()
        except OSError:
            pass


def socket_stream(sock: socket.socket, cancel: CancelToken) -> SocketStream:
    """A stream over a socket connected elsewhere, recording its bytes."""
    stream = SocketStream(Link(sock, cancel))
    stream.transcript = Transcript()
    return stream


def recv_exactly(stream: Stream, count: int) -> bytes:
    """Read exactly `count` bytes; raises PeerClosed with what did arrive as its argument."""
    out = bytearray()
    while len(out) < count:
        data = stream.recv(count - len(out))
        if not data:
            raise PeerClosed(bytes(out))
        out += data
    return bytes(out)

"""Moving TLS bytes by hand: an `SSLObject` over a connected socket through two MemoryBIOs.

`BioPump` runs a handshake step by step so every byte the peer sent before the handshake
completed is kept (the evidence when the peer does not speak TLS), with one deadline for the
whole handshake. `TlsChannel` is the `Channel` the app stage uses over the finished session.
"""

from __future__ import annotations

import socket
import ssl
import time

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.errors import Cancelled

KEEP_FIRST = 4096  # bytes of the peer's early data kept as evidence


class PeerClosed(Exception):
    """The peer closed the TCP connection (EOF) before the TLS operation finished."""


class BioPump:
    def __init__(self, sock: socket.socket, sslobj: ssl.SSLObject, incoming: ssl.MemoryBIO,
                 outgoing: ssl.MemoryBIO, cancel: CancelToken, deadline: float) -> None:
        self.sock = sock
        self.sslobj = sslobj
        self.incoming = incoming
        self.outgoing = outgoing
        self.cancel = cancel
        self.deadline = deadline
        self.first_bytes = bytearray()  # raw bytes from the peer before the handshake completed
        self.bytes_sent = 0
        self.bytes_received = 0
        self.eof = False

    def _check_cancel(self) -> None:
        if self.cancel.cancelled:
            raise Cancelled("cancelled during TLS")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def flush(self) -> None:
        """Send whatever the TLS layer has queued."""
        data = self.outgoing.read()
        if data:
            self._check_cancel()
            self.sock.settimeout(max(self.remaining(), 0.001))
            try:
                self.sock.sendall(data)
            except OSError:
                self._check_cancel()
                raise
            self.bytes_sent += len(data)

    def fill(self, keep: bool = True, limit: float | None = None) -> bytes:
        """Read one chunk from the socket into the TLS layer; raise TimeoutError at the deadline."""
        self._check_cancel()
        wait = self.remaining() if limit is None else min(limit, self.remaining())
        if wait <= 0:
            raise TimeoutError("deadline reached")
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except OSError:
            # A socket shut down from another thread shows up as an error or an EOF.
            self._check_cancel()
            raise
        self._check_cancel()
        if not data:
            self.eof = True
            self.incoming.write_eof()
            raise PeerClosed()
        self.bytes_received += len(data)
        if keep and len(self.first_bytes) < KEEP_FIRST:
            self.first_bytes += data[:KEEP_FIRST - len(self.first_bytes)]
        self.incoming.write(data)
        return data

    def handshake(self) -> None:
        """Drive do_handshake() to the end; raises ssl.SSLError, OSError, TimeoutError, PeerClosed."""
        while True:
            try:
                self.sslobj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.fill()
            except ssl.SSLError:
                # Send the alert OpenSSL queued (the peer deserves to know), then report.
                try:
                    self.flush()
                except OSError:
                    pass
                raise

    def read_more_evidence(self, limit: float = 0.3) -> None:
        """After non-TLS bytes: one short extra read so the evidence holds a full line or two."""
        if len(self.first_bytes) >= 512 or self.eof:
            return
        try:
            self.fill(limit=limit)
        except (OSError, PeerClosed, Cancelled):
            pass


class TlsChannel:
    """sendall/recv over a finished TLS session; recv returns b"" when the peer closed."""

    def __init__(self, pump: BioPump, pending: bytes = b"") -> None:
        self._pump = pump
        self._pending = bytearray(pending)  # application data read during post-handshake checks
        self._timeout: float | None = None

    def settimeout(self, seconds: float | None) -> None:
        self._timeout = seconds

    def _arm(self) -> None:
        # Each call gets its own deadline; the handshake's deadline no longer applies.
        self._pump.deadline = time.monotonic() + (self._timeout if self._timeout is not None else 3600.0)

    def sendall(self, data: bytes) -> None:
        self._arm()
        view = memoryview(data)
        while view:
            n = self._pump.sslobj.write(view)
            view = view[n:]
            self._pump.flush()

    def recv(self, size: int) -> bytes:
        if self._pending:
            out = bytes(self._pending[:size])
            del self._pending[:size]
            return out
        self._arm()
        while True:
            try:
                return self._pump.sslobj.read(size)
            except ssl.SSLWantReadError:
                if self._pump.eof:
                    return b""
                self._pump.flush()
                try:
                    self._pump.fill(keep=False)
                except PeerClosed:
                    continue  # the EOF is now in the BIO; read() reports it below
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

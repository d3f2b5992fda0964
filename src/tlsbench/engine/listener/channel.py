"""Byte channels for one client: the raw socket, or TLS through MemoryBIO/SSLObject.

Both count the bytes that crossed the socket and enforce a per-read idle timeout and an
overall deadline, so a silent or trickling client cannot hold a thread forever.
"""

from __future__ import annotations

import socket
import ssl
import time

CHUNK = 16384


class ClientGone(Exception):
    """The client timed out or the listener is stopping; the reason is the message."""


class RawChannel:
    def __init__(self, sock: socket.socket, idle_timeout: float, deadline: float) -> None:
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.deadline = deadline  # time.monotonic() after which the client is cut off
        self.received = 0
        self.sent = 0

    def recv_raw(self, size: int = CHUNK) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ClientGone("the client's time ran out")
        self.sock.settimeout(min(self.idle_timeout, remaining))
        try:
            data = self.sock.recv(size)
        except (socket.timeout, TimeoutError):
            raise ClientGone(f"the client sent nothing for {self.idle_timeout:g} s") from None
        self.received += len(data)
        return data

    def send_raw(self, data: bytes) -> None:
        if data:
            self.sock.settimeout(self.idle_timeout)
            try:
                self.sock.sendall(data)
            except (socket.timeout, TimeoutError):
                raise ClientGone("the client stopped reading") from None
            self.sent += len(data)

    # the application-level interface, same for plain and TLS
    recv = recv_raw
    send = send_raw


class TlsChannel:
    """TLS over a raw channel: the SSLObject never touches the socket; we move the bytes."""

    def __init__(self, raw: RawChannel, sslobj: ssl.SSLObject, incoming: ssl.MemoryBIO,
                 outgoing: ssl.MemoryBIO) -> None:
        self.raw = raw
        self.sslobj, self.incoming, self.outgoing = sslobj, incoming, outgoing

    @property
    def received(self) -> int:
        return self.raw.received

    @property
    def sent(self) -> int:
        return self.raw.sent

    def flush(self) -> None:
        pending = self.outgoing.read()
        if pending:
            self.raw.send_raw(pending)

    def pull(self) -> None:
        """Move one chunk from the socket into OpenSSL (EOF included)."""
        data = self.raw.recv_raw()
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()

    def handshake(self) -> None:
        while True:
            try:
                self.sslobj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                if self.incoming.eof:
                    raise ssl.SSLEOFError("the client closed the connection during the handshake") from None
                self.pull()
            except ssl.SSLError:
                # send our alert, if OpenSSL wrote one, before reporting
                try:
                    self.flush()
                except OSError:
                    pass
                raise

    def recv(self, size: int = CHUNK) -> bytes:
        while True:
            try:
                return self.sslobj.read(size)
            except ssl.SSLWantReadError:
                self.flush()
                if self.incoming.eof:
                    return b""
                self.pull()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def send(self, data: bytes) -> None:
        if data:
            self.sslobj.write(data)
            self.flush()

    def close_notify(self) -> None:
        try:
            self.sslobj.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass
        try:
            self.flush()
        except (OSError, ClientGone):
            pass

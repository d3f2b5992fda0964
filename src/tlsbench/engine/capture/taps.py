"""Recording a run's own bytes as they cross its sockets, for a capture file (`--pcap`, the workbench).

A `Capture` is made by whoever wants one and made current for a run with `capturing()` (a context
variable: the run's thread, and the plans nested in its stages, see it; a run in another thread
does not, and a stage that connects from a thread of its own runs that work in a copy of its
context, `contextvars.copy_context().run`, for it to be captured). Every `Link` made while one is current asks `tap_for(sock)` for a `ConnectionTap`, which
notes each chunk the socket sent or received, when, and how the connection ended. With no capture
current, a run pays one lookup per connection and a None check per read and write.

TLS secrets come from a private key log per handshake (keylog.py): `TlsStream.handshake()` asks the
connection's tap for a `TlsKeys`, which points the SSL context's key log there for the handshake,
reads the lines, removes the log and puts back what the context had (a `--keylog` file gets the
same lines appended). A session whose plaintext carries a credential of the run (a CONNECT's
Proxy-Authorization inside TLS to an HTTPS proxy) is marked: its secrets never reach the file.
"""

from __future__ import annotations

import contextlib
import socket
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

if TYPE_CHECKING:  # stream.py imports this module: it stays light for a run that is not captured
    import ssl

    from tlsbench.engine.records.redact import Redactor

DEFAULT_LIMIT = 256 * 1024 * 1024  # payload bytes kept; past it, chunks are kept as lengths only

SENT, RECEIVED, PEER_CLOSED, PEER_RESET = "sent", "received", "peer-closed", "peer-reset"

_current: ContextVar["Capture | None"] = ContextVar("tlsbench_capture", default=None)


class Chunk(NamedTuple):
    """One thing that happened on one connection: bytes sent or received (or, past the capture's
    limit, only their count), or the peer's close or reset."""

    connection: int
    what: str
    at_ns: int  # wall clock (time.time_ns), as a capture file's timestamps are
    data: bytes | int  # the bytes, or how many there were when the capture was full


class Endpoint(NamedTuple):
    address: str
    port: int


class Connection(NamedTuple):
    """One connection of the run (TCP or UDP): its two real ends and when it was taken over."""

    number: int  # its place in the run: chunks name it
    family: int  # socket.AF_INET or AF_INET6
    udp: bool
    local: Endpoint
    remote: Endpoint
    opened_ns: int  # the connect had completed by then
    rtt_ns: int  # the kernel's round-trip estimate: how long before that the SYN left


class Captured(NamedTuple):
    """A finished capture as data (what pcapng.py writes; what the workbench's engine process hands back):
    the chunks already masked, the key lines of the sessions that may be read."""

    connections: tuple[Connection, ...]
    chunks: tuple[Chunk, ...]
    key_lines: tuple[bytes, ...]
    withheld: int  # TLS sessions whose secrets are left out (their plaintext carried a credential)
    cut: int  # payload bytes past the limit, kept as counts only
    limit: int
    unreadable: int = 0  # TLS sessions whose secrets could not be read (no private key log could be made)


class ConnectionTap:
    """What a Link reports to: each chunk sent or received, the peer's close or reset."""

    def __init__(self, capture: Capture, conn: Connection) -> None:
        self.capture, self.conn = capture, conn
        self.index, self.udp = conn.number, conn.udp

    def sent(self, data: bytes) -> None:
        self.capture.add(self.index, SENT, data)

    def received(self, data: bytes) -> None:
        if data or self.udp:  # an empty datagram is a datagram; b"" on a stream is the peer's FIN
            self.capture.add(self.index, RECEIVED, data)
        else:
            self.capture.add(self.index, PEER_CLOSED, b"")

    def failed(self, exc: OSError) -> None:
        """A read or write that failed: a reset by the peer is part of the exchange; the rest is ours."""
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)) and not self.udp:
            self.capture.add(self.index, PEER_RESET, b"")

    def tls_keys(self, sslobj: ssl.SSLObject) -> TlsKeys | None:
        return self.capture.tls_keys(sslobj)


class TlsKeys:
    """The secrets of one TLS session, read from a private key log made for its handshake."""

    def __init__(self, capture: Capture, context: ssl.SSLContext) -> None:
        from tlsbench.engine.capture.keylog import PrivateKeyLog

        self.capture = capture
        self.lines: list[bytes] = []
        self.carries_secret = False  # its plaintext holds a credential: these secrets stay out of the file
        self._carry = b""
        self._context = context
        self._previous: str | None = context.keylog_filename  # a --keylog file, or None
        self._log: PrivateKeyLog | None = PrivateKeyLog()
        try:
            context.keylog_filename = self._log.path
        except BaseException:
            self._log.remove()
            self._log = None
            raise

    def collect(self) -> None:
        """After the handshake (ended well or not): read the lines, remove the log, restore the context."""
        log, self._log = self._log, None
        if log is None:
            return
        try:
            data = log.read()
        finally:
            try:
                _keylog_to(self._context, self._previous)  # closes OpenSSL's handle on the private log
            except OSError:  # the --keylog file went away meanwhile: its lines are appended below anyway
                _keylog_to(self._context, None)
            log.remove()
        self.lines = [line for line in data.splitlines() if line.strip() and not line.startswith(b"#")]
        if self._previous and self.lines:
            _append(self._previous, self.lines)

    def plain(self, data: bytes) -> None:
        """Plaintext that crossed the session: does it carry a credential of the run?"""
        redactor = self.capture.redactor
        if self.carries_secret or not redactor.masks or not data:
            return
        window = self._carry + bytes(data)
        if redactor.found_in(window):
            self.carries_secret = True
        self._carry = window[-_longest(redactor):]


class QuicKeys:
    """The secrets of one QUIC connection: aioquic writes NSS key log lines to a file object it is
    given (`QuicConfiguration.secrets_log_file`); this one keeps them for the capture and passes them on
    to the --keylog file when there is one. QUIC carries no proxy credential: its secrets are kept."""

    carries_secret = False

    def __init__(self, also: Any = None) -> None:
        self.lines: list[bytes] = []
        self._also = also  # the --keylog file aioquic would otherwise write to

    def write(self, text: str) -> int:
        self.lines.extend(line.encode("ascii", "replace") for line in text.splitlines()
                          if line.strip() and not line.startswith("#"))
        if self._also is not None:
            self._also.write(text)
        return len(text)

    def flush(self) -> None:
        if self._also is not None:
            self._also.flush()

    def close(self) -> None:
        if self._also is not None:
            self._also.close()


def quic_keys(also: Any = None) -> QuicKeys | None:
    """A key collector for a QUIC connection of the current capture; None when the run is not captured."""
    capture = _current.get()
    if capture is None:
        return None
    keys = QuicKeys(also)
    capture.sessions.append(keys)
    return keys


def _keylog_to(context: ssl.SSLContext, path: str | None) -> None:
    context.keylog_filename = path  # type: ignore[assignment]  # None turns it off (the stub says str)


def _longest(redactor: Redactor) -> int:
    return max((len(form) for form in redactor.masks), default=1)


def _append(path: str, lines: list[bytes]) -> None:
    """The user's --keylog gets the session's lines, as OpenSSL would have written them."""
    import os

    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, b"".join(line + b"\n" for line in lines))
    except OSError:
        pass
    finally:
        os.close(fd)


class Capture:
    """What a run's connections exchanged, in order, bounded by `limit` payload bytes."""

    def __init__(self, limit: int = DEFAULT_LIMIT, redactor: Redactor | None = None) -> None:
        from tlsbench.engine.records.redact import Redactor

        self.limit = limit
        self.redactor = redactor if redactor is not None else Redactor({})
        self.connections: list[Connection] = []
        self.chunks: list[Chunk] = []
        self.sessions: list[TlsKeys | QuicKeys] = []
        self.kept = 0  # payload bytes kept so far
        self.cut = 0  # payload bytes past the limit, kept as counts only
        self.unreadable = 0  # TLS sessions whose secrets could not be read (no private key log)

    def add(self, index: int, what: str, data: bytes) -> None:
        kept: bytes | int = bytes(data)
        if self.cut or self.kept + len(data) > self.limit:  # once full, counts only: kept bytes stay whole
            kept = len(data)
            self.cut += len(data)
        else:
            self.kept += len(data)
        self.chunks.append(Chunk(index, what, time.time_ns(), kept))

    def connection(self, sock: socket.socket) -> ConnectionTap | None:
        """The tap for a connected IP socket; None for anything else (a socket pair to ssh)."""
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        try:
            local, remote = sock.getsockname(), sock.getpeername()
        except OSError:
            return None
        udp = sock.type == socket.SOCK_DGRAM
        conn = Connection(len(self.connections), sock.family, udp, Endpoint(local[0], local[1]),
                          Endpoint(remote[0], remote[1]), time.time_ns(), 0 if udp else _rtt_ns(sock))
        self.connections.append(conn)
        return ConnectionTap(self, conn)

    def tls_keys(self, sslobj: ssl.SSLObject) -> TlsKeys | None:
        """The session's key collector; None (and counted) when no private key log can be made: the
        handshake goes on, its bytes are captured, its secrets are not."""
        try:
            keys = TlsKeys(self, sslobj.context)
        except OSError:
            self.unreadable += 1
            return None
        self.sessions.append(keys)
        return keys

    def finished(self) -> Captured:
        """The capture as data, its credentials masked, the secrets of a session that carried one left out."""
        from tlsbench.engine.capture.masking import masked_chunks

        return Captured(tuple(self.connections), tuple(masked_chunks(self)),
                        tuple(line for keys in self.sessions if not keys.carries_secret for line in keys.lines),
                        sum(1 for keys in self.sessions if keys.carries_secret and keys.lines), self.cut, self.limit,
                        self.unreadable)


def _rtt_ns(sock: socket.socket) -> int:
    """The kernel's round-trip estimate (TCP_INFO) in ns; 0 where there is none."""
    from tlsbench.engine.route.sockinfo import tcp_info

    info = tcp_info(sock)
    return int(info.rtt_ms * 1_000_000) if info is not None and info.rtt_ms else 0


def tap_for(sock: socket.socket) -> ConnectionTap | None:
    """The current capture's tap for a new connection, or None when the run is not captured."""
    capture = _current.get()
    return None if capture is None else capture.connection(sock)


@contextlib.contextmanager
def capturing(capture: Capture | None) -> Iterator[None]:
    """Make `capture` the current one for the code inside (None: leave things as they are)."""
    if capture is None:
        yield
        return
    token = _current.set(capture)
    try:
        yield
    finally:
        _current.reset(token)

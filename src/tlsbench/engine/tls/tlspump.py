"""One TLS connection as bytes in, bytes out: an `SSLObject` over two MemoryBIOs, no I/O.

The pump never touches a socket. Its driver feeds it what the peer sent (`feed`), sends what it
has to send (`outgoing`), and asks it to make progress (`handshake`, `read`, `write`,
`close_notify`). So every byte the peer sent passes through the driver's hands (the evidence
when the peer does not speak TLS), and the same pump serves the client (driven over a blocking
stream, `TlsStream`) and the listener (driven from a selector).
"""


import ssl
import time
from typing import TYPE_CHECKING, NamedTuple

from tlsbench.engine.stream import CHUNK, Link, PeerClosed, Stream, Transcript

if TYPE_CHECKING:
    from tlsbench.engine.capture.taps import TlsKeys


class TlsPump:
    """`handshake()` / `read()` return None while they wait for the peer's bytes."""

    def __init__(self, context: ssl.SSLContext, *, server_side: bool = False, server_hostname: str | None = None,
                 session: ssl.SSLSession | None = None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing_bio = ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self.incoming, self.outgoing_bio, server_side=server_side,
                                       server_hostname=server_hostname, session=session)
        self.handshake_done = False
        self.peer_closed = False  # close_notify received, or EOF fed
        self.close_notify_received = False  # the peer closed TLS cleanly (not a bare EOF)

    def feed(self, data: bytes) -> None:
        """Bytes from the peer; b"" means the peer closed its side (EOF)."""
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()
            self.peer_closed = True

    def outgoing(self) -> bytes:
        """What the TLS layer wants sent to the peer now (may be b"")."""
        return self.outgoing_bio.read()

    def handshake(self) -> bool:
        """Advance the handshake; True once it is done. Raises ssl.SSLError (the alert for the peer
        is then in `outgoing()`)."""
        if self.handshake_done:
            return True
        try:
            self.sslobj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        self.handshake_done = True
        return True

    def read(self, size: int = CHUNK) -> bytes | None:
        """Application data; b"" when the peer closed (close_notify or EOF); None: feed me more."""
        try:
            data = self.sslobj.read(size)
            if not data:  # _ssl returns b"" (rather than raising) for a close_notify in some states
                self.peer_closed = self.close_notify_received = True
            return data
        except ssl.SSLWantReadError:
            if self.incoming.eof:
                return b""
            return None
        except ssl.SSLZeroReturnError:
            self.peer_closed = self.close_notify_received = True
            return b""
        except ssl.SSLEOFError:
            self.peer_closed = True
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            done = self.sslobj.write(view)
            view = view[done:]

    def close_notify(self) -> None:
        """Queue our close_notify (the peer's answer is not awaited)."""
        try:
            self.sslobj.unwrap()
        except ssl.SSLWantReadError:
            pass  # ours is queued; theirs has not come yet
        except (ssl.SSLError, ValueError):
            pass


class TlsStream:
    """TLS over another stream (a socket, a proxy's tunnel, TLS to an HTTPS proxy), blocking.

    `first_bytes` keeps what the peer sent before the handshake completed: the evidence when it
    does not speak TLS at all.
    """

    KEEP_FIRST = 4096

    def __init__(self, inner: Stream, pump: TlsPump) -> None:
        self.inner = inner
        self.link: Link = inner.link
        self.pump = pump
        self.transcript: Transcript | None = None
        self.first_bytes = bytearray()
        self.eof = False
        self.last_received: float | None = None  # time.monotonic() of the last bytes from the peer
        self._early = bytearray()  # application data read before anyone asked for it
        self.keys: TlsKeys | None = None  # the session's secrets, when the run is captured (--pcap)

    def unread(self, data: bytes) -> None:
        self._early += data

    def _flush(self) -> None:
        data = self.pump.outgoing()
        if data:
            self.inner.send(data)

    def fill(self, limit: float | None = None) -> None:
        data = self.inner.recv(CHUNK, limit) if limit is not None else self.inner.recv(CHUNK)
        if data:
            self.last_received = time.monotonic()
        if not self.pump.handshake_done and len(self.first_bytes) < self.KEEP_FIRST:
            self.first_bytes += data[:self.KEEP_FIRST - len(self.first_bytes)]
        self.pump.feed(data)
        if not data:
            self.eof = True
            raise PeerClosed(b"")

    def handshake(self) -> None:
        """Drive the handshake to its end; raises ssl.SSLError, OSError, TimeoutError, PeerClosed."""
        tap = self.link.tap
        if tap is not None and self.keys is None:
            self.keys = tap.tls_keys(self.pump.sslobj)
        try:
            self._handshake()
        finally:
            if self.keys is not None:
                self.keys.collect()  # the private key log is read and removed, however the handshake ended

    def _handshake(self) -> None:
        while True:
            try:
                done = self.pump.handshake()
            except ssl.SSLError:
                # Send the alert OpenSSL queued (the peer deserves to know), then report.
                try:
                    self._flush()
                except OSError:
                    pass
                raise
            self._flush()
            if done:
                return
            self.fill()

    def more_evidence(self, limit: float = 0.3) -> None:
        """After bytes that were not TLS: one short extra read, so the evidence holds a line or two."""
        if len(self.first_bytes) >= 512 or self.eof:
            return
        try:
            data = self.inner.recv(CHUNK, limit)
        except (OSError, TimeoutError):
            return
        self.first_bytes += data[:self.KEEP_FIRST - len(self.first_bytes)]
        if not data:
            self.eof = True

    def send(self, data: bytes) -> None:
        if self.transcript is not None:
            self.transcript.on_send(data)
        if self.keys is not None:
            self.keys.plain(data)
        self.pump.write(data)
        self._flush()

    def recv(self, size: int = CHUNK, limit: float | None = None) -> bytes:
        if self._early:
            out = bytes(self._early[:size])
            del self._early[:size]
            if self.transcript is not None:
                self.transcript.on_receive(out)
            if self.keys is not None:
                self.keys.plain(out)
            return out
        while True:
            data = self.pump.read(size)
            if data is not None:
                if data and self.transcript is not None:
                    self.transcript.on_receive(data)
                if self.keys is not None:
                    self.keys.plain(data)
                return data
            self._flush()
            try:
                self.fill(limit)
            except PeerClosed:
                continue  # the EOF is now in the BIO: read() reports it

    def finish(self, limit: float) -> "CloseInfo":
        """A clean TLS close: send close_notify, then read until the peer's close_notify or EOF
        (at most `limit` seconds). What the server sent after the handshake (TLS 1.3 session
        tickets) is read and processed on the way, so the kernel never answers unread data with a
        reset, and the session is there for resumption."""

        start = time.monotonic()
        end = start + limit
        how = "timeout"
        try:
            self.pump.close_notify()
            self._flush()
        except (OSError, TimeoutError):
            return CloseInfo(False, "error", (time.monotonic() - start) * 1000)
        while True:
            try:
                self.pump.sslobj.unwrap()
                how = "close_notify"
                break
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                how = "error"
                break
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                self.fill(left)
            except PeerClosed:
                how = "eof"
                break
            except (OSError, TimeoutError):
                how = "timeout" if time.monotonic() >= end else "error"
                break
        return CloseInfo(True, how, (time.monotonic() - start) * 1000)

    def close(self) -> None:
        """close_notify (unless finish() sent it), then close what lies beneath."""
        try:
            self.pump.close_notify()
            self._flush()
        except (OSError, TimeoutError):
            pass
        self.inner.close()


class CloseInfo(NamedTuple):
    """How a TLS connection ended: our close_notify sent, and how the peer answered."""

    close_notify_sent: bool
    peer: str  # "close_notify" (a clean close) | "eof" (TCP close without it) | "timeout" | "error"
    duration_ms: float

    def to_dict(self) -> dict:
        return {"close_notify_sent": self.close_notify_sent, "peer": self.peer,
                "duration_ms": round(self.duration_ms, 3)}

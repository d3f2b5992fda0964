"""aioquic's QuicConnection driven sans-IO over the run's datagram socket, on tlsbench's clock.

The connection does no I/O: tlsbench sends what `datagrams_to_send` gives, feeds every datagram the
peer sends to `receive_datagram`, waits no longer than `get_timer` (then `handle_timer`: loss
recovery, retransmitted Initials) and reads `next_event`. Every wait is bounded by the stage's
deadline on the Link; a connected UDP socket turns an ICMP port unreachable into ECONNREFUSED on
the next read, which is how "nothing listens on that UDP port" is told from "no answer at all".
aioquic is imported here, and this module only when a run asks for QUIC (before any clock).
"""

from __future__ import annotations

import errno
import logging
import ssl
import time
from typing import Callable, NamedTuple

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent
from aioquic.tls import CipherSuite

from tlsbench.engine.quic.wire import LongHeader, long_header
from tlsbench.engine.stream import Datagrams

H3_ALPN = "h3"
# aioquic logs through "quic"; what it says is in the stage's detail and findings, never on stderr
logging.getLogger("quic").addHandler(logging.NullHandler())
logging.getLogger("quic").propagate = False


class Closed(NamedTuple):
    """A CONNECTION_CLOSE: the peer's (it sent the frame) or aioquic's own (it refused the peer's bytes)."""

    by: str  # "peer" | "local"
    code: int
    frame_type: int | None
    reason: str
    application: bool = False  # an application close (HTTP/3's codes), not a transport one


class Failure(NamedTuple):
    kind: str  # "no-answer" | "stalled" | "icmp" | "version-negotiation" | "closed" | "socket"
    words: str = ""
    errno_name: str | None = None
    closed: Closed | None = None
    negotiation: LongHeader | None = None


def client_certificate(cert: str, key: str | None) -> QuicConfiguration:
    """--cert/--key read as aioquic reads them (before any clock); ValueError when they cannot be used."""
    config = QuicConfiguration(is_client=True)
    try:
        config.load_cert_chain(cert, key or None)
    except (ValueError, TypeError, OSError, IndexError) as exc:  # an encrypted key is a TypeError here
        raise ValueError(str(exc) or type(exc).__name__) from None
    if config.private_key is None:
        raise ValueError("no private key (give --key, or a PEM holding the key too)")
    return config


def configuration(server_name: str | None, alpn: tuple[str, ...] = (H3_ALPN,), keylog: str | None = None,
                  client: QuicConfiguration | None = None) -> QuicConfiguration:
    """aioquic's client settings: it verifies nothing itself (engine/quic/verify.py does, as OpenSSL)."""
    config = QuicConfiguration(is_client=True, alpn_protocols=list(alpn), verify_mode=ssl.CERT_NONE,
                               server_name=server_name)
    if client is not None:
        config.certificate, config.certificate_chain = client.certificate, client.certificate_chain
        config.private_key = client.private_key
    if keylog:
        config.secrets_log_file = open(keylog, "a", encoding="ascii")  # noqa: SIM115 - closed with the session
    return config


class QuicSession:
    """One QUIC connection over one connected datagram socket."""

    def __init__(self, datagrams: Datagrams, peer: tuple, config: QuicConfiguration,
                 now_ms: Callable[[], float]) -> None:
        self.datagrams = datagrams
        self.peer = peer
        self.config = config
        self.conn = QuicConnection(configuration=config)
        self.now_ms = now_ms
        self.initial_sent_ms: float | None = None
        self.first_packet_ms: float | None = None
        self.handshake_ms: float | None = None  # when the handshake completed (ms since the run began)
        self.alpn: str | None = None
        self.negotiation: LongHeader | None = None
        self.closed: Closed | None = None
        self.datagrams_sent = 0
        self.datagrams_received = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.group: int | None = None
        self.signature: int | None = None
        self.on_event: Callable[[QuicEvent], None] | None = None
        self._watch_server_hello()

    # --- the loop ----------------------------------------------------------------------------------

    def flush(self) -> None:
        for data, _ in self.conn.datagrams_to_send(now=time.monotonic()):
            if self.initial_sent_ms is None:
                self.initial_sent_ms = self.now_ms()
            self.datagrams_sent += 1
            self.bytes_sent += len(data)
            self.datagrams.send(data)

    def run_until(self, done: Callable[[], bool]) -> Failure | None:
        """Exchange datagrams until `done()` or the connection ends; a Failure says how it ended
        without `done()`. Raises Cancelled when the run is cancelled."""
        link = self.datagrams.link
        while True:
            try:
                self.flush()
            except (TimeoutError, OSError) as exc:  # the deadline, or an ICMP error reported on a send
                return self._socket_failure(exc)
            self._events()
            if done():
                return None
            if self.closed is not None:
                return Failure("closed", closed=self.closed)
            timer = self.conn.get_timer()
            wait = None if timer is None else timer - time.monotonic()
            if wait is not None and wait <= 0:
                self.conn.handle_timer(now=time.monotonic())
                continue
            try:
                data = self.datagrams.recv(limit=wait)
            except TimeoutError:
                if link.remaining() <= 0:
                    return self._socket_failure(TimeoutError())
                self.conn.handle_timer(now=time.monotonic())
                continue
            except OSError as exc:
                return self._socket_failure(exc)
            self.receive(data)

    def _socket_failure(self, exc: BaseException) -> Failure:
        """What the socket said: the deadline (no answer), ICMP port unreachable, another error."""
        self.datagrams.link.check()  # a socket shut down by a cancel: Cancelled, not the peer's doing
        if isinstance(exc, TimeoutError) and self.datagrams_received:
            return Failure("stalled", f"the server answered ({self.datagrams_received} datagram(s)), then nothing "
                                      "completed before the deadline")
        if isinstance(exc, TimeoutError):
            return Failure("no-answer", "no datagram came back before the deadline")
        if isinstance(exc, ConnectionRefusedError):
            return Failure("icmp", "ICMP port unreachable (ECONNREFUSED on the connected UDP socket)",
                           "ECONNREFUSED")
        code = getattr(exc, "errno", None) or 0
        return Failure("socket", f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}",
                       errno.errorcode.get(code))

    def receive(self, data: bytes) -> None:
        if self.first_packet_ms is None:
            self.first_packet_ms = self.now_ms()
        self.datagrams_received += 1
        self.bytes_received += len(data)
        header = long_header(data)
        if header is not None and header.negotiation and self.negotiation is None:
            self.negotiation = header
        self.conn.receive_datagram(data, self.peer, now=time.monotonic())
        self._note_close()

    def _note_close(self) -> None:
        event = getattr(self.conn, "_close_event", None)
        if self.closed is None and event is not None:
            # A peer's CONNECTION_CLOSE puts the connection in DRAINING; aioquic's own close in CLOSING
            # (or straight to TERMINATED when a Version Negotiation left no version in common).
            state = getattr(getattr(self.conn, "_state", None), "name", "")
            self.closed = Closed("peer" if state == "DRAINING" else "local", event.error_code, event.frame_type,
                                 event.reason_phrase, application=event.frame_type is None and state == "DRAINING")

    def _events(self) -> None:
        while (event := self.conn.next_event()) is not None:
            if isinstance(event, HandshakeCompleted) and self.handshake_ms is None:
                self.handshake_ms = self.now_ms()
                self.alpn = event.alpn_protocol
            elif isinstance(event, ConnectionTerminated) and self.closed is None:
                self._note_close()
                if self.closed is None:
                    self.closed = Closed("local", event.error_code, event.frame_type, event.reason_phrase)
            if self.on_event is not None:
                self.on_event(event)

    def handshake(self) -> Failure | None:
        self.conn.connect(self.peer, now=time.monotonic())
        return self.run_until(lambda: self.handshake_ms is not None)

    def close(self, code: int = 0, reason: str = "") -> None:
        """Say goodbye (CONNECTION_CLOSE), best effort: the socket is the runner's to close."""
        try:
            self.conn.close(error_code=code, reason_phrase=reason)
            self.flush()
        except (OSError, TimeoutError):
            pass
        log = self.config.secrets_log_file
        if log is not None:
            log.close()

    # --- what the handshake chose ------------------------------------------------------------------

    def _watch_server_hello(self) -> None:
        """The key-exchange group and the server's signature scheme: aioquic keeps no record of them, so
        its ServerHello and CertificateVerify handlers are wrapped (once the TLS context exists) to read
        them from the messages' bytes first. Best effort: aioquic's own handlers judge the messages."""
        connect = self.conn.connect

        def connect_and_watch(addr: tuple, now: float) -> None:
            connect(addr, now=now)
            tls = getattr(self.conn, "tls", None)
            hello = getattr(tls, "_client_handle_hello", None)
            verify = getattr(tls, "_client_handle_certificate_verify", None)
            if tls is None or hello is None or verify is None:
                return

            def read_hello(input_buf: object, output_buf: object) -> None:
                self.group = _read(input_buf, _hello_group)
                hello(input_buf, output_buf)

            def read_verify(input_buf: object) -> None:
                self.signature = _read(input_buf, _verify_scheme)
                verify(input_buf)

            tls._client_handle_hello = read_hello
            tls._client_handle_certificate_verify = read_verify

        self.conn.connect = connect_and_watch  # type: ignore[method-assign]

    @property
    def version(self) -> int | None:
        return getattr(self.conn, "_version", None)

    @property
    def cipher(self) -> str | None:
        schedule = getattr(getattr(self.conn, "tls", None), "key_schedule", None)
        suite = getattr(schedule, "cipher_suite", None)
        return f"TLS_{CipherSuite(suite).name}" if suite is not None else None

    @property
    def peer_chain_der(self) -> tuple[bytes, ...]:
        from cryptography.hazmat.primitives.serialization import Encoding

        tls = getattr(self.conn, "tls", None)
        leaf = getattr(tls, "_peer_certificate", None)
        if leaf is None:
            return ()
        rest = getattr(tls, "_peer_certificate_chain", None) or []
        return tuple(c.public_bytes(Encoding.DER) for c in [leaf, *rest])


def _read(buf: object, read: Callable[[bytes], int | None]) -> int | None:
    """A value read from a copy of a handshake message aioquic is about to handle (never disturbing it)."""
    try:
        return read(buf.data_slice(0, buf.capacity))  # type: ignore[attr-defined]
    except Exception:  # a message aioquic will refuse anyway: nothing to read
        return None


def _hello_group(message: bytes) -> int | None:
    from aioquic.buffer import Buffer
    from aioquic.tls import pull_server_hello

    hello = pull_server_hello(Buffer(data=message))
    return hello.key_share[0] if hello.key_share else None


def _verify_scheme(message: bytes) -> int | None:
    from aioquic.buffer import Buffer
    from aioquic.tls import pull_certificate_verify

    return int(pull_certificate_verify(Buffer(data=message)).algorithm)

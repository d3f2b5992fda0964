"""One accepted client, as a state machine the listener's event loop drives (no thread of its own).

The loop calls `on_readable`, `on_writable` and `on_timer`; the session reads and writes its
non-blocking socket once per call, moves TLS through the engine's `TlsPump` (bytes in, bytes out),
and reports events. Its states: `first` (collecting the first bytes until they say what they are:
a ClientHello is reassembled whole before it is judged), `handshake`, `app` (answering), `closing`
(the answer is out; the client's own close is awaited briefly, so how it closed is known), `done`.
Every way a client can misbehave ends this client only, with a `closed` event that names the
deadline or the close that ended it.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import TYPE_CHECKING, Any, Callable

from tlsbench.engine.listener import findings, proxyheader
from tlsbench.engine.listener.alerts import alert_from_reason
from tlsbench.engine.listener.clienthello import ClientHello, HelloReader, extension_name, size
from tlsbench.engine.tls.fingerprint import fingerprint
from tlsbench.engine.listener.deadlines import DeadlineName, Deadlines, deadline_words
from tlsbench.engine.listener.events import (ClientFinding, ClientHelloSeen, Closed, DataReceived, HandshakeDone,
                                             ProxyHeaderSeen)
from tlsbench.engine.listener.sniff import Sniffed, headers_complete, sniff
from tlsbench.engine.tls.tlspump import TlsPump

if TYPE_CHECKING:
    from tlsbench.engine.findings.model import Finding
    from tlsbench.engine.listener.events import ListenerEvent
    from tlsbench.engine.listener.server import Listener

CHUNK = 65536
MAX_HELLO_BUFFER = 262144  # records read for one ClientHello before the listener gives up on it
MAX_REQUEST = 65536  # an HTTP request head read before answering
OUT_HIGH, OUT_LOW = 262144, 65536  # stop reading a client that does not read our answers, and resume
LINGER = 2.0  # after the answer, how long the client's own close is awaited

_TLS_PORT_BODY = b"This port speaks TLS, but a plain HTTP request arrived. Use https:// instead.\n"
HTTP_400_ON_TLS_PORT = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_TLS_PORT_BODY), _TLS_PORT_BODY))


def http_response(body: str) -> bytes:
    """A minimal, complete HTTP/1.1 response: status line, length, and the connection closes."""
    payload = body.encode("utf-8", "surrogateescape")
    head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\nServer: tlsbench\r\n\r\n")
    return head.encode("ascii") + payload


def _subject_text(peer_cert: Any) -> str | None:
    """'commonName=x, organizationName=y' from getpeercert()'s nested tuples."""
    if not peer_cert:
        return None
    return ", ".join(f"{k}={v}" for rdn in peer_cert.get("subject", ()) for k, v in rdn)


class ClientSession:
    __slots__ = ("listener", "config", "sock", "client_id", "peer", "started", "deadlines", "state", "first",
                 "reader", "pump", "out", "received", "sent", "alert", "alert_bytes", "data_reported",
                 "hello_ok", "hs_began", "request", "app_total", "answered", "read_paused", "timer_at", "mask",
                 "done", "tls_port", "fd", "young", "proxy_checked")

    def __init__(self, listener: "Listener", sock: socket.socket, client_id: int, peer: tuple, now: float) -> None:
        self.listener, self.sock, self.client_id, self.peer = listener, sock, client_id, peer
        config = self.config = listener.config
        self.tls_port = config.tls
        self.started = now
        self.deadlines = Deadlines(now, config.client_timeout, config.handshake_limit() if config.tls else None,
                                   config.total_limit())
        self.state = "first"
        self.first = bytearray()  # first bytes that are not (yet) a TLS handshake
        self.reader: HelloReader | None = None
        self.pump: TlsPump | None = None  # made only once a ClientHello is whole: idle clients cost no SSL object
        self.out = bytearray()
        self.received = self.sent = 0
        self.alert: str | None = None  # the alert the client sent (through the message hook)
        self.alert_bytes: bytes | None = None
        self.data_reported = False
        self.hello_ok = False  # a whole, parsed ClientHello came first
        self.hs_began = 0.0
        self.request = bytearray()  # --http: the request head so far
        self.app_total = 0
        self.answered: str = ""  # what the listener answered (its label), once it has
        self.read_paused = False
        self.timer_at: float | None = None  # the listener's timer heap entry
        self.mask = 0
        self.done = False
        self.fd = sock.fileno()  # kept: the poller forgets it by number after the socket closed
        self.young = True  # polled with the newcomers (see poller.py)
        self.proxy_checked = False  # whether the first bytes were looked at for a PROXY header

    # -- reporting ----------------------------------------------------------------------------
    def emit(self, event_type: Callable[..., ListenerEvent], **fields: object) -> None:
        self.listener.emit(event_type(client_id=self.client_id, at_ms=self.listener.now_ms(), **fields))

    def finding(self, finding: Finding) -> None:
        self.listener.emit(ClientFinding(client_id=self.client_id, finding=finding, at_ms=self.listener.now_ms()))

    def reached(self) -> tuple[int, str]:
        """The port and address the client connected to (for the commands a finding suggests)."""
        try:
            local = self.sock.getsockname()
            return local[1], local[0]
        except OSError:
            return self.listener.port, self.config.bind

    def report_data(self, data: bytes) -> None:
        if data and not self.data_reported:
            self.data_reported = True
            cap = self.config.first_bytes_cap
            self.emit(DataReceived, data=bytes(data[:cap]), truncated=len(data) > cap)

    def report_hello(self, hello: ClientHello | None = None) -> None:
        if hello is None and self.reader is not None:
            hello = self.reader.hello()
        if hello is None:
            return
        prints = None
        if hello.complete and self.reader is not None:
            prints = fingerprint(self.reader.arrived()[:hello.length])
        self.emit(ClientHelloSeen, sni=hello.sni, alpn=hello.alpn, versions=hello.versions,
                  cipher_count=hello.cipher_count, legacy_version=hello.legacy_version, complete=hello.complete,
                  length=hello.length, declared_length=hello.declared_length, records=hello.records,
                  extensions=tuple(extension_name(e) for e in hello.extensions), problem=hello.problem,
                  ciphers_reached=hello.ciphers_reached,
                  **(prints.to_dict() if prints is not None else {}))

    # -- what the loop asks --------------------------------------------------------------------
    @property
    def waiting_for_client(self) -> bool:
        return self.state in ("first", "handshake", "app") and not self.read_paused

    def wants(self) -> tuple[bool, bool]:
        """(read, write) interest for the selector."""
        return (not self.done and not self.read_paused), bool(self.out) and not self.done

    def next_deadline(self) -> float:
        return self.deadlines.next_at(waiting_for_client=self.waiting_for_client)

    # -- I/O ----------------------------------------------------------------------------------
    def on_readable(self, now: float) -> None:
        try:
            chunk = self.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            return self.peer_gone("reset")
        except OSError as exc:
            return self.finish(f"connection error: {exc.strerror or exc}")
        if not chunk:
            return self.peer_gone("eof")
        self.received += len(chunk)
        self.deadlines.received(now)
        if self.state == "first":
            self._first_bytes(chunk)
        elif self.state == "handshake":
            assert self.pump is not None
            self.pump.feed(chunk)
            self._step_handshake()
        elif self.state == "app":
            if self.pump is not None:
                self.pump.feed(chunk)
                self._drain_tls()
            else:
                self._app_data(chunk)
        elif self.state == "closing":
            self._linger_data(chunk)

    def on_writable(self, now: float) -> None:
        self._flush(now)

    def on_timer(self, now: float) -> None:
        name = self.deadlines.due(now, waiting_for_client=self.waiting_for_client)
        if name is None or self.done:
            return
        if name == "linger":
            return self.finish(f"{self.answered}; {deadline_words('linger', 0)}")
        self._deadline(name)

    def send(self, data: bytes) -> None:
        if not data:
            return
        if self.pump is not None:
            self.pump.write(data)
            data = self.pump.outgoing()
        self.out += data
        self._flush(time.monotonic())

    def _flush_tls(self) -> None:
        if self.pump is not None:
            pending = self.pump.outgoing()
            if pending:
                self.out += pending
                self._flush(time.monotonic())

    def _flush(self, now: float) -> None:
        progressed = False
        while self.out and not self.done:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                break
            except (BrokenPipeError, ConnectionResetError):
                return self.peer_gone("reset")
            except OSError as exc:
                return self.finish(f"connection error: {exc.strerror or exc}")
            if n <= 0:
                break
            self.sent += n
            del self.out[:n]
            progressed = True
        if self.done:
            return
        if not self.out:
            self.deadlines.write_since = None
            self.read_paused = False
            if self.state == "closing" and self.deadlines.linger_at is None:
                self._half_close(now)
        else:
            if progressed or self.deadlines.write_since is None:
                self.deadlines.write_since = now
            if len(self.out) > OUT_HIGH:
                self.read_paused = True
            elif len(self.out) < OUT_LOW:
                self.read_paused = False

    # -- the first bytes ----------------------------------------------------------------------
    def _first_bytes(self, chunk: bytes) -> None:
        reader = self.reader
        if reader is not None:
            status = reader.feed(chunk)
            if status == "partial" and len(reader.data) > MAX_HELLO_BUFFER:
                return self._not_a_hello(f"{reader.records:,} records and {size(len(reader.data))} "
                                         "without a whole ClientHello (the listener reads at most "
                                         f"{size(MAX_HELLO_BUFFER)} for one)")
            if status == "complete":
                return self._hello_whole(reader)
            if status == "malformed":
                return self._not_a_hello(reader.problem or "malformed")
            return
        self.first += chunk
        if not self.proxy_checked:
            found = proxyheader.read(bytes(self.first))
            if found == proxyheader.PARTIAL:
                return
            self.proxy_checked = True
            if isinstance(found, tuple):  # a balancer's header (curl --haproxy-protocol): shown, then skipped
                header, used = found
                self.emit(ProxyHeaderSeen, family=header.family, source=header.source,
                          destination=header.destination)
                del self.first[:used]
                if not self.first:
                    return
        sniffed = sniff(bytes(self.first))
        if sniffed.kind == "tls":
            self.reader = HelloReader()
            data, self.first = bytes(self.first), bytearray()
            return self._first_bytes(data)
        if sniffed.decided or len(self.first) > 16384:
            self._not_tls(sniffed if sniffed.decided else sniff(bytes(self.first)))

    def _hello_whole(self, reader: HelloReader) -> None:
        hello = reader.hello()
        if hello is None:
            return self._not_a_hello(f"a ClientHello of {size(reader.declared or 0)}, too short to hold its fields")
        data = bytes(reader.data)
        self.report_hello(hello)
        if not self.tls_port:
            self.report_data(data)
            self.finding(findings.tls_on_plain_port(data, hello, *self.reached()))
            if self.config.reply_mode == "echo":
                return self.finish("TLS on a plain port: closed")
            self.state = "app"
            return self._answer(self._reply_bytes(), "answered at once: TLS on a plain port")
        self.hello_ok = hello is not None and hello.complete
        for finding in findings.hello_findings(hello, data):
            self.finding(finding)
        self._start_tls(data)

    def _not_a_hello(self, problem: str) -> None:
        """Records that began like a handshake but broke the rules (or outgrew what is read)."""
        reader = self.reader
        assert reader is not None
        data = bytes(reader.data)
        self.report_hello()
        self.report_data(data)
        if not self.tls_port:
            self.state = "app"
            return self._app_data(data)
        self.finding(findings.client_hello_malformed(problem, data, reader.hello()))
        self._start_tls(data, expect_failure=problem)

    def _not_tls(self, sniffed: Sniffed) -> None:
        data = bytes(self.first)
        self.report_data(data)
        if not self.tls_port:
            self.state = "app"
            self.first = bytearray()
            return self._app_data(data)
        if sniffed.kind in ("http", "connect", "h2"):
            port, host = self.reached()
            self.finding(findings.http_on_tls_port(sniffed, data, port, host, self.listener.cert_path))
            if sniffed.kind == "h2":
                return self.finish("an HTTP/2 preface on the TLS port: closed")
            self.state = "app"
            return self._answer(HTTP_400_ON_TLS_PORT, "plain HTTP on the TLS port: answered 400")
        self.finding(findings.not_tls_from_client(sniffed, data))
        self._start_tls(data, expect_failure=sniffed.description)

    # -- TLS ----------------------------------------------------------------------------------
    def _start_tls(self, initial: bytes, expect_failure: str | None = None) -> None:
        context = self.listener.ssl_context
        assert context is not None  # a TLS port has one
        pump = self.pump = TlsPump(context, server_side=True)
        self.state = "handshake"
        self.hs_began = time.monotonic()
        pump.feed(initial)
        self._step_handshake(expect_failure)

    def _step_handshake(self, expect_failure: str | None = None) -> None:
        pump = self.pump
        assert pump is not None
        self.listener.tls_owner = self
        try:
            done = pump.handshake()
        except ssl.SSLError as exc:
            self._flush_tls()  # our alert, if OpenSSL wrote one: the client deserves to know
            return self._handshake_failed(exc)
        finally:
            self.listener.tls_owner = None
        self._flush_tls()
        if self.done:
            return
        if not done:
            if expect_failure is not None:  # not TLS, yet OpenSSL waits for more: do not wait with it
                return self._handshake_failed(None, failure=expect_failure)
            return
        self.deadlines.handshake_open = False
        sslobj = pump.sslobj
        cipher = sslobj.cipher()
        subject = _subject_text(sslobj.getpeercert())
        self.emit(HandshakeDone, ok=True, version=sslobj.version(), cipher=cipher[0] if cipher else None,
                  alpn=sslobj.selected_alpn_protocol(), duration_ms=self._hs_ms(), client_cert_subject=subject)
        self.state = "app"
        self._drain_tls()

    def _hs_ms(self) -> float:
        return round((time.monotonic() - self.hs_began) * 1000, 3)

    def _handshake_failed(self, exc: BaseException | None, *, how: str | None = None,
                          failure: str | None = None) -> None:
        reason = getattr(exc, "reason", None) or (str(exc) if exc is not None else "")
        alert = self.alert or alert_from_reason(reason)
        if how is None and isinstance(exc, ssl.SSLEOFError):
            how = "eof"
        if failure is None:
            failure = {"eof": "the client closed its side (EOF) during the handshake",
                       "reset": "the client reset the connection during the handshake"}.get(how or "", reason)
        self.emit(HandshakeDone, ok=False, duration_ms=self._hs_ms(), failure=failure, alert=alert)
        if self.hello_ok and (alert is not None or how is not None):
            port, host = self.reached()
            self.finding(findings.client_aborted_handshake(alert, failure, alert_bytes=self.alert_bytes, how=how,
                                                           received=self.received, sent=self.sent, port=port,
                                                           host=host, cert=self.listener.cert_path))
        ending = f"handshake failed: the client sent alert {alert}" if self.alert else "handshake failed"
        self.finish(ending, client_close=how)

    def _drain_tls(self) -> None:
        pump = self.pump
        assert pump is not None
        while self.state == "app" and not self.done:
            self.listener.tls_owner = self
            try:
                data = pump.read(CHUNK)
            except ssl.SSLError as exc:
                return self.finish(f"TLS error after the handshake: {getattr(exc, 'reason', None) or exc}")
            finally:
                self.listener.tls_owner = None
            if data is None:
                break
            if not data:
                return self._app_eof("close_notify" if pump.close_notify_received else "eof")
            self._app_data(data)
        self._flush_tls()

    # -- answering ----------------------------------------------------------------------------
    def _reply_bytes(self) -> bytes:
        if self.config.reply_mode == "http":
            return http_response(self.config.reply_text or "tlsbench listener: hello\n")
        return self.config.reply_text.encode("utf-8", "surrogateescape")

    def _app_data(self, data: bytes) -> None:
        self.report_data(data)
        mode, cap = self.config.reply_mode, self.config.read_cap
        if mode == "echo":
            self.app_total += len(data)
            self.send(data)
            if self.app_total >= cap:
                self.finish(f"input cap of {cap} bytes reached")
        elif mode == "http":
            self.request += data
            if headers_complete(self.request) or len(self.request) >= MAX_REQUEST:
                self._answer(self._reply_bytes(), "answered (HTTP)")
        else:
            self._answer(self._reply_bytes(), "answered")

    def _answer(self, reply: bytes, label: str) -> None:
        """Send the one answer, close TLS, then wait (briefly) for the client's own close."""
        self.answered = label
        self.send(reply)
        if self.done:
            return
        self.state = "closing"
        if self.pump is not None:
            self.pump.close_notify()
            self._flush_tls()
        if not self.out and self.deadlines.linger_at is None and not self.done:
            self._half_close(time.monotonic())

    def _half_close(self, now: float) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.deadlines.linger_at = now + min(LINGER, self.config.client_timeout)

    def _linger_data(self, chunk: bytes) -> None:
        """After the answer: discard what comes, and notice the client's close_notify."""
        if self.pump is None:
            return
        self.pump.feed(chunk)
        while True:
            try:
                data = self.pump.read(CHUNK)
            except ssl.SSLError:
                return
            if data is None:
                return
            if not data:
                if self.pump.close_notify_received:
                    return self.finish(f"{self.answered}; the client then closed cleanly (close_notify)",
                                       client_close="close_notify")
                return

    def _app_eof(self, how: str) -> None:
        if self.config.reply_mode == "http" and self.request and not self.answered:
            self._answer(self._reply_bytes(), "answered (HTTP)")
        words = {"close_notify": "closed cleanly (close_notify)",
                 "eof": "closed without close_notify (EOF)" if self.pump is not None else "closed"}[how]
        when = " after the handshake" if self.pump is not None and self.app_total == 0 and not self.request else ""
        if self.answered:
            return self.finish(f"{self.answered}; the client then {words}", client_close=how)
        if self.pump is not None:
            self.pump.close_notify()
            self._flush_tls()
        self.finish(f"the client {words}{when}", client_close=how)

    # -- endings ------------------------------------------------------------------------------
    def peer_gone(self, how: str) -> None:
        """The client closed its side (EOF) or reset the connection."""
        if self.done:
            return
        if self.state == "first":
            return self._ended_early(how, None)
        if self.state == "handshake":
            if how == "eof" and self.pump is not None:
                self.pump.feed(b"")  # let OpenSSL see the EOF: what it says is the failure
                self.listener.tls_owner = self
                try:
                    self.pump.handshake()
                except ssl.SSLError:
                    pass
                finally:
                    self.listener.tls_owner = None
            return self._handshake_failed(None, how=how)
        if self.state == "app":
            if how == "reset":
                return self.finish("the client reset the connection", client_close="reset")
            if self.pump is not None:
                self.pump.feed(b"")
                return self._drain_tls()
            return self._app_eof("eof")
        if self.state == "closing":
            if how == "reset":
                return self.finish(f"{self.answered}; the client then reset the connection", client_close="reset")
            if self.pump is not None:
                self.pump.feed(b"")
                self._linger_data(b"")
                if self.done:
                    return
                return self.finish(f"{self.answered}; the client then closed without close_notify (EOF)",
                                   client_close="eof")
            return self.finish(f"{self.answered}; the client then closed", client_close="eof")

    def _ended_early(self, how: str | None, deadline: DeadlineName | None) -> None:
        """The client stopped (closed, reset, or a deadline) before its first bytes were judged."""
        reader, data = self.reader, bytes(self.first)
        if reader is None and data and not self.tls_port and how == "eof":
            self.report_data(data)  # a plain listener answers what came, as it is
            self.state = "app"
            self.first = bytearray()
            self._app_data(data)
            return self._app_eof("eof")
        seconds = self.deadlines.seconds(deadline) if deadline else 0.0
        ended = findings.early_ending(reader, data, tls_port=self.tls_port, how=how, deadline=deadline,
                                      seconds=seconds)
        if reader is not None:
            self.report_hello()
            self.report_data(bytes(reader.data))
        else:
            self.report_data(data)
        for finding in ended.findings:
            self.finding(finding)
        self.finish(ended.reason, deadline=deadline, client_close=how)

    def _stage(self) -> str:
        return "tls" if self.tls_port else "app"

    def _deadline(self, name: DeadlineName) -> None:
        seconds = self.deadlines.seconds(name)
        reason = deadline_words(name, seconds)
        if self.state == "first":
            return self._ended_early(None, name)
        if self.state == "handshake":
            state = (f"the ClientHello arrived whole; the listener answered with {size(self.sent)}; "
                     "the client's next flight had not come" if self.hello_ok else
                     f"{size(self.received)} received, the handshake not finished")
            self.emit(HandshakeDone, ok=False, duration_ms=self._hs_ms(), failure=reason, alert=self.alert)
            self.finding(findings.client_timeout(name, seconds, self.received, bytes(self.reader.data[:64])
                                                 if self.reader else b"", state))
        self.finish(reason, deadline=name)

    def finish(self, reason: str, *, deadline: DeadlineName | None = None, client_close: str | None = None) -> None:
        """End this client: a last try to send what is queued, close, report `closed`."""
        if self.done:
            return
        if self.out and client_close != "reset":
            try:
                n = self.sock.send(self.out)
                self.sent += max(n, 0)
            except OSError:
                pass
        self.done = True
        self.state = "done"
        self.listener.release(self)
        try:
            self.sock.close()
        except OSError:
            pass
        self.out = bytearray()
        self.first = bytearray()
        self.request = bytearray()
        self.reader = None
        self.pump = None
        self.emit(Closed, bytes_received=self.received, bytes_sent=self.sent,
                  duration_ms=round((time.monotonic() - self.started) * 1000, 3), reason=reason,
                  deadline=deadline, client_close=client_close)


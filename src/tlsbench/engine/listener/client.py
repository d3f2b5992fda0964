"""Serving one accepted client: sniff its first bytes, run TLS if asked, answer, report events.

Runs in its own thread. Every way a client can misbehave (silence, garbage, a half-open
connection, endless input, an aborted handshake) ends this client only, with a `closed` event.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import TYPE_CHECKING

from tlsbench.engine.listener import findings
from tlsbench.engine.listener.alerts import alert_from_reason
from tlsbench.engine.listener.channel import ClientGone, RawChannel, TlsChannel
from tlsbench.engine.listener.clienthello import parse_client_hello
from tlsbench.engine.listener.events import (Accepted, ClientFinding, ClientHelloSeen, Closed, DataReceived,
                                             HandshakeDone)
from tlsbench.engine.listener.sniff import Sniffed, headers_complete, sniff

if TYPE_CHECKING:
    from tlsbench.engine.listener.server import Listener

_TLS_PORT_BODY = b"This port speaks TLS, but a plain HTTP request arrived. Use https:// instead.\n"
HTTP_400_ON_TLS_PORT = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_TLS_PORT_BODY), _TLS_PORT_BODY))


def http_response(body: str) -> bytes:
    """A minimal, complete HTTP/1.1 response: status line, length, and the connection closes."""
    payload = body.encode("utf-8", "surrogateescape")
    head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\nServer: tlsbench\r\n\r\n")
    return head.encode("ascii") + payload


class ClientSession:
    def __init__(self, listener: "Listener", sock: socket.socket, client_id: int, peer: tuple) -> None:
        self.listener, self.sock, self.client_id, self.peer = listener, sock, client_id, peer
        self.config = listener.config
        self.started = time.monotonic()
        deadline = self.started + max(30.0, self.config.client_timeout * 6)
        self.raw = RawChannel(sock, self.config.client_timeout, deadline)
        self.channel: RawChannel | TlsChannel = self.raw
        self.alert_received: str | None = None
        self.data_reported = False

    def emit(self, event_type, **fields) -> None:
        self.listener.emit(event_type(client_id=self.client_id, at_ms=self.listener.now_ms(), **fields))

    def finding(self, finding) -> None:
        self.listener.emit(ClientFinding(client_id=self.client_id, finding=finding, at_ms=self.listener.now_ms()))

    def run(self) -> None:
        reason = "done"
        try:
            local = self.sock.getsockname()
            self.emit(Accepted, peer_address=self.peer[0], peer_port=self.peer[1],
                      local_address=local[0], local_port=local[1])
            reason = self.serve()
        except ClientGone as exc:
            reason = str(exc)
        except ConnectionResetError:
            reason = "the client reset the connection"
        except (OSError, ssl.SSLError, ValueError) as exc:
            reason = f"connection error: {exc}"
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            duration = (time.monotonic() - self.started) * 1000
            self.emit(Closed, bytes_received=self.raw.received, bytes_sent=self.raw.sent,
                      duration_ms=round(duration, 3), reason=reason)

    def read_first(self) -> bytes:
        """Read until the first bytes say what they are (or the cap, EOF or timeout)."""
        data = b""
        while len(data) < 65536:
            chunk = self.raw.recv_raw()
            if not chunk:
                break
            data += chunk
            if sniff(data).decided:
                break
        return data

    def report_data(self, data: bytes) -> None:
        if data and not self.data_reported:
            self.data_reported = True
            cap = self.config.first_bytes_cap
            self.emit(DataReceived, data=data[:cap], truncated=len(data) > cap)

    def report_hello(self, data: bytes, *, on_tls_port: bool):
        hello = parse_client_hello(data)
        if hello is not None:
            self.emit(ClientHelloSeen, sni=hello.sni, alpn=hello.alpn, versions=hello.versions,
                      cipher_count=hello.cipher_count, legacy_version=hello.legacy_version,
                      complete=hello.complete)
            if hello.sni is None and on_tls_port:
                self.finding(findings.no_sni_from_client(hello.versions))
        return hello

    def serve(self) -> str:
        try:
            first = self.read_first()
        except ClientGone as exc:
            return f"{exc} (no first bytes)"
        if not first:
            return "the client closed without sending anything"
        sniffed = sniff(first)
        if self.config.tls:
            return self.serve_tls_port(first, sniffed)
        return self.serve_plain_port(first, sniffed)

    def serve_plain_port(self, first: bytes, sniffed: Sniffed) -> str:
        self.report_data(first)
        if sniffed.kind == "tls":
            hello = self.report_hello(first, on_tls_port=False)
            self.finding(findings.tls_on_plain_port(first, hello.sni if hello else None))
            if self.config.reply_mode == "echo":
                return "TLS on a plain port: closed"
            # answer at once, as a plain server would, so the client shows what it makes of it
            return self.answer(first, whole_request=False)
        return self.answer(first)

    def serve_tls_port(self, first: bytes, sniffed: Sniffed) -> str:
        if sniffed.kind in ("http", "connect"):
            self.report_data(first)
            self.finding(findings.http_on_tls_port(sniffed, first, self.listener.port))
            self.raw.send_raw(HTTP_400_ON_TLS_PORT)
            return "plain HTTP on the TLS port: answered 400"
        if sniffed.kind == "tls":
            self.report_hello(first, on_tls_port=True)
        else:
            self.report_data(first)  # not TLS at all: OpenSSL will refuse it, show what it was
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        sslobj = self.listener.ssl_context.wrap_bio(incoming, outgoing, server_side=True)
        self.listener.watch_alerts(sslobj, self)
        tls = TlsChannel(self.raw, sslobj, incoming, outgoing)
        incoming.write(first)
        began = time.monotonic()
        try:
            tls.handshake()
        except (ssl.SSLError, OSError, ClientGone) as exc:
            return self.handshake_failed(exc, began, sniffed)
        finally:
            self.listener.unwatch_alerts(sslobj)
        cipher = sslobj.cipher()
        subject = None
        peer_cert = sslobj.getpeercert()
        if peer_cert:
            subject = ", ".join(f"{k}={v}" for rdn in peer_cert.get("subject", ()) for k, v in rdn)
        self.emit(HandshakeDone, ok=True, version=sslobj.version(), cipher=cipher[0] if cipher else None,
                  alpn=sslobj.selected_alpn_protocol(), duration_ms=round((time.monotonic() - began) * 1000, 3),
                  client_cert_subject=subject)
        self.channel = tls
        try:
            first_app = tls.recv()
        except ClientGone as exc:
            return f"{exc} (after the handshake)"
        if not first_app:
            return "the client closed after the handshake"
        self.report_data(first_app)
        reason = self.answer(first_app)
        tls.close_notify()
        return reason

    def handshake_failed(self, exc: BaseException, began: float, sniffed: Sniffed) -> str:
        alert = self.alert_received or alert_from_reason(getattr(exc, "reason", None) or str(exc))
        duration = round((time.monotonic() - began) * 1000, 3)
        if isinstance(exc, ClientGone):
            failure = str(exc)
        elif isinstance(exc, ssl.SSLError):
            failure = getattr(exc, "reason", None) or str(exc)
        else:
            failure = f"{type(exc).__name__}: {exc}"
        client_side = alert is not None or isinstance(exc, (ssl.SSLEOFError, ConnectionResetError,
                                                             BrokenPipeError))
        self.emit(HandshakeDone, ok=False, duration_ms=duration, failure=failure, alert=alert)
        if sniffed.kind == "tls" and client_side:
            self.finding(findings.client_aborted_handshake(alert, failure))
        return "handshake failed"

    def answer(self, initial: bytes, whole_request: bool = True) -> str:
        """Reply as configured: echo until EOF, or one reply (text or HTTP) and close."""
        mode, cap = self.config.reply_mode, self.config.read_cap
        channel = self.channel
        if mode == "echo":
            data, total = initial, 0
            while data:
                total += len(data)
                channel.send(data)
                if total >= cap:
                    return f"input cap of {cap} bytes reached"
                data = channel.recv()
            return "the client closed"
        if mode == "http":
            request = initial
            while whole_request and not headers_complete(request) and len(request) < 65536:
                more = channel.recv()
                if not more:
                    break
                request += more
            channel.send(http_response(self.config.reply_text or "tlsbench listener: hello\n"))
            return "answered (HTTP)"
        channel.send(self.config.reply_text.encode("utf-8", "surrogateescape"))
        return "answered"

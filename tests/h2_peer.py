"""A hostile HTTP/2 server for the tests: TLS with ALPN h2 on loopback, the h2 library's server side
for the connection preface and SETTINGS, then raw frames no well-behaved server sends (garbage, a
header block of many CONTINUATIONs, an immediate GOAWAY, a reset stream, a choice of protocol the
client never offered).
"""

from __future__ import annotations

import socket
import ssl
from typing import Callable

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from tests.conftest import SQUID_PASSWORD, SQUID_USER
from tests.hostile_peers import ScriptedServer
from tlsbench.lab.certs import CertFiles


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _settings_then(tls: ssl.SSLSocket, after: Callable[[ssl.SSLSocket, h2.connection.H2Connection], None],
                   wait_request: bool = True) -> None:
    """Answer the preface and SETTINGS as a real server does; then, once the request came, `after`."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    tls.sendall(conn.data_to_send())
    asked = not wait_request
    while not asked:
        data = tls.recv(65536)
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                asked = True
        tls.sendall(conn.data_to_send())
    after(tls, conn)
    try:  # hold until the client goes away (bounded by the socket's timeout)
        while tls.recv(65536):
            pass
    except OSError:
        pass


def garbage(tls: ssl.SSLSocket, conn: h2.connection.H2Connection) -> None:
    # A frame on stream 0 that must not be there (DATA), then bytes that are no frame at all.
    tls.sendall(frame(0, 0, 0, b"x" * 10) + b"\xff" * 64)


def huge_headers(tls: ssl.SSLSocket, conn: h2.connection.H2Connection) -> None:
    # HEADERS without END_HEADERS, then CONTINUATION after CONTINUATION: 80 KB of one header block.
    tls.sendall(frame(1, 0, 1, b"\x88"))  # :status 200, indexed
    chunk = b"\x00" * 16000
    for _ in range(5):
        tls.sendall(frame(9, 0, 1, chunk))


def immediate_goaway(tls: ssl.SSLSocket, conn: h2.connection.H2Connection) -> None:
    # GOAWAY ENHANCE_YOUR_CALM with debug data, before the request is answered.
    tls.sendall(frame(7, 0, 0, (0).to_bytes(4, "big") + (11).to_bytes(4, "big") + b"too many requests"))


def reset_stream(tls: ssl.SSLSocket, conn: h2.connection.H2Connection) -> None:
    tls.sendall(frame(3, 0, 1, (7).to_bytes(4, "big")))  # RST_STREAM REFUSED_STREAM


def echo_secret(tls: ssl.SSLSocket, conn: h2.connection.H2Connection) -> None:
    # A 200 whose header field and body repeat the lab squid's password, as a peer that learnt it might.
    conn.send_headers(1, [(":status", "200"), ("x-seen", SQUID_PASSWORD)])
    conn.send_data(1, f"you are {SQUID_USER}:{SQUID_PASSWORD}".encode(), end_stream=True)
    tls.sendall(conn.data_to_send())


BEHAVIOURS: dict[str, Callable[[ssl.SSLSocket, h2.connection.H2Connection], None]] = {
    "garbage": garbage, "huge-headers": huge_headers, "goaway": immediate_goaway, "reset": reset_stream,
    "echo": echo_secret}


class H2Peer(ScriptedServer):
    """One behaviour of BEHAVIOURS over TLS; `alpn`: the protocols it accepts ("h2" by default)."""

    def __init__(self, cert: CertFiles, behaviour: str, alpn: tuple[str, ...] = ("h2",)) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert.chain), str(cert.key))
        context.set_alpn_protocols(list(alpn))
        self.context = context
        at_once = behaviour == "goaway-at-once"  # GOAWAY right after its SETTINGS, before any request
        after = BEHAVIOURS["goaway" if at_once else behaviour]

        def script(sock: socket.socket) -> None:
            try:
                with self.context.wrap_socket(sock, server_side=True) as tls:
                    _settings_then(tls, after, wait_request=not at_once)
            except (OSError, ssl.SSLError, h2.exceptions.H2Error):
                pass

        super().__init__(script)

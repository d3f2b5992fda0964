"""Hostile peers for the tests: small scripted servers doing on loopback what real software will not
do on demand (a lying SOCKS proxy, an HTTP proxy with a megabyte of headers, a TLS server that drips
its handshake). Each behaviour is a script, a function of the accepted socket; `Peers` starts one
listener per script on first use and keeps it for the session.

Every read a script makes is bounded (the connection's timeout), and every script ends when the
client goes away, so no test waits on a peer.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from typing import Callable

from tlsbench.lab.tiny_servers import TinyServer

Script = Callable[[socket.socket], None]
HOLD = 5.0  # seconds a script keeps a connection open at most after it has said its piece


class ScriptedServer(TinyServer):
    name = "hostile"

    def __init__(self, script: Script) -> None:
        self.script = script
        super().__init__(read_timeout=HOLD)

    def handle(self, conn: socket.socket) -> None:
        self.script(conn)


class Peers:
    """One listener per behaviour, started on first use: `peers.address(script)` is "127.0.0.1:PORT"."""

    def __init__(self) -> None:
        self._servers: dict[Script, ScriptedServer] = {}
        self._lock = threading.Lock()

    def server(self, script: Script) -> ScriptedServer:
        with self._lock:
            if script not in self._servers:
                self._servers[script] = ScriptedServer(script)
            return self._servers[script]

    def address(self, script: Script) -> str:
        return self.server(script).address

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()


# --- reading what the client sends ----------------------------------------------------------------

def recv_exactly(conn: socket.socket, count: int) -> bytes:
    out = bytearray()
    while len(out) < count:
        data = conn.recv(count - len(out))
        if not data:
            raise ConnectionError("client closed")
        out += data
    return bytes(out)


def socks5_greeting(conn: socket.socket) -> bytes:
    """The methods the client offers."""
    head = recv_exactly(conn, 2)
    return recv_exactly(conn, head[1])


def socks5_auth(conn: socket.socket) -> tuple[bytes, bytes]:
    """The RFC 1929 sub-negotiation: (user, password)."""
    recv_exactly(conn, 1)
    user = recv_exactly(conn, recv_exactly(conn, 1)[0])
    password = recv_exactly(conn, recv_exactly(conn, 1)[0])
    return user, password


def socks5_request(conn: socket.socket) -> bytes:
    head = recv_exactly(conn, 4)
    atyp = head[3]
    if atyp == 1:
        rest = recv_exactly(conn, 4)
    elif atyp == 4:
        rest = recv_exactly(conn, 16)
    else:
        size = recv_exactly(conn, 1)
        rest = size + recv_exactly(conn, size[0])
    return head + rest + recv_exactly(conn, 2)


def socks4_request(conn: socket.socket) -> bytes:
    head = recv_exactly(conn, 8)
    out = bytearray(head)
    nuls = 2 if head[4:7] == b"\x00\x00\x00" and head[7] else 1  # SOCKS4a: user id, then the name
    while nuls:
        byte = recv_exactly(conn, 1)
        out += byte
        nuls -= byte == b"\x00"
    return bytes(out)


def http_head(conn: socket.socket, limit: int = 65536) -> bytes:
    data = bytearray()
    while b"\r\n\r\n" not in data and len(data) < limit:
        more = conn.recv(4096)
        if not more:
            break
        data += more
    return bytes(data)


def tls_record(conn: socket.socket) -> bytes:
    """One whole TLS record from the client (its ClientHello)."""
    head = recv_exactly(conn, 5)
    return head + recv_exactly(conn, struct.unpack(">H", head[3:5])[0])


# --- saying things --------------------------------------------------------------------------------

def hold(conn: socket.socket, seconds: float = HOLD) -> None:
    """Keep the connection open, reading and dropping, until the client closes (bounded)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        conn.settimeout(max(0.01, end - time.monotonic()))
        try:
            if not conn.recv(65536):
                return
        except socket.timeout:
            return


def drip(conn: socket.socket, data: bytes, interval: float) -> None:
    """Send one byte every `interval` seconds, until the client goes away."""
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        time.sleep(interval)


def reset(conn: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def socks5_success(atyp: int = 1, address: bytes = b"\x7f\x00\x00\x01", port: int = 80) -> bytes:
    return b"\x05\x00\x00" + bytes([atyp]) + address + struct.pack(">H", port)


def server_flight(client_hello: bytes, context: ssl.SSLContext) -> bytes:
    """What a real TLS server answers to this ClientHello (ServerHello and the rest of its flight)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = context.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(client_hello)
    try:
        server.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def record(content_type: int, body: bytes, version: bytes = b"\x03\x03") -> bytes:
    return bytes([content_type]) + version + struct.pack(">H", len(body)) + body


def server_hello(version: int = 0x0303, extensions: bytes = b"", cipher: bytes = b"\xc0\x2f") -> bytes:
    """A handshake record holding a ServerHello with the given legacy version and extensions."""
    body = struct.pack(">H", version) + bytes(range(32)) + b"\x00" + cipher + b"\x00"
    if extensions:
        body += struct.pack(">H", len(extensions)) + extensions
    return record(22, b"\x02" + len(body).to_bytes(3, "big") + body)


def extension(kind: int, data: bytes) -> bytes:
    return struct.pack(">HH", kind, len(data)) + data

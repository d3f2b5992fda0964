"""Small in-process servers for situations no real server program reproduces on demand:
a plaintext HTTP port (that also answers a TLS ClientHello the way a plain server does),
a service banner (SMTP/IMAP/POP3/FTP/SSH), fixed files over HTTP (a CA's issuer download),
a silent port, a refused port and a port that resets the connection. Each binds 127.0.0.1
(port 0 unless asked), runs in daemon threads, and is a context manager; `stop()` closes the
listener and every client socket.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

BANNERS: dict[str, tuple[bytes, bytes]] = {
    # protocol -> (greeting sent on connect, answer to a line it does not understand)
    "smtp": (b"220 mail.lab.test ESMTP ready\r\n", b"500 5.5.2 Error: bad syntax\r\n"),
    "imap": (b"* OK [CAPABILITY IMAP4rev1 STARTTLS] imap.lab.test ready\r\n", b"* BAD Error in IMAP command\r\n"),
    "pop3": (b"+OK POP3 pop.lab.test ready\r\n", b"-ERR Unknown command\r\n"),
    "ftp": (b"220 ftp.lab.test FTP server ready\r\n", b"500 Unknown command.\r\n"),
    "ssh": (b"SSH-2.0-OpenSSH_9.2p1 lab\r\n", b"Invalid SSH identification string.\r\n"),
}
TLS_HANDSHAKE_RECORD = 0x16


@dataclass
class _Seen:
    """What clients sent: the first bytes of each connection, in order."""

    first_bytes: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, data: bytes) -> None:
        with self.lock:
            self.first_bytes.append(data)


class TinyServer:
    """Accept loop in a thread; `handle(conn)` runs per connection in its own thread."""

    name = "tiny"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, read_timeout: float = 5.0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self.host, self.port = host, self._listener.getsockname()[1]
        self.read_timeout = read_timeout
        self.seen = _Seen()
        self.accepted = 0
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=f"tlsbench-{self.name}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # listener closed by stop()
            with self._lock:
                if self._stopped.is_set():
                    conn.close()
                    return
                self._clients.add(conn)
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self.read_timeout)
            self.handle(conn)
        except OSError:
            pass  # a client going away is normal here
        finally:
            with self._lock:
                self._clients.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _read_first(self, conn: socket.socket, size: int = 4096) -> bytes:
        try:
            data = conn.recv(size)
        except socket.timeout:
            data = b""
        self.seen.add(data)
        return data

    def stop(self) -> None:
        self._stopped.set()
        try:
            # close() alone does not wake a thread blocked in accept() on Linux; shutdown() does.
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._thread.join(2.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address}>"


def http_response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (f"HTTP/1.1 {status}\r\nServer: tlsbench-lab\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


class PlainHttpServer(TinyServer):
    """Plaintext HTTP/1.1: any request gets `200 OK` with `body`; a TLS ClientHello gets a
    `400 Bad Request` in clear text, as a real plain HTTP server answers TLS."""

    name = "plain-http"
    body = b"hello from the tlsbench lab plaintext port\n"

    def handle(self, conn: socket.socket) -> None:
        data = self._read_first(conn)
        if not data:
            return
        if data[0] == TLS_HANDSHAKE_RECORD:
            conn.sendall(http_response("400 Bad Request", b"400 Bad Request: this port speaks plain HTTP, not TLS\n"))
            return
        # Read the rest of the request head so the reply never races the client's write.
        while b"\r\n\r\n" not in data and len(data) < 65536:
            more = conn.recv(4096)
            if not more:
                break
            data += more
        conn.sendall(http_response("200 OK", self.body))


class FileServer(TinyServer):
    """Plain HTTP serving fixed files: `files` maps a path ("/inter.der") to its bytes; any other
    path is a 404. What a CA's AIA "CA Issuers" URL points to, on loopback."""

    name = "files"

    def __init__(self, files: dict[str, bytes], content_type: str = "application/pkix-cert",
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.files = dict(files)
        self.content_type = content_type
        super().__init__(host, port)

    def url(self, path: str) -> str:
        return f"http://{self.address}{path}"

    def handle(self, conn: socket.socket) -> None:
        data = self._read_first(conn)
        while b"\r\n\r\n" not in data and len(data) < 65536:
            more = conn.recv(4096)
            if not more:
                break
            data += more
        parts = data.split(b" ", 2)
        path = parts[1].decode("latin-1") if len(parts) == 3 and parts[0] == b"GET" else None
        body = self.files.get(path) if path is not None else None
        if body is None:
            conn.sendall(http_response("404 Not Found", b"not here\n"))
        else:
            conn.sendall(http_response("200 OK", body, self.content_type))


class BannerServer(TinyServer):
    """Greets with a service banner (`protocol` in BANNERS, or `banner` bytes) on connect; any
    bytes received then get the protocol's error line and the connection is closed."""

    name = "banner"

    def __init__(self, protocol: str = "smtp", banner: bytes | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if banner is None and protocol not in BANNERS:
            raise ValueError(f"unknown banner protocol {protocol!r}; one of {', '.join(BANNERS)}")
        self.protocol = protocol
        greeting, error = BANNERS.get(protocol, (b"", b""))
        self.banner = banner if banner is not None else greeting
        self.error_reply = error
        super().__init__(host, port)

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.banner)
        data = self._read_first(conn)
        if data and self.error_reply:
            conn.sendall(self.error_reply)


class SilentServer(TinyServer):
    """Accepts and never sends a byte; holds the connection until the client closes or stop()."""

    name = "silent"

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(None)  # stop() shuts the socket down, which ends the recv
        while not self._stopped.is_set():
            data = conn.recv(65536)
            if not data:
                return
            self.seen.add(data)


class ResetServer(TinyServer):
    """Accepts, reads the first bytes, then aborts with a TCP RST (SO_LINGER 0)."""

    name = "reset"

    def handle(self, conn: socket.socket) -> None:
        self._read_first(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class ClosedPort:
    """A port where a connect is refused: the socket stays bound (so no one else takes the
    port) but never listens, and the kernel answers a SYN with RST."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.host, self.port = host, self._sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def stop(self) -> None:
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ClosedPort {self.address}>"

"""Revocation services for the lab and the tests: `openssl ocsp` as a real OCSP responder over an
index file (the `openssl ca` database), and a small HTTP server that serves a CRL.

The responder signs with the issuer's own key (the lab intermediate), as small CAs do. `openssl
ocsp -port` listens on every address (OpenSSL 3.0 takes a port number only); it is reached on
127.0.0.1.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tlsbench.lab.processes import ManagedProcess, require_binary, start_on_free_port


class OcspResponder(ManagedProcess):
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


def ocsp_responder(index: str | os.PathLike, issuer_cert: str | os.PathLike, issuer_key: str | os.PathLike,
                   host: str = "127.0.0.1", port: int | None = None,
                   log_dir: str | os.PathLike | None = None) -> OcspResponder:
    """Start `openssl ocsp` answering for the certificates in `index`, signed by the issuer."""
    openssl = require_binary("openssl")

    def make(p: int) -> OcspResponder:
        argv = [openssl, "ocsp", "-index", str(index), "-port", str(p), "-rsigner", str(issuer_cert),
                "-rkey", str(issuer_key), "-CA", str(issuer_cert), "-ignore_err", "-nmin", "60"]
        return OcspResponder(argv, host=host, port=p, name="openssl-ocsp", log_dir=log_dir,
                             ready_check=lambda: _answers_http(host, p))

    return start_on_free_port(make, host, preferred=port)


def _answers_http(host: str, port: int) -> bool:
    """Ready when it answers a request: openssl ocsp (3.0) stops serving after a connection that
    closes without sending one, so a bare connect cannot be the readiness check."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.settimeout(2.0)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/")
    except OSError:
        return False


class CrlServer:
    """Serves files over plain HTTP from a dict {path: bytes} (a CRL, usually); 404 for the rest."""

    def __init__(self, files: dict[str, bytes] | None = None, host: str = "127.0.0.1") -> None:
        self.files = dict(files or {})
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                server.requests.append(self.path)
                body = server.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="crl-server", daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def put(self, path: str, data: bytes | Path) -> str:
        self.files[path] = data.read_bytes() if isinstance(data, Path) else data
        return self.url(path)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "CrlServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

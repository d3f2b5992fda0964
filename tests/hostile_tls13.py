"""A TLS 1.3 server that breaks the protocol after its handshake, for the tests.

Python's ssl cannot send a handshake message TLS 1.3 forbids, so the server completes a real handshake
(OpenSSL, server side, through memory BIOs), reads its own traffic secret from a key log, and encrypts
the forbidden message itself (RFC 8446 section 7: HKDF-Expand-Label, the per-record nonce, AEAD).
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import tempfile
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from hostile_peers import hold, recv_exactly

_SUITES = {  # name: (hash, key length, AEAD)
    "TLS_AES_128_GCM_SHA256": (hashes.SHA256(), 16, AESGCM),
    "TLS_AES_256_GCM_SHA384": (hashes.SHA384(), 32, AESGCM),
    "TLS_CHACHA20_POLY1305_SHA256": (hashes.SHA256(), 32, ChaCha20Poly1305),
}
HELLO_REQUEST = b"\x00\x00\x00\x00"  # handshake type 0, length 0


def _expand_label(algorithm, secret: bytes, label: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = struct.pack(">H", length) + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(algorithm, length, info).derive(secret)


class Tls13Liar:
    """Builds the server context once (a trustme certificate, no tickets, a key log of its own)."""

    def __init__(self) -> None:
        import trustme

        self._lock = threading.Lock()
        fd, self.keylog = tempfile.mkstemp(prefix="tlsbench-hostile-keylog-")
        os.close(fd)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.num_tickets = 0  # nothing encrypted is sent before the forbidden message: its sequence number is 0
        trustme.CA().issue_cert("localhost").configure_cert(ctx)
        ctx.keylog_filename = self.keylog
        self.context = ctx

    def _secret(self, client_random: bytes) -> bytes:
        with self._lock, open(self.keylog) as log:
            for line in log:
                parts = line.split()
                if len(parts) == 3 and parts[0] == "SERVER_TRAFFIC_SECRET_0" and parts[1] == client_random.hex():
                    return bytes.fromhex(parts[2])
        raise LookupError("no traffic secret logged for this connection")

    def hello_request_after_handshake(self, conn: socket.socket) -> None:
        """Complete the handshake, wait for the client's first data, answer it with a HelloRequest."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_side=True)
        head = recv_exactly(conn, 5)
        hello = head + recv_exactly(conn, struct.unpack(">H", head[3:5])[0])
        client_random = hello[11:43]
        incoming.write(hello)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                conn.sendall(outgoing.read())
                data = conn.recv(65536)
                if not data:
                    return
                incoming.write(data)
        conn.sendall(outgoing.read())
        while True:  # the client's request
            try:
                if tls.read(65536):
                    break
            except ssl.SSLWantReadError:
                data = conn.recv(65536)
                if not data:
                    return
                incoming.write(data)
        algorithm, key_length, aead = _SUITES[tls.cipher()[0]]
        secret = self._secret(client_random)
        key = _expand_label(algorithm, secret, b"key", key_length)
        iv = _expand_label(algorithm, secret, b"iv", 12)
        inner = HELLO_REQUEST + b"\x16"  # TLSInnerPlaintext: the message, then its real content type
        header = b"\x17\x03\x03" + struct.pack(">H", len(inner) + 16)
        nonce = iv  # sequence number 0: the IV itself
        conn.sendall(header + aead(key).encrypt(nonce, inner, header))
        hold(conn)

    def stop(self) -> None:
        try:
            os.unlink(self.keylog)
        except OSError:
            pass


__all__ = ["Tls13Liar"]

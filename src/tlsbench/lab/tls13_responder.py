"""A minimal TLS 1.3 server for the lab and the tests, on `cryptography`: it reads a ClientHello,
selects a key-exchange group by its configuration — the hybrid X25519MLKEM768, x25519 only, or a
HelloRetryRequest first — and sends a real first flight (ServerHello, then encrypted
EncryptedExtensions, Certificate with an optional OCSP staple, CertificateVerify, Finished) signed
with a lab certificate. No Debian 12 server speaks ML-KEM; this one lets the hand-built client
prove it decapsulated the server's share. It never reads past the first flight.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tlsbench.engine.tls.tlsparse import HRR_RANDOM, Reader, extensions
from tlsbench.engine.tls13 import keyshare, schedule
from tlsbench.engine.tls13.messages import CV_CONTEXT


@dataclass
class ResponderOptions:
    chain: Path  # PEM: the leaf, then its intermediates
    key: Path  # the leaf's EC P-256 key (ecdsa_secp256r1_sha256)
    groups: tuple[int, ...] = (keyshare.X25519MLKEM768, keyshare.X25519)  # its preference
    retry: bool = False  # ask with a HelloRetryRequest for the first acceptable group not shared
    suite: int | None = None  # the suite it picks (else the client's first)
    ocsp: bytes | None = None  # a DER OCSPResponse stapled to the leaf when the client asks
    alpn: str | None = None
    tamper: str | None = None  # "signature" | "finished": send a bad one (the client must notice)
    seen: list = field(default_factory=list)  # per connection: (hello size, offered groups, shared groups)


def _u16(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _u24(data: bytes) -> bytes:
    return len(data).to_bytes(3, "big") + data


def _handshake(htype: int, body: bytes) -> bytes:
    return bytes([htype]) + _u24(body)


def _ext(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _u16(data)


class Tls13Responder:
    def __init__(self, options: ResponderOptions, host: str = "127.0.0.1") -> None:
        self.options = options
        pem = options.chain.read_bytes()
        self.chain = [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]
        loaded = serialization.load_pem_private_key(options.key.read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)  # the lab's leaves are EC P-256
        self.key = loaded
        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Tls13Responder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self._one(conn)
                except Exception:  # noqa: BLE001 - a test peer's bad bytes end its connection, never the server
                    pass

    def _read_hello(self, conn: socket.socket) -> tuple[bytes, int]:
        data = b""
        while True:
            if len(data) >= 9:
                need = 5 + int.from_bytes(data[3:5], "big")
                if len(data) >= need:
                    return data[5:need], need
            chunk = conn.recv(65536)
            if not chunk:
                raise ValueError("closed")
            data += chunk

    def _one(self, conn: socket.socket) -> None:
        o = self.options
        message, size = self._read_hello(conn)
        hello = _parse_hello(message[4:])
        o.seen.append((size, hello["groups"], tuple(hello["shares"])))
        suite_id = next((s for s in ((o.suite,) if o.suite in hello["suites"] else hello["suites"])
                         if s in schedule.SUITES), None)
        if suite_id is None or not hello["tls13"]:
            conn.sendall(b"\x15\x03\x03\x00\x02\x02\x46")  # protocol_version: TLS 1.3 only
            return
        suite = schedule.SUITES[suite_id]
        transcript = [message]
        group = next((g for g in o.groups if g in hello["shares"]), None)
        wanted = next((g for g in o.groups if g in hello["groups"]), None)
        if wanted is None:
            conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # handshake_failure
            return
        if group is None or (o.retry and group != wanted):
            hrr = _server_hello(HRR_RANDOM, hello["sid"], suite_id, _ext(51, wanted.to_bytes(2, "big")))
            conn.sendall(b"\x16\x03\x03" + _u16(hrr))
            first = schedule.digest(suite.hash_name, message)
            message, size = self._read_hello(conn)
            hello = _parse_hello(message[4:])
            o.seen.append((size, hello["groups"], tuple(hello["shares"])))
            transcript = [b"\xfe\x00\x00" + bytes([len(first)]) + first, hrr, message]
            group = wanted
            if group not in hello["shares"]:
                conn.sendall(b"\x15\x03\x03\x00\x02\x02\x2f")  # illegal_parameter
                return
        share, secret = keyshare.server_share(group, hello["shares"][group])
        sh = _server_hello(os.urandom(32), hello["sid"], suite_id,
                           _ext(51, group.to_bytes(2, "big") + _u16(share)))
        transcript.append(sh)
        keys = schedule.handshake_keys(suite, secret, schedule.digest(suite.hash_name, b"".join(transcript)))
        out = schedule.RecordProtection(suite, keys.server_secret)
        ee_ext = b""
        if o.alpn and o.alpn.encode() in hello["alpn"]:
            name = o.alpn.encode()
            ee_ext += _ext(16, _u16(bytes([len(name)]) + name))
        if hello["sni"]:
            ee_ext += _ext(0, b"")
        flight = [_handshake(8, _u16(ee_ext))]
        entries = b""
        for i, der in enumerate(self.chain):
            ext = b""
            if i == 0 and o.ocsp is not None and hello["status"]:
                ext = _ext(5, b"\x01" + _u24(o.ocsp))
            entries += _u24(der) + _u16(ext)
        flight.append(_handshake(11, b"\x00" + _u24(entries)))
        th = schedule.digest(suite.hash_name, b"".join(transcript + flight))
        signature = self.key.sign(CV_CONTEXT + th, ec.ECDSA(hashes.SHA256()))
        if o.tamper == "signature":
            signature = self.key.sign(CV_CONTEXT + bytes(len(th)), ec.ECDSA(hashes.SHA256()))
        flight.append(_handshake(15, b"\x04\x03" + _u16(signature)))
        verify = keys.finished(schedule.digest(suite.hash_name, b"".join(transcript + flight)))
        if o.tamper == "finished":
            verify = bytes(len(verify))
        flight.append(_handshake(20, verify))
        records = b"\x16\x03\x03" + _u16(sh) + b"\x14\x03\x03\x00\x01\x01"
        records += out.encrypt(22, b"".join(flight[:2]), padding=7) + out.encrypt(22, b"".join(flight[2:]))
        conn.sendall(records)
        try:
            conn.recv(4096)  # until the client closes
        except OSError:
            pass


def _server_hello(random: bytes, sid: bytes, suite: int, key_share: bytes) -> bytes:
    body = b"\x03\x03" + random + bytes([len(sid)]) + sid + suite.to_bytes(2, "big") + b"\x00"
    body += _u16(_ext(43, b"\x03\x04") + key_share)
    return _handshake(2, body)


def _parse_hello(body: bytes) -> dict:
    r = Reader(body)
    r.int(2)
    r.take(32)
    sid = r.vector(1) or b""
    suites = r.u16_list(2) or ()
    r.vector(1)
    block = r.vector(2)
    ext = dict(extensions(block or b"") or ())
    shares: dict[int, bytes] = {}
    inner = Reader(Reader(ext.get(51, b"")).vector(2) or b"")
    while inner.left:
        group, key = inner.int(2), inner.vector(2)
        if group is None or key is None:
            break
        shares[group] = key
    alpn: list[bytes] = []
    names = Reader(Reader(ext.get(16, b"")).vector(2) or b"")
    while names.left:
        name = names.vector(1)
        if name is None:
            break
        alpn.append(name)
    return {"sid": sid, "suites": suites, "groups": Reader(ext.get(10, b"")).u16_list(2) or (),
            "shares": shares, "alpn": alpn, "sni": 0 in ext, "status": 5 in ext,
            "tls13": 0x0304 in (Reader(ext.get(43, b"")).u16_list(1) or ())}

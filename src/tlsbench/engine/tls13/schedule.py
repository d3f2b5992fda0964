"""The TLS 1.3 key schedule (RFC 8446 §7.1) to the handshake traffic keys, and record protection
(§5.2): HKDF and the AEADs from `cryptography`.

Only what the first flight needs: early secret (no PSK), handshake secret from the (EC)DHE or
hybrid shared secret, the client and server handshake traffic secrets, their key and IV, the
server's finished key. The record layer decrypts (and, for the test responder, encrypts) with
the nonce = IV xor the 64-bit sequence number, the record header as additional data, and the
inner content type found after the zero padding.
"""

from __future__ import annotations

import hmac as std_hmac
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256  # §5.2: a record longer than this is a record_overflow


class Suite(NamedTuple):
    id: int
    name: str
    hash_name: str  # "sha256" | "sha384"
    key_len: int
    chacha: bool


SUITES: dict[int, Suite] = {s.id: s for s in (
    Suite(0x1301, "TLS_AES_128_GCM_SHA256", "sha256", 16, False),
    Suite(0x1302, "TLS_AES_256_GCM_SHA384", "sha384", 32, False),
    Suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "sha256", 32, True),
)}


def _algorithm(name: str) -> hashes.HashAlgorithm:
    return hashes.SHA384() if name == "sha384" else hashes.SHA256()


def digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(_algorithm(name))
    h.update(data)
    return h.finalize()


def hkdf_extract(name: str, salt: bytes, ikm: bytes) -> bytes:
    return std_hmac.new(salt, ikm, name).digest()


def expand_label(name: str, secret: bytes, label: str, context: bytes, length: int) -> bytes:
    full = b"tls13 " + label.encode("ascii")
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return HKDFExpand(_algorithm(name), length, info).derive(secret)


class HandshakeKeys(NamedTuple):
    client_secret: bytes
    server_secret: bytes
    hash_name: str

    def finished_key(self, server: bool = True) -> bytes:
        secret = self.server_secret if server else self.client_secret
        return expand_label(self.hash_name, secret, "finished", b"", len(secret))

    def finished(self, transcript_hash: bytes, server: bool = True) -> bytes:
        """The verify_data a Finished message must carry after a transcript with this hash."""
        return std_hmac.new(self.finished_key(server), transcript_hash, self.hash_name).digest()


def handshake_keys(suite: Suite, shared_secret: bytes, hello_hash: bytes) -> HandshakeKeys:
    """The handshake traffic secrets after ClientHello..ServerHello (`hello_hash`)."""
    name = suite.hash_name
    size = len(digest(name, b""))
    early = hkdf_extract(name, bytes(size), bytes(size))
    derived = expand_label(name, early, "derived", digest(name, b""), size)
    handshake = hkdf_extract(name, derived, shared_secret)
    return HandshakeKeys(expand_label(name, handshake, "c hs traffic", hello_hash, size),
                         expand_label(name, handshake, "s hs traffic", hello_hash, size), name)


class RecordError(Exception):
    """A protected record that does not decrypt or has no content type."""


class RecordProtection:
    """One direction's AEAD: decrypt (or encrypt) records in order, counting the sequence number."""

    def __init__(self, suite: Suite, traffic_secret: bytes) -> None:
        key = expand_label(suite.hash_name, traffic_secret, "key", b"", suite.key_len)
        self.iv = expand_label(suite.hash_name, traffic_secret, "iv", b"", 12)
        self.aead: AESGCM | ChaCha20Poly1305 = ChaCha20Poly1305(key) if suite.chacha else AESGCM(key)
        self.seq = 0

    def _nonce(self) -> bytes:
        return bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))

    def decrypt(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        """(inner content type, content) of one application_data record (`header` its 5 bytes)."""
        if len(payload) > MAX_CIPHERTEXT or len(payload) < 17:
            raise RecordError(f"a protected record of {len(payload)} bytes (17 to {MAX_CIPHERTEXT} allowed)")
        try:
            plain = self.aead.decrypt(self._nonce(), payload, header)
        except InvalidTag:
            raise RecordError(f"record {self.seq} does not decrypt (bad authentication tag)") from None
        self.seq += 1
        inner = plain.rstrip(b"\x00")
        if not inner:
            raise RecordError(f"record {self.seq - 1} has no content type (all padding)")
        if len(inner) - 1 > MAX_PLAINTEXT:
            raise RecordError(f"record {self.seq - 1} carries more than {MAX_PLAINTEXT} bytes")
        return inner[-1], inner[:-1]

    def encrypt(self, content_type: int, content: bytes, padding: int = 0) -> bytes:
        """One whole record (header included) carrying `content` (the test responder's side)."""
        inner = content + bytes([content_type]) + bytes(padding)
        header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
        sealed = self.aead.encrypt(self._nonce(), inner, header)
        self.seq += 1
        return header + sealed

"""Key shares for the hand-built TLS 1.3 client: X25519, X448, the NIST curves and the hybrid
X25519MLKEM768 (group 0x11EC, draft-ietf-tls-ecdhe-mlkem), all from `cryptography`.

The hybrid's client share is the ML-KEM-768 encapsulation key (1,184 bytes) then the X25519 key
(32); the server's is the ML-KEM ciphertext (1,088) then its X25519 key (32); the shared secret is
the ML-KEM secret then the X25519 secret. A real encapsulation key is needed: servers check it
(FIPS 203), so random bytes would be refused.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

X25519, SECP256R1, SECP384R1, SECP521R1, X448, X25519MLKEM768 = 0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x11EC
MLKEM768_EK, MLKEM768_CT = 1184, 1088
_CURVES: dict[int, ec.EllipticCurve] = {SECP256R1: ec.SECP256R1(), SECP384R1: ec.SECP384R1(),
                                        SECP521R1: ec.SECP521R1()}
# The groups tlsbench can make a share for (ffdhe* are offered by name only, never with a share)
SHAREABLE = (X25519MLKEM768, X25519, SECP256R1, SECP384R1, SECP521R1, X448)


class KeyShare(Protocol):
    group: int
    share: bytes  # the client's key_share entry's key_exchange bytes

    def secret(self, server_share: bytes) -> bytes:
        """The shared secret from the server's share; ValueError when the share is malformed."""


class _X25519:
    def __init__(self) -> None:
        self.group = X25519
        self._key = x25519.X25519PrivateKey.generate()
        self.share = self._key.public_key().public_bytes_raw()

    def secret(self, server_share: bytes) -> bytes:
        if len(server_share) != 32:
            raise ValueError(f"an x25519 share is 32 bytes, not {len(server_share)}")
        return self._key.exchange(x25519.X25519PublicKey.from_public_bytes(server_share))


class _X448:
    def __init__(self) -> None:
        self.group = X448
        self._key = x448.X448PrivateKey.generate()
        self.share = self._key.public_key().public_bytes_raw()

    def secret(self, server_share: bytes) -> bytes:
        if len(server_share) != 56:
            raise ValueError(f"an x448 share is 56 bytes, not {len(server_share)}")
        return self._key.exchange(x448.X448PublicKey.from_public_bytes(server_share))


class _Curve:
    def __init__(self, group: int) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.group = group
        self._key = ec.generate_private_key(_CURVES[group])
        self.share = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def secret(self, server_share: bytes) -> bytes:
        if len(server_share) != len(self.share) or server_share[:1] != b"\x04":
            raise ValueError(f"an uncompressed point of {len(self.share)} bytes is expected, "
                             f"not {len(server_share)} bytes")
        peer = ec.EllipticCurvePublicKey.from_encoded_point(self._key.curve, server_share)
        return self._key.exchange(ec.ECDH(), peer)


class _Hybrid:
    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

        self.group = X25519MLKEM768
        self._kem = MLKEM768PrivateKey.generate()
        self._x = _X25519()
        self.share = self._kem.public_key().public_bytes_raw() + self._x.share

    def secret(self, server_share: bytes) -> bytes:
        if len(server_share) != MLKEM768_CT + 32:
            raise ValueError(f"an X25519MLKEM768 server share is {MLKEM768_CT + 32} bytes "
                             f"(ML-KEM ciphertext 1,088 + X25519 32), not {len(server_share)}")
        return self._kem.decapsulate(server_share[:MLKEM768_CT]) + self._x.secret(server_share[MLKEM768_CT:])


def make_share(group: int) -> KeyShare:
    """A fresh key pair for `group` (one of SHAREABLE); KeyError for any other."""
    if group == X25519:
        return _X25519()
    if group == X448:
        return _X448()
    if group == X25519MLKEM768:
        return _Hybrid()
    if group in _CURVES:
        return _Curve(group)
    raise KeyError(group)


def server_share(group: int, client_share: bytes) -> tuple[bytes, bytes]:
    """The server's side (the test responder's): (its share, the shared secret) for the client's
    share. ValueError when the client's share is malformed."""
    if group == X25519MLKEM768:
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey

        if len(client_share) != MLKEM768_EK + 32:
            raise ValueError("bad X25519MLKEM768 client share")
        kem_secret, ciphertext = MLKEM768PublicKey.from_public_bytes(client_share[:MLKEM768_EK]).encapsulate()
        ours = _X25519()
        return ciphertext + ours.share, kem_secret + ours.secret(client_share[MLKEM768_EK:])
    mine = make_share(group)
    return mine.share, mine.secret(client_share)

"""The server's encrypted first-flight messages in TLS 1.3, parsed: EncryptedExtensions,
Certificate (entries with their extensions: the stapled OCSP response, SCTs), CertificateVerify
(checked with the leaf's key) and Finished. Bodies in, records out; None (or a reason) for
malformed bytes, never an exception.
"""

from __future__ import annotations

from typing import NamedTuple

from tlsbench.engine.tls.tlsparse import Reader, extensions

EXT_SERVER_NAME, EXT_STATUS_REQUEST, EXT_SUPPORTED_GROUPS, EXT_ALPN, EXT_SCT = 0, 5, 10, 16, 18
MAX_CHAIN = 16  # certificates read from one Certificate message
CV_CONTEXT = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00"


class Extensions(NamedTuple):
    ids: tuple[int, ...]
    alpn: bytes | None = None
    server_name_ack: bool = False
    groups: tuple[int, ...] = ()  # the server's supported_groups (its preference, when it sends one)


def parse_encrypted_extensions(body: bytes) -> Extensions | None:
    r = Reader(body)
    block = r.vector(2)
    parsed = extensions(block) if block is not None and not r.left else None
    if parsed is None:
        return None
    alpn, ack = None, False
    groups: tuple[int, ...] = ()
    for kind, data in parsed:
        if kind == EXT_ALPN:
            inner = Reader(data)
            names = inner.vector(2)
            first = Reader(names).vector(1) if names is not None else None
            if first is None:
                return None
            alpn = first
        elif kind == EXT_SERVER_NAME:
            ack = not data
        elif kind == EXT_SUPPORTED_GROUPS:
            groups = Reader(data).u16_list(2) or ()
    return Extensions(tuple(k for k, _ in parsed), alpn, ack, groups)


class CertEntry(NamedTuple):
    der: bytes
    ocsp: bytes | None = None  # the DER OCSPResponse of its status_request extension
    scts: bytes | None = None  # its SignedCertificateTimestampList, as sent
    extension_ids: tuple[int, ...] = ()


def parse_certificate(body: bytes) -> tuple[CertEntry, ...] | None:
    r = Reader(body)
    if r.vector(1) is None:  # certificate_request_context: empty from a server
        return None
    block = r.vector(3)
    if block is None or r.left:
        return None
    entries = Reader(block)
    out: list[CertEntry] = []
    while entries.left:
        der = entries.vector(3)
        ext = entries.vector(2)
        parsed = extensions(ext) if ext is not None else None
        if der is None or parsed is None or not der:
            return None
        if len(out) < MAX_CHAIN:
            out.append(CertEntry(der, *_entry_extensions(parsed), tuple(k for k, _ in parsed)))
    return tuple(out)


def _entry_extensions(parsed: tuple[tuple[int, bytes], ...]) -> tuple[bytes | None, bytes | None]:
    ocsp = scts = None
    for kind, data in parsed:
        if kind == EXT_STATUS_REQUEST:  # CertificateStatus: status_type ocsp(1), then the response
            inner = Reader(data)
            if inner.int(1) == 1:
                ocsp = inner.vector(3)
        elif kind == EXT_SCT:
            scts = Reader(data).vector(2)
    return ocsp, scts


def parse_certificate_verify(body: bytes) -> tuple[int, bytes] | None:
    r = Reader(body)
    scheme = r.int(2)
    signature = r.vector(2)
    if scheme is None or signature is None or r.left:
        return None
    return scheme, signature


def check_signature(leaf_der: bytes, scheme: int, signature: bytes, transcript_hash: bytes) -> str | None:
    """None when `signature` is the leaf key's signature over the transcript (RFC 8446 §4.4.3),
    else why not, in words."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

    message = CV_CONTEXT + transcript_hash
    try:
        key = x509.load_der_x509_certificate(leaf_der).public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the leaf's key cannot be read ({exc})"
    bits = {0x0401: 256, 0x0501: 384, 0x0601: 512, 0x0403: 256, 0x0503: 384, 0x0603: 512, 0x0804: 256,
            0x0805: 384, 0x0806: 512, 0x0809: 256, 0x080A: 384, 0x080B: 512}.get(scheme, 256)
    algo: hashes.HashAlgorithm = {256: hashes.SHA256(), 384: hashes.SHA384()}.get(bits, hashes.SHA512())
    try:
        if scheme in (0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B) and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PSS(padding.MGF1(algo), algo.digest_size), algo)
        elif scheme in (0x0401, 0x0501, 0x0601) and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), algo)  # not allowed in TLS 1.3 (§4.4.3): said apart
        elif scheme in (0x0403, 0x0503, 0x0603) and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(algo))
        elif scheme == 0x0807 and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif scheme == 0x0808 and isinstance(key, ed448.Ed448PublicKey):
            key.verify(signature, message)
        else:
            return f"the scheme does not fit the leaf's {type(key).__name__.replace('PublicKey', '').lstrip('_')} key"
    except InvalidSignature:
        return "the signature does not verify with the leaf's key"
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the signature cannot be checked ({exc})"
    return None

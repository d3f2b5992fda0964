"""Certificates from a hostile server, for the tests: subjects carrying markup and control characters,
crafted DER (an extension that does not parse, a version that does not exist, a bidi character in a
SAN) signed again so only the crafted part is wrong, and a chain a hundred certificates long."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tlsbench.lab.certs import CertFiles


def self_signed(directory: Path, subject: dict, dns_name: str, days: int = 30) -> CertFiles:
    """Write a self-signed EC certificate for `subject` ({NameOID: value}) and `dns_name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject.items()])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "evil.pem", directory / "evil.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return CertFiles(cert=cert_path, key=key_path, chain=cert_path, issuers=None, names=(dns_name,))


# --- certificates no well-behaved CA issues: crafted DER, signed again with the certificate's key --------

def _der(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    size = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + n.to_bytes(size, "big") + value


def _element(data: bytes, at: int) -> tuple[int, int]:
    """(start of the value, end) of the DER element at `at`."""
    first = data[at + 1]
    if first < 0x80:
        return at + 2, at + 2 + first
    size = first & 0x7F
    start = at + 2 + size
    return start, start + int.from_bytes(data[at + 2:at + 2 + size], "big")


def resign(cert: x509.Certificate, key, patch) -> bytes:
    """The certificate's DER with its to-be-signed part changed by `patch(tbs_value) -> tbs_value`, signed
    again with `key` (its issuer's, or its own when self-signed), so only the change is wrong."""
    der = cert.public_bytes(serialization.Encoding.DER)
    start, _ = _element(der, 0)
    tbs_start, tbs_end = _element(der, start)
    changed = patch(der[tbs_start:tbs_end])
    assert len(changed) == tbs_end - tbs_start, "a patch must keep the length (inner DER lengths stay as they are)"
    tbs = _der(0x30, changed)
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    algorithm = der[tbs_end:_element(der, tbs_end)[1]]
    return _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))


def crafted(directory: Path, stem: str, *, subject: str = "localhost", sans=("localhost",), extensions=(),
            patch=None, days: int = 30) -> CertFiles:
    """A self-signed EC certificate for `sans`, with `extensions` ((ExtensionType, critical) pairs) and
    its TBS bytes then changed by `patch` (re-signed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=days)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    cert = builder.sign(key, hashes.SHA256())
    der = resign(cert, key, patch) if patch is not None else cert.public_bytes(serialization.Encoding.DER)
    import ssl

    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_text(ssl.DER_cert_to_PEM_cert(der))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return CertFiles(cert=cert_path, key=key_path, chain=cert_path, issuers=None, names=tuple(sans))


def long_chain(directory: Path, length: int, days: int = 30) -> CertFiles:
    """A leaf for localhost under `length - 1` CAs, each issued by the one above; `issuers` holds the
    CAs, root included (for s_server -cert_chain), `chain` the root alone (to trust)."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(subject: str, issuer: x509.Name, issuer_key, key, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days)))
        if ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(length)]
    root_name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "hostile root")])
    cas = [issue("hostile root", root_name, keys[0], keys[0], True)]
    for i in range(1, length - 1):
        cas.append(issue(f"hostile CA {i}", cas[-1].subject, keys[i - 1], keys[i], True))
    leaf = issue("localhost", cas[-1].subject, keys[length - 2], keys[length - 1], False)

    def pem(c: x509.Certificate) -> bytes:
        return c.public_bytes(serialization.Encoding.PEM)

    paths = {name: directory / f"long-{name}.pem" for name in ("leaf", "key", "issuers", "root")}
    paths["leaf"].write_bytes(pem(leaf))
    paths["key"].write_bytes(keys[-1].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    paths["issuers"].write_bytes(b"".join(pem(c) for c in reversed(cas)))  # the root too: `length` sent
    paths["root"].write_bytes(pem(cas[0]))
    return CertFiles(cert=paths["leaf"], key=paths["key"], chain=paths["root"], issuers=paths["issuers"],
                     names=("localhost",))


def negative_serial(tbs: bytes) -> bytes:
    """A `crafted(..., patch=)` patch: the serial number's first byte becomes 0x80, so the INTEGER (same
    length) is negative and still minimally encoded (0xFF before a byte with its top bit set would not
    be DER, and OpenSSL would refuse to load the certificate at all)."""
    at = 0
    if tbs[0] == 0xA0:  # [0] version
        at = _element(tbs, 0)[1]
    assert tbs[at] == 0x02
    start, _ = _element(tbs, at)
    return tbs[:start] + b"\x80" + tbs[start + 1:]

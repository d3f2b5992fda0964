"""Self-signed certificates whose subject carries markup and control characters, for the tests
that prove such fields stay data in the engine and on screen."""

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

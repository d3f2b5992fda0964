"""Certificates as data: DER parsed with `cryptography` into `CertInfo`, and name matching.

`match_name()` is the hostname/IP check used when OpenSSL cannot do it for us (no SNI, or an
SNI different from the name being verified): DNS SANs with a wildcard only as the whole
leftmost label, IP SANs compared as addresses, no fallback to the subject CN (as browsers).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import ssl

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from tlsbench.engine.details import CertInfo, whole_days_left
from tlsbench.engine.errors import TlsbenchError


class CertParseError(TlsbenchError, ValueError):
    """The peer's certificate does not parse (a ValueError too, for callers that catch that)."""

    title = "certificate not parsable"


_PARSE_ERRORS = (ValueError, TypeError, OverflowError, UnicodeError, UnsupportedAlgorithm, x509.InvalidVersion)


def load(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except _PARSE_ERRORS as exc:
        raise CertParseError(str(exc)) from None


def san_entries(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) from the subjectAltName extension."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    except ValueError:  # a malformed extension is the peer's problem; show what we can
        return [], []
    dns = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return dns, ips


def _key_facts(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):  # unknown or broken key algorithm or curve
        return "unknown", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC ({key.curve.name})", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject and the certificate's own key verifies its signature."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - any failure (unsupported key, bad signature) means "not self-signed"
        return False
    return True


def _sig_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string


def parse_cert(der: bytes, position: int, now: _dt.datetime | None = None) -> CertInfo:
    """Parse one DER certificate into CertInfo (status from its dates only); CertParseError if it cannot be."""
    try:
        return _parse_cert(der, position, now)
    except CertParseError:
        raise
    except _PARSE_ERRORS as exc:  # a field cryptography parses lazily and refuses
        raise CertParseError(str(exc)) from None


def _parse_cert(der: bytes, position: int, now: _dt.datetime | None) -> CertInfo:
    cert = load(der)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    dns, ips = san_entries(cert)
    key_type, key_bits = _key_facts(cert)
    digest = cert.fingerprint(hashes.SHA256())
    if now > na:
        status = "expired"
    elif now < nb:
        status = "not yet valid"
    else:
        status = "ok"
    return CertInfo(
        position=position,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=tuple([f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]),
        not_before=nb.isoformat().replace("+00:00", "Z"),
        not_after=na.isoformat().replace("+00:00", "Z"),
        days_left=whole_days_left((na - now).total_seconds()),
        serial=f"{cert.serial_number:x}",
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=_sig_name(cert),
        sha256=":".join(f"{b:02X}" for b in digest),
        is_ca=_is_ca(cert),
        self_signed=is_self_signed(cert),
        status=status,
        # The stdlib's encoder: cryptography's serialization package would pull in dataclasses,
        # inspect and ast, a measurable part of a probe process's start.
        pem=ssl.DER_cert_to_PEM_cert(der),
    )


def _norm(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _dns_match(pattern: str, host: str) -> bool:
    pattern = pattern.rstrip(".").lower()
    if pattern == host:
        return True
    p_labels, h_labels = pattern.split("."), host.split(".")
    # Only "*" as the whole leftmost label, and never matching a bare public suffix ("*.com").
    if p_labels[0] != "*" or len(p_labels) < 3 or len(p_labels) != len(h_labels):
        return False
    if any("*" in label for label in p_labels[1:]):
        return False
    return p_labels[1:] == h_labels[1:] and h_labels[0] != ""


def match_name(der: bytes, name: str) -> bool:
    """True when the certificate is valid for the host name or IP address `name`."""
    try:
        return _match_name(der, name)
    except CertParseError:
        raise
    except _PARSE_ERRORS as exc:
        raise CertParseError(str(exc)) from None


def _match_name(der: bytes, name: str) -> bool:
    cert = load(der)
    dns, ips = san_entries(cert)
    try:
        addr = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        addr = None
    if addr is not None:
        return any(ipaddress.ip_address(i) == addr for i in ips)
    host = _norm(name)
    return any(_dns_match(_norm(p) if "*" not in p else p, host) for p in dns)

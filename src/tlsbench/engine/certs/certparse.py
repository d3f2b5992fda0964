"""Certificates as data: DER parsed with `cryptography` into `CertInfo`, and name matching.

`match_name()` is the hostname/IP check used when OpenSSL cannot do it for us (no SNI, or an
SNI different from the name being verified): DNS SANs with a wildcard only as the whole
leftmost label, IP SANs compared as addresses, no fallback to the subject CN (as browsers).
"""

from __future__ import annotations

from collections.abc import Callable

import datetime as _dt
import ipaddress
import ssl

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from tlsbench.engine.records.details import CertInfo, whole_days_left
from tlsbench.engine.certs.rawcert import der_element as _tlv, pin_sha256 as _pin_sha256
from tlsbench.errors import TlsbenchError


class CertParseError(TlsbenchError, ValueError):
    """The peer's certificate does not parse (a ValueError too, for callers that catch that)."""

    title = "certificate not parsable"


_PARSE_ERRORS = (ValueError, TypeError, OverflowError, UnicodeError, UnsupportedAlgorithm, x509.InvalidVersion)


def load(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except _PARSE_ERRORS as exc:
        raise CertParseError(str(exc)) from None


def extensions_problem(cert: x509.Certificate) -> str | None:
    """cryptography's words when the certificate's extensions do not parse, else None."""
    try:
        cert.extensions
    except _PARSE_ERRORS as exc:
        return str(exc) or type(exc).__name__
    return None


MAX_EXTENSIONS = 64  # extensions examined one by one, at most


def broken_extensions(der: bytes) -> list[tuple[str, str]]:
    """The extensions of a certificate that do not parse, each as (name or OID, cryptography's words).

    cryptography parses all extensions at once, so one bad extension hides the others; each is
    tried alone here, in a copy of the certificate that holds only it. Empty when they all parse
    (or the certificate does not load, or its structure cannot be walked)."""
    try:
        if extensions_problem(load(der)) is None:
            return []
        walked = _walk_extensions(der)
    except (IndexError, ValueError):
        return []
    if walked is None:
        return []
    rebuild, extensions = walked
    out = []
    for ext in extensions[:MAX_EXTENSIONS]:
        try:
            alone = x509.load_der_x509_certificate(rebuild(ext))
        except _PARSE_ERRORS:
            continue
        problem = extensions_problem(alone)
        if problem is not None:
            out.append((_extension_name(ext), problem))
    return out


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out, at = [], start
    while at < end:
        tag, vstart, vend = _tlv(data, at)
        out.append((tag, at, vend))
        at = vend
    return out


def _der(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    size = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + n.to_bytes(size, "big") + value


def _walk_extensions(der: bytes) -> tuple[Callable[[bytes], bytes], list[bytes]] | None:
    """(rebuild(extension) -> DER of the certificate with only that extension, [extension DER, ...])."""
    tag, cstart, cend = _tlv(der, 0)
    parts = _children(der, cstart, cend)
    if tag != 0x30 or len(parts) != 3:
        return None
    _, tbs_at, tbs_end = parts[0]
    _, tstart, _ = _tlv(der, tbs_at)
    fields = _children(der, tstart, tbs_end)
    where = next((i for i, f in enumerate(fields) if f[0] == 0xA3), None)
    if where is None:
        return None
    _, a3_at, a3_end = fields[where]
    _, a3_start, _ = _tlv(der, a3_at)
    _, seq_start, seq_end = _tlv(der, a3_start)
    extensions = [der[at:end] for _, at, end in _children(der, seq_start, seq_end)]
    before = b"".join(der[at:end] for _, at, end in fields[:where])
    after = b"".join(der[at:end] for _, at, end in fields[where + 1:])
    rest = b"".join(der[at:end] for _, at, end in parts[1:])

    def rebuild(ext: bytes) -> bytes:
        tbs = _der(0x30, before + _der(0xA3, _der(0x30, ext)) + after)
        return _der(0x30, tbs + rest)

    return rebuild, extensions


def _extension_name(ext: bytes) -> str:
    try:
        _, start, end = _tlv(ext, 0)
        tag, ostart, oend = _tlv(ext, start)
        if tag != 0x06:
            return "an extension without an OID"
        raw = ext[ostart:oend]
        arcs, value = [], 0
        for b in raw:
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                arcs.append(value)
                value = 0
        if not arcs:
            return "an extension with an empty OID"
        first = min(arcs[0] // 40, 2)
        dotted = ".".join(str(a) for a in [first, arcs[0] - 40 * first] + arcs[1:])
        name = getattr(x509.ObjectIdentifier(dotted), "_name", "Unknown OID")
        return dotted if name == "Unknown OID" else f"{name} ({dotted})"
    except (IndexError, ValueError):
        return "an extension that cannot be walked"


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


def _key_ids(cert: x509.Certificate) -> tuple[bytes | None, bytes | None]:
    """(subject key identifier, authority key identifier's key id), None where absent or unreadable."""
    try:
        ski: bytes | None = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError):
        ski = None
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except (x509.ExtensionNotFound, ValueError):
        aki = None
    return ski, aki


def is_self_signed(cert: x509.Certificate) -> bool:
    """Decided as OpenSSL decides it when it builds a chain: the issuer equals the subject and the
    authority key identifier, when there is one, names the certificate's own key. The signature is
    checked only when the identifiers cannot say (one of them missing and the other present would
    not, so: an AKI without an SKI). Checking a signature loads cryptography's whole backend (~6 ms,
    once), which the usual root does not need."""
    try:
        if cert.issuer != cert.subject:
            return False
    except _PARSE_ERRORS:  # a name cryptography cannot read: compare the names' DER
        names = raw_names(cert)
        if names is None or names[0] != names[1]:
            return False
    ski, aki = _key_ids(cert)
    if aki is None:
        return True
    if ski is not None:
        return ski == aki
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


_CACHE: dict[tuple[bytes, int], CertInfo] = {}
_CACHE_SIZE = 64


def _parse_cert(der: bytes, position: int, now: _dt.datetime | None) -> CertInfo:
    """Parsed once per certificate and minute: repeated runs (`probe --count`) see the same chain,
    and its days left and status can only change with the clock."""
    if now is not None:
        return _parse_uncached(der, position, now)
    minute = int(_dt.datetime.now(_dt.timezone.utc).timestamp() // 60)
    key = (der, minute)
    info = _CACHE.get(key)
    if info is None:
        info = _parse_uncached(der, position, None)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = info
    return info._replace(position=position)


def _parse_uncached(der: bytes, position: int, now: _dt.datetime | None) -> CertInfo:
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
        subject=name_text(cert, "subject"),
        issuer=name_text(cert, "issuer"),
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
        pin_sha256=_pin_sha256(der),
    )


def raw_names(cert: x509.Certificate) -> tuple[bytes, bytes] | None:
    """(issuer, subject) as the DER in the certificate's to-be-signed part; None when it cannot be walked."""
    try:
        tbs = cert.tbs_certificate_bytes
        _, start, _ = _tlv(tbs, 0)
        fields = _children(tbs, start, len(tbs))
    except (ValueError, IndexError):
        return None
    if fields and fields[0][0] == 0xA0:  # the explicit version comes first when present
        fields = fields[1:]
    if len(fields) < 5:  # serial, signature, issuer, validity, subject
        return None
    (_, i_at, i_end), (_, s_at, s_end) = fields[2], fields[4]
    return tbs[i_at:i_end], tbs[s_at:s_end]


def name_text(cert: x509.Certificate, which: str) -> str:
    """The subject or issuer in RFC 4514 text; when cryptography cannot read it (a T61String holding
    bytes that are not UTF-8, say: OpenSSL reads it), the text read from its DER by our own reader."""
    try:
        return getattr(cert, which).rfc4514_string()
    except _PARSE_ERRORS:
        from tlsbench.engine.certs.dername import name_text as der_name_text

        names = raw_names(cert)
        if names is None:
            raise
        return der_name_text(names[0] if which == "issuer" else names[1])


def unreadable_names(der: bytes) -> list[tuple[str, str]]:
    """[(which, cryptography's complaint)] for the subject and issuer it cannot read."""
    try:
        cert = load(der)
    except _PARSE_ERRORS:
        return []
    out = []
    for which in ("subject", "issuer"):
        try:
            getattr(cert, which)
        except _PARSE_ERRORS as exc:
            out.append((which, str(exc)))
    return out


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
    problem = extensions_problem(cert)
    if problem is not None:
        # The names cannot be read: neither a match nor a mismatch can be claimed.
        raise CertParseError(f"its extensions do not parse ({problem})")
    dns, ips = san_entries(cert)
    try:
        addr = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        addr = None
    if addr is not None:
        return any(ipaddress.ip_address(i) == addr for i in ips)
    host = _norm(name)
    return any(_dns_match(_norm(p) if "*" not in p else p, host) for p in dns)

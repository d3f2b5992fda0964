"""What can be read of a certificate `cryptography` refuses, straight from its DER.

OpenSSL may verify a certificate that `cryptography` cannot load (a version number outside 1-3, a
legacy string type holding bytes that are not UTF-8): the chain is then shown with what a small
DER walk reads (names, serial, dates, signature algorithm, fingerprint) instead of nothing, and
the chain's verdict stays OpenSSL's. Total over any input: None when even that cannot be read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ssl

from tlsbench.engine.records.details import CertInfo, whole_days_left
from tlsbench.engine.certs.dername import name_text, oid_text


def der_element(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the element) at `at`; ValueError when it does not fit."""
    if at + 2 > len(data):
        raise ValueError("DER element cut short")
    tag, first = data[at], data[at + 1]
    if first < 0x80:
        start, length = at + 2, first
    else:
        size = first & 0x7F
        if size == 0 or size > 4:
            raise ValueError("unsupported DER length")
        start, length = at + 2 + size, int.from_bytes(data[at + 2:at + 2 + size], "big")
    if start + length > len(data):
        raise ValueError("DER element runs past the data")
    return tag, start, start + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, value start, end) of each element in data[start:end]."""
    out, at = [], start
    while at < end:
        tag, vstart, vend = der_element(data, at)
        out.append((tag, at, vstart, vend))
        at = vend
    return out


def spki_der(der: bytes) -> bytes | None:
    """The certificate's SubjectPublicKeyInfo as the DER it holds (the element after the subject in
    its to-be-signed part); None when the DER cannot be walked that far."""
    try:
        _, start, end = der_element(der, 0)
        _, tbs_start, tbs_end = der_element(der, start)
        fields = _children(der, tbs_start, tbs_end)
    except ValueError:
        return None
    if fields and fields[0][0] == 0xA0:  # the explicit version
        fields = fields[1:]
    if len(fields) < 6 or fields[5][0] != 0x30:
        return None
    _, at, _, end = fields[5]
    return der[at:end]


def pin_sha256(der: bytes) -> str:
    """curl's --pinnedpubkey form of the certificate's key: 'sha256//' + base64 of SHA-256 of its
    SubjectPublicKeyInfo (what HPKP called pin-sha256); "" when the key cannot be found."""
    import base64

    spki = spki_der(der)
    return "" if spki is None else "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def _time(tag: int, raw: bytes) -> _dt.datetime:
    text = raw.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime: two-digit years, 1950-2049 (RFC 5280 4.1.2.5.1)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return _dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=_dt.timezone.utc)


def raw_cert_info(der: bytes, position: int, now: _dt.datetime | None = None) -> CertInfo | None:
    """A CertInfo read from the DER alone (no key facts, no SANs); None when the fields cannot be found."""
    try:
        _, start, end = der_element(der, 0)
        _, tbs_start, tbs_end = der_element(der, start)
        fields = _children(der, tbs_start, tbs_end)
        if fields and fields[0][0] == 0xA0:  # the explicit version
            fields = fields[1:]
        serial, algorithm, issuer, validity, subject = fields[:5]
        dates = _children(der, validity[2], validity[3])
        not_before = _time(dates[0][0], der[dates[0][2]:dates[0][3]])
        not_after = _time(dates[1][0], der[dates[1][2]:dates[1][3]])
        alg_oid = _children(der, algorithm[2], algorithm[3])[0]
    except (ValueError, IndexError, UnicodeError):
        return None
    now = now or _dt.datetime.now(_dt.timezone.utc)
    issuer_der, subject_der = der[issuer[1]:issuer[3]], der[subject[1]:subject[3]]
    status = "expired" if now > not_after else ("not yet valid" if now < not_before else "ok")
    digest = hashlib.sha256(der).digest()
    return CertInfo(
        position=position, subject=name_text(subject_der), issuer=name_text(issuer_der), sans=(),
        not_before=not_before.isoformat().replace("+00:00", "Z"),
        not_after=not_after.isoformat().replace("+00:00", "Z"),
        days_left=whole_days_left((not_after - now).total_seconds()),
        serial=der[serial[2]:serial[3]].hex().lstrip("0") or "0", key_type="unknown", key_bits=None,
        signature_algorithm=oid_text(der[alg_oid[2]:alg_oid[3]]), sha256=":".join(f"{b:02X}" for b in digest),
        is_ca=False, self_signed=issuer_der == subject_der, status=status, pem=ssl.DER_cert_to_PEM_cert(der),
        pin_sha256=pin_sha256(der))

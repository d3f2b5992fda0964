"""Is the leaf revoked? Its OCSP responder (RFC 6960) and CRL distribution points (RFC 5280).

`check_revocation(leaf_der, issuer_der, deadline)` asks every plain-HTTP source the leaf names —
the AIA OCSP URL (a POST of a request cryptography builds) and each CRL distribution point (a GET)
— each bounded in time and size, and reads the answers: an OCSP response's status, dates and
signer (verified against the issuer, or a responder the issuer delegated to); a CRL's signature,
dates and entry for the serial. Answers that cannot be trusted (bad signature, another
certificate's status) count as "unknown", with the reason. Nothing here raises for what the
network or a responder does.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, NamedTuple, cast
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp

from tlsbench.engine.records.details import RevocationCheck, RevocationDetail

if TYPE_CHECKING:
    from datetime import datetime

    from cryptography.hazmat.primitives.asymmetric.types import (CertificateIssuerPublicKeyTypes,
                                                                 CertificatePublicKeyTypes)
    from cryptography.hazmat.primitives.serialization import Encoding

MAX_OCSP = 64 * 1024
MAX_CRL = 20 * 1024 * 1024
OCSP_OID = x509.oid.AuthorityInformationAccessOID.OCSP


class Fetched(NamedTuple):
    status_line: str
    status: int
    body: bytes


class FetchError(Exception):
    """The source could not be reached or did not answer in HTTP (the message says which)."""


def http_request(url: str, deadline: float, body: bytes | None = None, content_type: str = "",
                 limit: int = MAX_OCSP) -> Fetched:
    """One HTTP/1.0 request (GET, or POST with `body`), all of it before `deadline` (monotonic)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    method = "POST" if body is not None else "GET"
    head = f"{method} {path} HTTP/1.0\r\nHost: {parts.netloc}\r\nUser-Agent: tlsbench\r\nAccept: */*\r\n"
    if body is not None:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    request = (head + "\r\n").encode("ascii") + (body or b"")

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("no answer in time")
        return remaining

    try:
        with socket.create_connection((host, port), timeout=left()) as sock:
            sock.settimeout(left())
            sock.sendall(request)
            data = bytearray()
            while len(data) <= limit + 16384 and not _complete(data):
                sock.settimeout(left())
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except FetchError:
        raise
    except socket.timeout:
        raise FetchError("no answer in time") from None
    except OSError as exc:
        raise FetchError(exc.strerror or str(exc)) from None
    header, sep, rest = bytes(data).partition(b"\r\n\r\n")
    if not sep or not header.startswith(b"HTTP/"):
        raise FetchError("the answer is not HTTP")
    status_line = header.split(b"\r\n", 1)[0].decode("latin-1")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        raise FetchError(f"a malformed status line: {status_line[:80]}") from None
    if len(rest) > limit:
        raise FetchError(f"the answer is larger than {limit} bytes")
    return Fetched(status_line, status, rest)


def _complete(data: bytearray) -> bool:
    """True once the headers and a Content-Length's worth of body are in (a server may keep the
    connection open after answering: openssl ocsp does)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    for line in bytes(data[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(data) - end - 4 >= int(value.strip())
            except ValueError:
                return False
    return False


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when is not None else None


def _urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    ocsp_urls, crl_urls = [], []
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp_urls = [d.access_location.value for d in aia if d.access_method == OCSP_OID
                     and isinstance(d.access_location, x509.UniformResourceIdentifier)]
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        for point in points:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    crl_urls.append(name.value)
    except (x509.ExtensionNotFound, ValueError):
        pass
    return ocsp_urls, crl_urls


def _verify(key: CertificatePublicKeyTypes, signature: bytes, data: bytes,
            algorithm: hashes.HashAlgorithm | None) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        else:
            return False  # a key type or hash OCSP signatures do not use
        return True
    except Exception:  # noqa: BLE001 - any failure means "not verified"
        return False


def _ocsp_signer(response: ocsp.OCSPResponse,
                 issuer: x509.Certificate) -> tuple[CertificatePublicKeyTypes | None, str]:
    """The public key that must have signed the response, and who that is in words."""
    by_name = response.responder_name
    by_hash = response.responder_key_hash
    issuer_hash = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    if (by_name is not None and by_name == issuer.subject) or (by_hash is not None and by_hash == issuer_hash):
        return issuer.public_key(), f"the issuer ({issuer.subject.rfc4514_string()})"
    for cert in response.certificates:
        try:
            cert.verify_directly_issued_by(issuer)
            usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except Exception:  # noqa: BLE001 - not a responder the issuer delegated to
            continue
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in usage:
            return cert.public_key(), f"a delegated responder ({cert.subject.rfc4514_string()})"
    return None, "an unknown responder (neither the issuer nor one it delegated to)"


def ask_ocsp(url: str, leaf: x509.Certificate, issuer: x509.Certificate, deadline: float) -> RevocationCheck:
    started = time.monotonic()
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    base = RevocationCheck("ocsp", url, "unreachable")
    try:
        fetched = http_request(url, deadline, request.public_bytes(_der()), "application/ocsp-request")
    except FetchError as exc:
        return base._replace(reason=str(exc), duration_ms=(time.monotonic() - started) * 1000)
    took = (time.monotonic() - started) * 1000
    base = base._replace(http_status=fetched.status_line, duration_ms=took)
    if fetched.status != 200:
        return base._replace(status="unknown", reason=f"the responder answered {fetched.status_line}",
                             answer=fetched.status_line)
    return read_ocsp_response(base, fetched.body, leaf, issuer)


def read_ocsp_response(base: RevocationCheck, body: bytes, leaf: x509.Certificate,
                       issuer: x509.Certificate) -> RevocationCheck:
    """What a DER OCSPResponse says about `leaf`, checked (signer, serial): from a responder or stapled."""
    try:
        response = ocsp.load_der_ocsp_response(body)
    except ValueError as exc:
        return base._replace(status="unknown", reason=f"not an OCSP response: {exc}", answer=body[:64].hex())
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        name = response.response_status.name.lower()
        return base._replace(status="unknown", reason=f"the responder refused: {name}", answer=f"responseStatus {name}")
    key, signer = _ocsp_signer(response, issuer)
    signed = key is not None and _verify(key, response.signature, response.tbs_response_bytes,
                                         response.signature_hash_algorithm)
    status = response.certificate_status.name.lower()  # good | revoked | unknown
    dates = base._replace(this_update=_iso(response.this_update_utc), next_update=_iso(response.next_update_utc),
                          produced_at=_iso(response.produced_at_utc),
                          signed_by=signer + ("; signature verified" if signed else "; signature NOT verified"))
    answer = (f"certStatus {status}, thisUpdate {dates.this_update}, nextUpdate {dates.next_update or 'none'}, "
              f"producedAt {dates.produced_at}, signed by {dates.signed_by}")
    if response.serial_number != leaf.serial_number:
        return dates._replace(status="unknown", reason="the answer is about another certificate", answer=answer)
    if not signed:
        return dates._replace(status="unknown", reason="the answer's signature does not verify", answer=answer)
    if status == "revoked":
        reason = _reason_words(response.revocation_reason.name) if response.revocation_reason is not None else None
        answer += f", revoked {_iso(response.revocation_time_utc)}" + (f" ({reason})" if reason else "")
        return dates._replace(status="revoked", revoked_at=_iso(response.revocation_time_utc),
                              reason=reason, answer=answer)
    if status == "unknown":
        return dates._replace(status="unknown", reason="the responder does not know this certificate", answer=answer)
    return dates._replace(status="good", answer=answer)


def _reason_words(name: str | None) -> str | None:
    """cryptography's ReasonFlags names as RFC 5280 spells them (key_compromise -> keyCompromise)."""
    if name is None:
        return None
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def ask_crl(url: str, leaf: x509.Certificate, issuer: x509.Certificate, deadline: float) -> RevocationCheck:
    started = time.monotonic()
    base = RevocationCheck("crl", url, "unreachable")
    try:
        fetched = http_request(url, deadline, limit=MAX_CRL)
    except FetchError as exc:
        return base._replace(reason=str(exc), duration_ms=(time.monotonic() - started) * 1000)
    base = base._replace(http_status=fetched.status_line, duration_ms=(time.monotonic() - started) * 1000)
    if fetched.status != 200:
        return base._replace(status="unreachable", reason=f"the server answered {fetched.status_line}",
                             answer=fetched.status_line)
    try:
        crl = (x509.load_pem_x509_crl(fetched.body) if fetched.body.lstrip().startswith(b"-----BEGIN")
               else x509.load_der_x509_crl(fetched.body))
    except ValueError as exc:
        return base._replace(status="unknown", reason=f"not a CRL: {exc}", answer=fetched.body[:64].hex())
    # The issuer of a verified chain signs, so its key is one that can (not X25519/X448/ML-KEM).
    signed = crl.issuer == issuer.subject and crl.is_signature_valid(
        cast("CertificateIssuerPublicKeyTypes", issuer.public_key()))
    dates = base._replace(this_update=_iso(crl.last_update_utc), next_update=_iso(crl.next_update_utc),
                          signed_by=f"{crl.issuer.rfc4514_string()}; signature "
                                    + ("verified" if signed else "NOT verified"))
    answer = (f"CRL of {crl.issuer.rfc4514_string()} with {len(crl)} entries, thisUpdate {dates.this_update}, "
              f"nextUpdate {dates.next_update or 'none'}")
    if not signed:
        return dates._replace(status="unknown", reason="the CRL is not signed by the leaf's issuer", answer=answer)
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is None:
        return dates._replace(status="good", answer=answer + "; the leaf's serial is not listed")
    reason = None
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except (x509.ExtensionNotFound, ValueError):
        pass
    when = _iso(entry.revocation_date_utc)
    return dates._replace(status="revoked", revoked_at=when, reason=_reason_words(reason),
                          answer=answer + f"; the leaf's serial is listed: revoked {when}"
                          + (f" ({_reason_words(reason)})" if reason else ""))


def _der() -> Encoding:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def overall(checks: tuple[RevocationCheck, ...]) -> str:
    statuses = [c.status for c in checks]
    for word in ("revoked", "good", "unknown"):
        if word in statuses:
            return word
    return "unreachable" if statuses else "no-source"


def check_stapled(response: bytes, leaf_der: bytes, issuer_der: bytes | None, where: str) -> RevocationCheck:
    """The stapled response (engine/certs/stapling.py fetched it), read like a responder's answer."""
    base = RevocationCheck("stapled", where, "unknown")
    if issuer_der is None:
        return base._replace(reason="the issuer's certificate is not known (the chain did not verify)")
    return read_ocsp_response(base, response, x509.load_der_x509_certificate(leaf_der),
                              x509.load_der_x509_certificate(issuer_der))


def check_revocation(leaf_der: bytes, issuer_der: bytes | None, deadline: float,
                     stapled: RevocationCheck | None = None) -> RevocationDetail:
    """Ask every plain-HTTP OCSP responder and CRL distribution point the leaf names; `stapled` is
    the server's own stapled answer (or why there is none), put first."""
    leaf = x509.load_der_x509_certificate(leaf_der)
    issuer = x509.load_der_x509_certificate(issuer_der) if issuer_der else None
    ocsp_urls, crl_urls = _urls(leaf)
    usable = [u for u in ocsp_urls + crl_urls if u.lower().startswith("http://")]
    skipped = tuple(u for u in ocsp_urls + crl_urls if u not in usable)
    base = RevocationDetail(status="no-source", leaf=leaf.subject.rfc4514_string(), serial=f"{leaf.serial_number:x}",
                            issuer=issuer.subject.rfc4514_string() if issuer else None, not_checked=skipped)
    first = (stapled,) if stapled is not None and stapled.status in ("good", "revoked", "unknown") else ()
    if issuer is None:
        checks = first + tuple(RevocationCheck("ocsp" if u in ocsp_urls else "crl", u, "unknown",
                                               reason="the issuer's certificate is not known (the chain did not "
                                                      "verify)") for u in usable)
        return base._replace(status="unknown" if checks else "no-source", checks=checks, stapled=stapled)
    checks = first + tuple([ask_ocsp(u, leaf, issuer, deadline) for u in ocsp_urls if u in usable]
                           + [ask_crl(u, leaf, issuer, deadline) for u in crl_urls if u in usable])
    return base._replace(status=overall(checks), checks=checks, stapled=stapled)

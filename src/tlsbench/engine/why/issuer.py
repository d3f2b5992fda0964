"""The issuer a leaf names in its AIA "CA Issuers" URL: fetched, checked, and added to one run's trust.

OpenSSL reports a missing intermediate and an unknown private CA alike (verify code 20). Fetching
the issuer the certificate itself points to tells them apart: when the fetched issuer chains to a
root this run already trusts, the server merely left its intermediate out (`cert-incomplete-chain`);
when it does not, the CA is one nobody here trusts (`cert-untrusted`).

The fetch is plain HTTP (as AIA URLs are), direct, bounded in time and in size, and reads a
certificate in DER or PEM (or a PKCS#7 bundle of them). Up to MAX_DEPTH issuers are followed
upwards, each by its own AIA URL. Fetched certificates that are CAs but not self-signed are added to
the run's trust store: OpenSSL still needs a trusted self-signed root above them, so they complete
a chain but never make one trusted by themselves. A fetched self-signed root is never added.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cryptography import x509

    from tlsbench.engine.runner import Prepared

MAX_BYTES = 64 * 1024
MAX_DEPTH = 3
FETCH_TIMEOUT = 3.0  # seconds for one URL, at most


class FetchError(Exception):
    """The issuer could not be fetched or read (the message says why, in one line)."""


class Fetched(NamedTuple):
    url: str
    der: bytes
    subject: str
    self_signed: bool
    is_ca: bool
    form: str  # "DER" | "PEM" | "PKCS#7"
    size: int


def fetch(url: str, timeout: float = FETCH_TIMEOUT) -> tuple[bytes, str]:
    """GET an http:// URL; (body, content type). Bounded: `timeout` seconds in all, MAX_BYTES."""
    import http.client
    import socket

    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise FetchError(f"not an http:// URL: {url}")
    deadline = time.monotonic() + timeout
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "tlsbench", "Accept": "*/*", "Connection": "close"})
        reply = conn.getresponse()
        if reply.status != 200:
            raise FetchError(f"{url} answered HTTP {reply.status} {reply.reason}")
        body = bytearray()
        while len(body) <= MAX_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchError(f"{url} took longer than {timeout:g} s")
            if conn.sock is not None:
                conn.sock.settimeout(left)
            chunk = reply.read1(MAX_BYTES + 1 - len(body)) if hasattr(reply, "read1") else reply.read(4096)
            if not chunk:
                break
            body += chunk
        if len(body) > MAX_BYTES:
            raise FetchError(f"{url} sent more than {MAX_BYTES // 1024} KiB: not a certificate")
        return bytes(body), reply.getheader("Content-Type") or ""
    except (OSError, socket.timeout, http.client.HTTPException) as exc:
        raise FetchError(f"{url} could not be fetched: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()


def read_certificate(body: bytes) -> tuple[x509.Certificate, str]:
    """(certificate, form) from DER, PEM or PKCS#7 bytes; raises FetchError when it is none of them."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs7

    readers = (("DER", x509.load_der_x509_certificate), ("PEM", x509.load_pem_x509_certificate),
               ("PKCS#7", lambda b: pkcs7.load_der_pkcs7_certificates(b)[0]),
               ("PKCS#7", lambda b: pkcs7.load_pem_pkcs7_certificates(b)[0]))
    for form, reader in readers:
        try:
            return reader(body), form
        except (ValueError, IndexError, TypeError):
            continue
    raise FetchError("the URL did not serve a certificate (neither DER, PEM nor PKCS#7)")


def issuers_of(leaf_pem: str, urls: tuple[str, ...], timeout: float = FETCH_TIMEOUT) -> list[Fetched]:
    """Fetch the chain above a leaf by its AIA URLs; each one checked to have signed the one below."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tlsbench.engine.certs import certparse
    from tlsbench.engine.why.facts import issuer_urls

    below = x509.load_pem_x509_certificate(leaf_pem.encode("ascii"))
    out: list[Fetched] = []
    deadline = time.monotonic() + timeout
    for _ in range(MAX_DEPTH):
        if not urls:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        body, _type = fetch(urls[0], left)
        cert, form = read_certificate(body)
        try:
            below.verify_directly_issued_by(cert)
        except Exception as exc:  # noqa: BLE001 - any mismatch: name, signature, algorithm
            raise FetchError(f"{urls[0]} served {cert.subject.rfc4514_string()!r}, which did not issue "
                             f"{below.subject.rfc4514_string()!r} ({type(exc).__name__})") from None
        der = cert.public_bytes(serialization.Encoding.DER)
        self_signed = certparse.is_self_signed(cert)
        try:
            is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        except x509.ExtensionNotFound:
            is_ca = False
        out.append(Fetched(urls[0], der, cert.subject.rfc4514_string(), self_signed, is_ca, form, len(body)))
        if self_signed:
            break
        urls = issuer_urls(cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))
        below = cert
    return out


def add_to_trust(prepared: Prepared, fetched: list[Fetched]) -> int:
    """Add the fetched intermediates (CAs, not self-signed) to the target handshake's trust; how many."""
    from tlsbench.engine.stages.tls import TlsStage

    step_index = next(i for i, s in enumerate(prepared.plan.steps) if s.name == "tls")
    stage = prepared.stages[step_index]
    assert isinstance(stage, TlsStage)  # a plan that verifies a chain has its handshake prepared
    context = stage.setup[0]  # TlsStage builds (context, server_hostname, ours) when prepared
    added = 0
    for cert in fetched:
        if cert.is_ca and not cert.self_signed:
            context.load_verify_locations(cadata=cert.der)
            added += 1
    return added

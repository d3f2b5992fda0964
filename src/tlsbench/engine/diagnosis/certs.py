"""Findings about certificates: verification failures by OpenSSL verify code, expiry warnings.

The verify code says what failed; the certificates the peer sent say why. Code 20 ("unable to
get local issuer certificate") means an unknown CA *or* a server that left out its
intermediate: told apart by what the peer sent and by what the trust store holds.
"""

from __future__ import annotations

import os
import ssl
import warnings

from cryptography import x509

from tlsbench.engine import certparse
from tlsbench.engine.details import CertInfo
from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.spec import ConnectionSpec

EXPIRING_DAYS = 30


def _f(code, severity, title, explanation, suggestion, evidence=(), stage="tls", origin="peer") -> Finding:
    return Finding(code=code, severity=severity, title=title, explanation=explanation, suggestion=suggestion,
                   stage=stage, origin=origin, evidence=tuple(evidence))


def trust_store_subjects(spec: ConnectionSpec) -> set[bytes] | None:
    """DER-encoded subjects of the CAs verification trusts (None when they cannot be listed)."""
    if spec.tls.verify == "cafile":
        path = os.path.expanduser(spec.tls.cafile or "")
    else:
        paths = ssl.get_default_verify_paths()
        path = paths.cafile or paths.openssl_cafile
    if not path:
        return None
    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            # Some system roots have serials RFC 5280 forbids; only their subjects matter here.
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(fh.read())
    except (OSError, ValueError):
        return None
    return {c.subject.public_bytes() for c in certs}


def _trust_words(spec: ConnectionSpec) -> str:
    return f"your CA file {spec.tls.cafile}" if spec.tls.verify == "cafile" else "the system trust store"


def _ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [str(d.access_location.value) for d in aia
            if d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS]


def verify_findings(spec: ConnectionSpec, code: int, message: str, chain_der: tuple[bytes, ...],
                    verify_name: str | None) -> list[Finding]:
    """The finding for a failed certificate verification (OpenSSL verify code, or 62 from our own check)."""
    ev = [Evidence("verify code", f"{code} ({message})")]
    certs = [certparse.load(d) for d in chain_der]
    infos = [certparse.parse_cert(d, i) for i, d in enumerate(chain_der)]
    leaf = infos[0] if infos else None
    if leaf is not None:
        ev.append(Evidence("leaf subject", leaf.subject))
    trust = _trust_words(spec)
    if code in (10, 9):
        bad = next((c for c in infos if c.status == ("expired" if code == 10 else "not yet valid")), leaf)
        if bad is not None:
            ev += [Evidence("certificate", f"#{bad.position} {bad.subject}"),
                   Evidence("valid", f"{bad.not_before} to {bad.not_after}")]
        which = "The server's certificate" if bad is None or bad.position == 0 else f"Certificate #{bad.position}"
        if code == 10:
            return [_f("cert-expired", "error", f"{which} has expired",
                       f"{which} expired on {bad.not_after if bad else '?'}; clients refuse it.",
                       "Renew the certificate on the server. To look anyway: --insecure (curl -k).", ev)]
        return [_f("cert-not-yet-valid", "error", f"{which} is not valid yet",
                   f"{which} becomes valid only on {bad.not_before if bad else '?'}: either it was issued "
                   "with a future date or this machine's clock is behind.",
                   "Check this machine's clock and the server's certificate dates.", ev)]
    if code == 62:
        sans = ", ".join(leaf.sans) if leaf and leaf.sans else "none"
        ev += [Evidence("name checked", verify_name or "?"), Evidence("certificate names (SANs)", sans)]
        return [_f("cert-hostname-mismatch", "error",
                   f"The certificate is not valid for {verify_name!r}",
                   f"The server's certificate names {sans}, which does not include {verify_name!r}. "
                   "The server may be serving a default certificate (check the SNI) or the wrong site.",
                   "Connect with a name the certificate holds, send the right name with --sni NAME, or pin the "
                   "address with --pin ADDR while keeping the name (curl --resolve NAME:PORT:ADDR).", ev)]
    if code in (18, 19):
        if code == 18:
            return [_f("cert-self-signed", "error", "The server's certificate is self-signed",
                       "The certificate is signed by its own key, so no CA vouches for it; "
                       f"it is not in {trust}.",
                       "If you trust it, pass it with --cafile FILE (curl --cacert FILE), or look with --insecure.",
                       ev)]
        root = infos[-1] if infos else None
        if root is not None:
            ev.append(Evidence("self-signed root sent", root.subject))
        return [_f("cert-self-signed", "error", "The chain ends in a self-signed root that is not trusted",
                   f"The server sent its chain up to a self-signed root CA ({root.subject if root else '?'}) "
                   f"that is not in {trust}: a private or unknown CA.",
                   "Trust that CA with --cafile FILE (curl --cacert FILE) if it is yours.", ev)]
    if code in (20, 2, 21) and certs:
        last = certs[-1]
        ev.append(Evidence("certificates sent", str(len(certs))))
        ev.append(Evidence("issuer not found", last.issuer.rfc4514_string()))
        store = trust_store_subjects(spec)
        issuer_known = store is not None and last.issuer.public_bytes() in store
        ev.append(Evidence(f"issuer in {trust}", "unknown" if store is None else ("yes" if issuer_known else "no")))
        if len(certs) == 1 and not certparse.is_self_signed(last):
            urls = _ca_issuer_urls(last)
            ev.append(Evidence("issuer download (AIA caIssuers)", ", ".join(urls) or "none in the certificate"))
            maybe = ("" if urls else " Without an issuer download address in the leaf, the issuer may also be a "
                     "private root CA that is simply not trusted here.")
            return [_f("cert-incomplete-chain", "error", "The server sent only its own certificate, no intermediate",
                       f"The leaf was issued by {last.issuer.rfc4514_string()!r}, which the server did not send "
                       f"and which is not in {trust}. Servers must send the intermediate CA certificates; "
                       "browsers may hide this by fetching or caching them, other clients fail." + maybe,
                       "Configure the server to send the full chain (leaf + intermediates, e.g. nginx "
                       "ssl_certificate with fullchain.pem); or trust the issuer with --cafile FILE.", ev)]
        return [_f("cert-untrusted", "error", "The certificate chain leads to an unknown CA",
                   f"The server sent {len(certs)} certificate(s); the last one was issued by "
                   f"{last.issuer.rfc4514_string()!r}, a CA that is not in {trust}.",
                   "If you trust that CA, pass its certificate with --cafile FILE (curl --cacert FILE; "
                   "openssl s_client -CAfile FILE).", ev)]
    return [_f("cert-untrusted", "error", f"The certificate could not be verified: {message}",
               f"OpenSSL rejected the server's certificate chain (verify code {code}: {message}).",
               "Inspect the chain below; openssl s_client -connect HOST:PORT -showcerts shows the same.", ev)]


def expiry_findings(infos: tuple[CertInfo, ...]) -> list[Finding]:
    """cert-expiring-soon for every valid certificate with fewer than 30 days left."""
    out = []
    for info in infos:
        if info.status == "ok" and info.days_left < EXPIRING_DAYS:
            who = "The server's certificate" if info.position == 0 else f"Certificate #{info.position} in the chain"
            out.append(_f("cert-expiring-soon", "warning", f"{who} expires in {info.days_left} day(s)",
                          f"{who} ({info.subject}) is valid until {info.not_after}; after that clients refuse it.",
                          "Renew it soon.", [Evidence("not after", info.not_after),
                                             Evidence("days left", str(info.days_left))], stage="chain"))
    return out

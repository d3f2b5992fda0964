"""Certificate transparency: the Signed Certificate Timestamps embedded in a leaf (RFC 6962).

Browsers (Chrome, Safari) accept a publicly trusted certificate only with SCTs from enough logs.
They usually come inside the certificate (the precertificate SCT extension, read here); a server
may also send them in a TLS extension or a stapled OCSP response, which the standard library
cannot ask for — so "none embedded" is worded as such.
"""

import base64
from typing import NamedTuple

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding


class Sct(NamedTuple):
    log_id: str  # base64, as CT log lists write it
    timestamp: str  # ISO 8601 UTC
    version: str
    entry_type: str


def leaf_scts(der: bytes) -> tuple[Sct, ...]:
    """The SCTs embedded in a certificate (empty when none, or when the extension cannot be read)."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        ext = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    except (x509.ExtensionNotFound, x509.InvalidVersion, ValueError):  # a certificate cryptography cannot load
        return ()
    out = []
    for sct in ext.value:
        when = sct.timestamp.replace(microsecond=(sct.timestamp.microsecond // 1000) * 1000)
        out.append(Sct(base64.b64encode(sct.log_id).decode("ascii"), when.isoformat(timespec="milliseconds") + "Z",
                       sct.version.name, sct.entry_type.name.lower()))
    return tuple(out)


def sct_findings(scts: tuple[Sct, ...], publicly_trusted: bool, leaf_subject: str) -> list[Finding]:
    """`no-sct` when a leaf trusted through the system store carries none (a private CA needs none)."""
    if scts or not publicly_trusted:
        return []
    return [finding("no-sct", "The certificate carries no certificate transparency timestamps", "The leaf verified against the system trust store (a public CA), but it embeds no Signed "
                    "Certificate Timestamps. Chrome and Safari refuse publicly trusted certificates without "
                    "them, unless the server sends them another way (a TLS extension or a stapled OCSP "
                    "response, which tlsbench cannot ask for).", "Have the CA issue the certificate with embedded SCTs (all public CAs do today); check with "
                    "a browser, or openssl s_client -ct.", (Evidence("leaf", leaf_subject), Evidence("embedded SCTs", "0")), severity="warning", origin="peer")]

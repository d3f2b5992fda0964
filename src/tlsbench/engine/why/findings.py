"""Findings the variants show together, which no single run can: every one the diagnosis makes is here.

`tls-intercepted`: through the proxy route the server presented another leaf than it does directly.
`cert-incomplete-chain` / `cert-untrusted`, confirmed: the issuer the leaf names in its AIA URL was
fetched, and with it the chain verifies (an intermediate the server left out) or still does not
(a private or unknown CA).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec

if TYPE_CHECKING:
    from tlsbench.engine.records.details import CertInfo
    from tlsbench.engine.why.issuer import Fetched


def leaf_of(result: ProbeResult | None) -> CertInfo | None:
    if result is None or result.chain is None or not result.chain.certificates:
        return None
    return result.chain.certificates[0]


def intercepted(spec: ConnectionSpec, proxied: ProbeResult, direct: ProbeResult) -> Finding | None:
    """tls-intercepted when both runs got a leaf and they differ; None otherwise."""
    via, own = leaf_of(proxied), leaf_of(direct)
    if via is None or own is None or via.sha256 == own.sha256:
        return None
    route = " -> ".join(h.address for h in spec.proxies)
    same_issuer = via.issuer == own.issuer
    return finding("tls-intercepted", "Through the proxy the server's certificate is replaced (TLS interception)", f"Reached directly, {spec.target} presents a certificate issued by {own.issuer!r}; through the proxy "
        f"({route}) the certificate is another one, issued by {via.issuer!r}. "
        + ("The issuers are the same, so this may also be a server that holds several certificates. "
           if same_issuer else
           "Something on the proxy route ends TLS itself and talks to the server for you: it can read and change "
           "everything sent. Corporate proxies and antivirus software do this; so does an attacker. ")
        + "The fingerprints below tell the two apart.", "If the proxy is your organisation's, trust its CA deliberately (its certificate as the CA file); "
        "otherwise send nothing secret through it, and compare the direct fingerprint with the one the server's "
        "operator publishes.", [Evidence("leaf through the proxy (SHA-256)", via.sha256),
         Evidence("issuer through the proxy", via.issuer),
         Evidence("leaf direct (SHA-256)", own.sha256),
         Evidence("issuer direct", own.issuer),
         Evidence("proxy route", route)], severity="warning", origin="proxy")


def _trust_words(spec: ConnectionSpec) -> str:
    return f"your CA file {spec.tls.cafile}" if spec.tls.verify == "cafile" else "the system trust store"


def _fetched_evidence(fetched: Sequence[Fetched]) -> list[Evidence]:
    ev = []
    for i, cert in enumerate(fetched, 1):
        ev += [Evidence(f"issuer {i} URL (AIA caIssuers)", cert.url),
               Evidence(f"issuer {i} fetched", f"{cert.subject} ({cert.form}, {cert.size} bytes"
                                                 f"{', self-signed root' if cert.self_signed else ''})")]
    return ev


def issuer_verdict(spec: ConnectionSpec, fetched: Sequence[Fetched], run: ProbeResult | None) -> Finding | None:
    """cert-incomplete-chain when the run with the fetched issuer verified; cert-untrusted when it still
    did not (or the issuer is itself an untrusted root); None when the run says neither."""
    if not fetched:
        return None
    trust = _trust_words(spec)
    top = fetched[-1]
    ev = _fetched_evidence(fetched)
    verified = run is not None and run.chain is not None and run.chain.verified is True
    if verified:
        return finding("cert-incomplete-chain", "The server leaves out its intermediate certificate", f"The leaf names where its issuer can be downloaded (AIA): {fetched[0].url} served "
                  f"{fetched[0].subject!r}, which issued the leaf, and with it the chain reaches a root in {trust}: "
                  "the handshake verifies. The server sends only its own certificate; browsers fetch or cache the "
                  "missing intermediate, other clients (curl, OpenSSL, most libraries) fail.", "Configure the server to send its intermediate(s) with its certificate (nginx: ssl_certificate "
                  "with the full chain; Apache: SSLCertificateFile with the chain appended).", ev + [Evidence("with the fetched issuer", "verified")], origin="peer")
    code = run.chain.verify_code if run is not None and run.chain is not None else None
    if run is not None and code is None and not top.self_signed:
        return None  # the run failed for another reason: it says nothing about trust
    why = (f"it is a self-signed root CA, and not in {trust}" if top.self_signed
           else f"even with it the chain does not reach a root in {trust} (verify code {code})")
    return finding("cert-untrusted", "The certificate comes from a CA that is not trusted here", f"The issuer the leaf points to was fetched ({top.url}: {top.subject!r}), and {why}: this is a "
              "private or unknown CA, not a missing intermediate.", "If you trust that CA, give its root certificate with --cafile FILE (curl --cacert FILE); otherwise "
              "the server needs a certificate from a CA its clients trust.", ev + [Evidence("with the fetched issuer", "still not verified")], origin="peer")

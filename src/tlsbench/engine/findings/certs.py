"""Findings about certificates: verification failures by OpenSSL verify code, expiry warnings.

The verify code says what failed; the certificates the peer sent say why. Code 20 ("unable to
get local issuer certificate") means an unknown CA *or* a server that left out its
intermediate: told apart by what the peer sent and by what the trust store holds.
"""

from __future__ import annotations

import os
import ssl
import warnings
from typing import TYPE_CHECKING

from cryptography import x509

from tlsbench.engine.certs import certparse
from tlsbench.engine.records.details import CertInfo
from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.tls import by_name, curl_peer, is_proxy, openssl_peer, site_name
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.spec import is_ip
from tlsbench.engine.suggestions import Change, Peer, Suggestion, curl, literal, quote_word

if TYPE_CHECKING:
    from tlsbench.engine.findings.tls import HandshakeWith

EXPIRING_DAYS = 30


def leaf_dns_names(chain_der: tuple[bytes, ...]) -> tuple[str, ...]:
    """The DNS names in the leaf's subjectAltName (empty when there is no leaf or it cannot be read)."""
    if not chain_der:
        return ()
    try:
        return tuple(certparse.san_entries(certparse.load(chain_der[0]))[0])
    except ValueError:
        return ()


def _insecure(spec: HandshakeWith) -> Change:
    return Change.of(verify="off", was=spec)


def _trust_file(spec: HandshakeWith, what: str) -> Suggestion:
    """Trust a CA given as a file: the change (FILE unknown), and how curl and openssl say it."""
    if is_proxy(spec):
        return Suggestion(literal(f"If you trust {what}, give its certificate with ") + "{proxy_cacert}.")
    return Suggestion(literal(f"If you trust {what}, give its certificate as the CA file: ") + "{0}.",
                      (Change.of(verify="cafile", cafile="FILE", placeholders=("FILE",)),),
                      (curl_peer(spec, "--cacert", "FILE"), openssl_peer(spec, "-CAfile", "FILE")))


def trust_store_subjects(spec: HandshakeWith) -> set[bytes] | None:
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


def _trust_words(spec: HandshakeWith) -> str:
    return f"your CA file {spec.tls.cafile}" if spec.tls.verify == "cafile" else "the system trust store"


def _ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [str(d.access_location.value) for d in aia
            if d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS]


_CONSEQUENCES = {
    "subjectAltName": "the names it is valid for cannot be read, so no host name can be matched against it",
    "basicConstraints": "whether it may act as a CA cannot be read",
    "keyUsage": "what its key may be used for cannot be read",
    "extendedKeyUsage": "what it may be used for (server, client) cannot be read",
}


def extension_finding(position: int, subject: str | None, broken: list[tuple[str, str]], *, severity: str = "warning",
                      verify: tuple[int, str] | None = None) -> Finding:
    """cert-extension-unparsable: extensions of certificate #position that do not parse (name, parser's words)."""
    names = ", ".join(name for name, _ in broken)
    which = "The server's certificate" if position == 0 else f"Certificate #{position}"
    what = f"extension {names} does" if len(broken) == 1 else f"extensions {names} do"
    effects = [effect for key, effect in _CONSEQUENCES.items() if any(n.startswith(key) for n, _ in broken)]
    effect = ("; ".join(effects) + ". " if effects else "") + (
        "OpenSSL refuses such a certificate when it verifies it (verify code 41, invalid or inconsistent "
        "certificate extension)." if verify is None else
        f"Verification failed (verify code {verify[0]}: {verify[1]}).")
    ev = [Evidence("certificate", f"#{position} {subject if subject is not None else '(subject unreadable)'}")]
    ev += [Evidence(f"extension {name}", f"does not parse: {words}") for name, words in broken]
    if verify is not None:
        ev.insert(0, Evidence("verify code", f"{verify[0]} ({verify[1]})"))
    return finding("cert-extension-unparsable", f"{which} has an extension that does not parse ({names})",
                   f"The {what} not hold valid data for what it claims to be: {effect}",
                   "Reissue the certificate; openssl x509 -text -noout shows the raw bytes of an extension OpenSSL "
                   "cannot decode.", ev, severity=severity)  # type: ignore[arg-type]


DATE_CODES = (9, 10)  # not yet valid, expired: the dates speak for themselves


def _parse_words(der: bytes) -> str:
    try:
        certparse.parse_cert(der, 0)
    except certparse.CertParseError as exc:
        return f"cryptography refused it ({exc})"
    return "it parses now"


def verify_findings(spec: HandshakeWith, code: int, message: str, chain_der: tuple[bytes, ...],
                    verify_name: str | None) -> list[Finding]:
    """The finding for a failed certificate verification (OpenSSL verify code, or 62 from our own check)."""
    ev = [Evidence("verify code", f"{code} ({message})")]
    certs, infos = [], []
    for i, der in enumerate(chain_der):
        try:  # a certificate that does not parse is the chain stage's finding; the rest still explain
            cert, info = certparse.load(der), certparse.parse_cert(der, i)
        except certparse.CertParseError:
            continue
        certs.append(cert)
        infos.append(info)
    if code not in DATE_CODES:
        # An extension that does not parse makes OpenSSL refuse the certificate (code 41, or 20 when it
        # is the trust anchor itself): that is the cause, whatever code it reported.
        for i, der in enumerate(chain_der):
            broken = certparse.broken_extensions(der)
            if broken:
                owner = next((c for c in infos if c.position == i), None)
                return [extension_finding(i, owner.subject if owner else None, broken, severity="error",
                                          verify=(code, message))]
    leaf = infos[0] if infos and infos[0].position == 0 else None
    if code == 62 and leaf is None and chain_der:
        return [finding("cert-unparsable", f"The server's certificate does not parse, so {verify_name!r} could "
                        "not be checked against it",
                        "tlsbench checks the name itself here (the SNI sent differs from the name verified, or none "
                        "was sent), and the server's certificate could not be read to find its names: "
                        f"{_parse_words(chain_der[0])}.",
                        "Inspect it with openssl x509 -text -noout; reissue it.",
                        ev + [Evidence("name checked", verify_name or "?"),
                              Evidence("DER (hex, first 64 bytes)", chain_der[0][:64].hex())], severity="error")]
    if leaf is not None:
        ev.append(Evidence("leaf subject", leaf.subject))
    trust = _trust_words(spec)
    proxy = is_proxy(spec)
    peer = "proxy" if proxy else "server"
    showcerts = openssl_peer(spec, "-showcerts")
    if code in (10, 9):
        bad = next((c for c in infos if c.status == ("expired" if code == 10 else "not yet valid")), leaf)
        if bad is not None:
            ev += [Evidence("certificate", f"#{bad.position} {bad.subject}"),
                   Evidence("valid", f"{bad.not_before} to {bad.not_after}")]
        which = f"The {peer}'s certificate" if bad is None or bad.position == 0 else f"Certificate #{bad.position}"
        if code == 10:
            hint = (Suggestion("Renew the proxy's certificate; to look anyway, {proxy_insecure}.") if proxy else
                    Suggestion("Renew the certificate on the server. To look at the connection anyway, turn "
                               "verification off ({0}).", (_insecure(spec),), (showcerts,)))
            return [finding("cert-expired", f"{which} has expired",
                            f"{which} expired on {bad.not_after if bad else '?'}; clients refuse it.", hint, ev)]
        return [finding("cert-not-yet-valid", f"{which} is not valid yet",
                        f"{which} becomes valid only on {bad.not_before if bad else '?'}: either it was issued "
                        "with a future date or this machine's clock is behind.",
                        Suggestion("Check this machine's clock and the certificate's dates.", (),
                                   (Peer("date", "date -u"), showcerts)), ev)]
    if code in (62, 64):  # 64: an IP address target that the certificate does not hold
        sans = ", ".join(leaf.sans) if leaf and leaf.sans else "none"
        ev += [Evidence("name checked", verify_name or "?"), Evidence("certificate names (SANs)", sans)]
        return [finding("cert-hostname-mismatch", f"The certificate is not valid for {verify_name!r}",
                        f"The {peer}'s certificate names {sans}, which does not include {verify_name!r}. "
                        f"The {peer} may be serving a default certificate (check the SNI) or the wrong site.",
                        mismatch_hint(spec, verify_name, leaf_dns_names(chain_der)), ev)]
    if code in (18, 19):
        if code == 18:
            hint = _trust_file(spec, "it")
            if not proxy:
                hint = hint._replace(text=hint.text + " To look anyway, turn verification off ({1}).",
                                     changes=hint.changes + (_insecure(spec),))
            return [finding("cert-self-signed", f"The {peer}'s certificate is self-signed",
                            "The certificate is signed by its own key, so no CA vouches for it; "
                            f"it is not in {trust}.", hint, ev)]
        root = infos[-1] if infos else None
        if root is not None:
            ev.append(Evidence("self-signed root sent", root.subject))
        return [finding("cert-self-signed", "The chain ends in a self-signed root that is not trusted",
                        f"The {peer} sent its chain up to a self-signed root CA ({root.subject if root else '?'}) "
                        f"that is not in {trust}: a private or unknown CA.",
                        _trust_file(spec, "that CA (it is yours?)"), ev)]
    if code in (20, 2, 21) and certs:
        last = certs[-1]
        ev.append(Evidence("certificates sent", str(len(chain_der))))
        ev.append(Evidence("issuer not found", last.issuer.rfc4514_string()))
        store = trust_store_subjects(spec)
        issuer_known = store is not None and last.issuer.public_bytes() in store
        ev.append(Evidence(f"issuer in {trust}", "unknown" if store is None else ("yes" if issuer_known else "no")))
        if len(chain_der) == 1 and not certparse.is_self_signed(last):
            urls = _ca_issuer_urls(last)
            ev.append(Evidence("issuer download (AIA caIssuers)", ", ".join(urls) or "none in the certificate"))
            maybe = ("" if urls else " Without an issuer download address in the leaf, the issuer may also be a "
                     "private root CA that is simply not trusted here.")
            hint = _trust_file(spec, "the issuer")
            hint = hint._replace(
                text="Configure the server to send the full chain (leaf + intermediates, e.g. nginx ssl_certificate "
                     "with fullchain.pem). " + hint.text,
                peers=tuple(Peer("curl", f"curl -o issuer.der {quote_word(u)}") for u in urls[:1]) + hint.peers)
            return [finding("cert-incomplete-chain", f"The {peer} sent only its own certificate, no intermediate",
                            f"The leaf was issued by {last.issuer.rfc4514_string()!r}, which the server did not send "
                            f"and which is not in {trust}. Servers must send the intermediate CA certificates; "
                            "browsers may hide this by fetching or caching them, other clients fail." + maybe,
                            hint, ev)]
        if issuer_known:
            return [finding("cert-untrusted", "The chain could not be verified up to a CA that is trusted here",
                            f"The {peer} sent {len(chain_der)} certificate(s); the last one was issued by "
                            f"{last.issuer.rfc4514_string()!r}, and a CA of that name is in {trust}, yet OpenSSL "
                            f"could not build a chain to it (verify code {code}: {message}): the CA certificate "
                            "there is not the one that signed (another key of the same name), or it cannot act as "
                            "a CA.", Suggestion("Compare the CA certificate you trust with the issuer the chain names.",
                                                (), (Peer("openssl", "openssl x509 -noout -subject -fingerprint -in "
                                                                     "CA.pem"),)), ev)]
        return [finding("cert-untrusted", "The certificate chain leads to an unknown CA",
                        f"The {peer} sent {len(chain_der)} certificate(s); the last one was issued by "
                        f"{last.issuer.rfc4514_string()!r}, a CA that is not in {trust}.",
                        _trust_file(spec, "that CA"), ev)]
    return [finding("cert-untrusted", f"The certificate could not be verified: {message}",
                    f"OpenSSL rejected the server's certificate chain (verify code {code}: {message}).",
                    Suggestion("Inspect the chain (tlsbench shows it below); openssl shows the same.", (),
                               (showcerts,)), ev)]


def mismatch_hint(spec: HandshakeWith, verify_name: str | None, names: tuple[str, ...]) -> Suggestion:
    """What to do when the certificate does not hold the name checked: evidence-driven.

    Connected by IP address: connect by a name the certificate holds, keeping the address. SNI
    not the host's (none, or another name): send the host's name. Otherwise the server serves
    another site's certificate: the names are listed; nothing to change on this side.
    """
    listed = ", ".join(names) or "no DNS names"
    if is_proxy(spec):
        return Suggestion(literal(f"Give the proxy by a name its certificate holds ({listed}), or check that this is "
                                  "the proxy you meant."))
    if is_ip(spec.host):
        if site_name(names) is not None or spec.tls.sni_mode != "override":
            return by_name(spec, names)
        return Suggestion(literal(f"Send a name the certificate holds ({listed}) as SNI, or connect by it."))
    if spec.sni is None or spec.sni != spec.host.rstrip("."):
        return Suggestion(literal(f"The certificate answered a request without {spec.host} as SNI: send it ")
                          + "({0}).", (Change.of(sni_mode="host", sni=None, was=spec),),
                          (openssl_peer(spec, sni=spec.host.rstrip(".")), curl_peer(spec)))
    name = site_name(names)
    return Suggestion(literal(f"This server answers {spec.host} with a certificate for {listed}: check that the "
                              "address is this site's server (DNS, the pinned address), or fix the server's "
                              "certificate."), (), (openssl_peer(spec, "-showcerts"),)
                      + ((curl(name, spec.port, address=getattr(spec, 'pin', None) or spec.host),) if name else ()))


EXPIRY_EACH = 3  # certificates expiring soon that get a finding each; the rest share one


def expiry_findings(infos: tuple[CertInfo, ...]) -> list[Finding]:
    """cert-expiring-soon for the valid certificates with fewer than 30 days left: one each for the
    first few, then one for all the others (a chain of a hundred makes no hundred findings)."""
    soon = [info for info in infos if info.status == "ok" and info.days_left < EXPIRING_DAYS]
    out = []
    for info in soon[:EXPIRY_EACH]:
        who = "The server's certificate" if info.position == 0 else f"Certificate #{info.position} in the chain"
        out.append(finding("cert-expiring-soon", f"{who} expires in {info.days_left} day(s)",
                           f"{who} ({info.subject}) is valid until {info.not_after}; after that clients refuse it.",
                           "Renew it soon.", [Evidence("not after", info.not_after),
                                              Evidence("days left", str(info.days_left))]))
    rest = soon[EXPIRY_EACH:]
    if rest:
        first = min(rest, key=lambda info: info.days_left)
        out.append(finding("cert-expiring-soon",
                      f"{len(rest)} more certificate(s) in the chain expire within {EXPIRING_DAYS} days",
                      f"Certificates #{rest[0].position} to #{rest[-1].position} ({len(rest)} of them) expire within "
                      f"{EXPIRING_DAYS} days; the first to go is #{first.position} ({first.subject}), in "
                      f"{first.days_left} day(s), on {first.not_after}.",
                      "Renew them soon.", [Evidence("certificates", ", ".join(f"#{i.position}" for i in rest)),
                                           Evidence("fewest days left", str(first.days_left))]))
    return out

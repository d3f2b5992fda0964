"""Findings agree with the evidence: certificate diagnoses from bytes alone (no server).

The peers that lie, cut short or answer oddly are in test_hostile_peers.py (each row checks words taken
from the bytes); here the certificate side: a certificate or an extension that does not parse is named
for what it is, never read as "no names" (a false hostname mismatch) and never a traceback.
"""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

import hostile_certs
from tlsbench.engine.certs import certparse
from tlsbench.engine.findings.certs import expiry_findings, verify_findings
from tlsbench.engine.spec import build_spec


def _der(files) -> bytes:
    return ssl.PEM_cert_to_DER_cert(files.cert.read_text())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evidence-certs")
    return {
        "good": _der(hostile_certs.crafted(folder, "good")),
        "badsan": _der(hostile_certs.crafted(folder, "badsan", sans=(), extensions=[(x509.UnrecognizedExtension(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x05\x82\x03ab"), False)])),
        "badku": _der(hostile_certs.crafted(folder, "badku", extensions=[(x509.UnrecognizedExtension(
            ExtensionOID.KEY_USAGE, b"\x01\x02"), False)])),
        "v5": _der(hostile_certs.crafted(folder, "v5", patch=lambda tbs: tbs.replace(
            b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05", 1))),
    }


def test_a_failed_verification_with_an_unparsable_certificate_does_not_raise(certs):
    """verify_findings parsed every certificate unguarded: one that does not parse raised CertParseError."""
    spec = build_spec("localhost:443")
    for code in (20, 62, 10, 18):
        findings = verify_findings(spec, code, "some failure", (certs["v5"], certs["good"]), "localhost")
        assert findings and all(f.title and f.explanation for f in findings)
    leaf_unreadable = verify_findings(spec, 62, "hostname not checked", (certs["v5"],), "localhost")
    assert leaf_unreadable[0].code == "cert-unparsable"
    assert "names none" not in leaf_unreadable[0].explanation  # it could not read them; it did not find none


def test_an_extension_that_does_not_parse_is_named_not_an_empty_list(certs):
    """A SAN that does not parse used to read as no SANs: a hostname 'mismatch' the bytes do not show."""
    assert certparse.broken_extensions(certs["good"]) == []
    broken = certparse.broken_extensions(certs["badsan"])
    assert [name for name, _ in broken] == ["subjectAltName (2.5.29.17)"]
    with pytest.raises(certparse.CertParseError):
        certparse.match_name(certs["badsan"], "localhost")
    # one broken extension does not hide the others, nor blame them
    assert [name for name, _ in certparse.broken_extensions(certs["badku"])] == ["keyUsage (2.5.29.15)"]


def test_a_verification_failure_caused_by_a_broken_extension_says_so(certs):
    findings = verify_findings(build_spec("localhost:443"), 20, "unable to get local issuer certificate",
                               (certs["badsan"],), "localhost")
    assert findings[0].code == "cert-extension-unparsable" and findings[0].severity == "error"
    assert "subjectAltName" in findings[0].title
    assert any(e.label == "verify code" and e.value.startswith("20 ") for e in findings[0].evidence)


def test_an_untrusted_chain_whose_issuer_is_in_the_ca_file_does_not_say_it_is_not(certs, tmp_path):
    """Code 20 with the issuer's name in the CA file: 'a CA that is not in your CA file' would be false."""
    cafile = tmp_path / "ca.pem"
    cafile.write_text(ssl.DER_cert_to_PEM_cert(certs["good"]))
    spec = build_spec("localhost:443", cafile=str(cafile))
    finding = verify_findings(spec, 20, "unable to get local issuer certificate", (certs["v5"], certs["good"]),
                              "localhost")[0]
    assert [e.value for e in finding.evidence if e.label.startswith("issuer in")] == ["yes"]
    assert finding.code == "cert-untrusted" and "not in your CA file" not in finding.explanation
    assert "is in your CA file" in finding.explanation


def test_a_long_chain_expiring_soon_makes_a_few_findings_not_one_per_certificate(certs):
    infos = tuple(certparse.parse_cert(certs["good"], i) for i in range(100))
    findings = expiry_findings(infos)
    assert len(findings) == 4
    assert "97 more certificate(s)" in findings[-1].title

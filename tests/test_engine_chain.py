"""The chain stage: certificates the server sent, parsed and judged; and the name matcher."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.hostile_certs import self_signed
from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.certs.certparse import match_name, parse_cert
from tlsbench.engine.spec import build_spec
from tlsbench.engine.stages.chain import run_chain
from tlsbench.engine.stages.context import StageContext
from tlsbench.engine.stages.tls import run_tls
from tlsbench.lab.certs import CertFiles


def tls_then_chain(server, target=None, **options):
    spec = build_spec(target or f"localhost:{server.port}", **options)
    ctx = StageContext(spec=spec, emit=lambda e: None, cancel=CancelToken())
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        tls = run_tls(ctx, sock)
        return tls, run_chain(ctx, tls)


def codes(outcome) -> list[str]:
    return [f.code for f in outcome.findings]


@pytest.mark.servers
def test_good_chain_is_parsed_leaf_first(tls_server, lab_certs):
    server = tls_server("good")
    tls, out = tls_then_chain(server, cafile=str(lab_certs.ca_cert))
    d = out.detail
    assert out.ok and d.verified is True and d.hostname == "localhost" and d.hostname_match is True
    assert d.trust_source == f"cafile {lab_certs.ca_cert}"
    leaf, inter = d.certificates
    assert leaf.position == 0 and inter.position == 1
    assert leaf.subject == "CN=localhost,O=tlsbench lab"
    assert leaf.issuer == inter.subject == "CN=tlsbench Lab Intermediate CA,O=tlsbench lab"
    assert {"DNS:localhost", "DNS:www.lab.test", "IP:127.0.0.1", "IP:::1"} <= set(leaf.sans)
    pem_leaf = x509.load_pem_x509_certificate(lab_certs.good.cert.read_bytes())
    assert leaf.serial == f"{pem_leaf.serial_number:x}"
    assert leaf.sha256 == ":".join(f"{b:02X}" for b in pem_leaf.fingerprint(hashes.SHA256()))
    assert leaf.key_type == "EC (secp256r1)" and leaf.key_bits == 256
    assert leaf.signature_algorithm == "ecdsa-with-SHA256"
    assert leaf.is_ca is False and inter.is_ca is True and not leaf.self_signed
    assert 360 <= leaf.days_left <= 366
    assert leaf.verified is True and inter.verified is True
    assert leaf.status == inter.status == "ok"
    assert leaf.pem.startswith("-----BEGIN CERTIFICATE-----")
    assert out.findings == ()


@pytest.mark.servers
def test_rsa_key_is_described(tls_server, lab_certs):
    tls, out = tls_then_chain(tls_server("good_rsa"), cafile=str(lab_certs.ca_cert))
    leaf = out.detail.certificates[0]
    assert leaf.key_type == "RSA" and leaf.key_bits == 2048


@pytest.mark.servers
def test_expiring_soon_warns(tls_server, lab_certs):
    tls, out = tls_then_chain(tls_server("expiring_soon"), cafile=str(lab_certs.ca_cert))
    assert tls.outcome.ok
    f = next(f for f in out.findings if f.code == "cert-expiring-soon")
    assert f.severity == "warning" and f.stage == "chain"
    assert out.detail.certificates[0].days_left < 30


@pytest.mark.servers
def test_chain_of_a_failed_verification_is_shown(tls_server, lab_certs):
    tls, out = tls_then_chain(tls_server("expired"), cafile=str(lab_certs.ca_cert))
    d = out.detail
    assert not tls.outcome.ok and d.verified is False and d.verify_code == 10
    assert d.certificates[0].status == "expired" and d.certificates[0].days_left < 0
    assert d.certificates[0].verified is False
    assert d.certificates[1].status == "not verified"


@pytest.mark.servers
def test_incomplete_chain_marks_the_last_certificate(tls_server, lab_certs):
    tls, out = tls_then_chain(tls_server("good", send_chain=False), cafile=str(lab_certs.ca_cert))
    assert len(out.detail.certificates) == 1
    assert out.detail.certificates[0].status == "issuer unknown"


@pytest.mark.servers
def test_insecure_still_reports_a_hostname_mismatch(tls_server):
    tls, out = tls_then_chain(tls_server("wrong_host"), insecure=True)
    assert tls.outcome.ok
    assert out.detail.hostname_match is False and out.detail.verified is None
    f = next(f for f in out.findings if f.code == "cert-hostname-mismatch")
    assert f.severity == "warning"
    assert out.detail.certificates[0].status == "not checked"


def _hostile_cert(tmp_path) -> CertFiles:
    return self_signed(tmp_path, {NameOID.COMMON_NAME: "[bold red]evil[/] \x1b[31m"}, "localhost", days=90)


@pytest.mark.servers
def test_hostile_subject_survives_as_data(tls_server, tmp_path):
    tls, out = tls_then_chain(tls_server(_hostile_cert(tmp_path)), insecure=True)
    leaf = out.detail.certificates[0]
    assert leaf.subject == "CN=[bold red]evil[/] \x1b[31m"
    assert leaf.issuer == leaf.subject and leaf.self_signed is True
    assert out.detail.to_dict()["certificates"][0]["subject"] == "CN=[bold red]evil[/] \x1b[31m"


# --- the name matcher (pure) -----------------------------------------------------------------------

def _der(*sans: x509.GeneralName) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cn.example")])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("name,expected", [
    ("www.example.com", True), ("WWW.Example.COM.", True), ("a.example.com", True),
    ("example.com", False), ("a.b.example.com", False), ("www.example.org", False),
    ("192.0.2.7", True), ("192.0.2.8", False), ("2001:db8::1", True), ("[2001:db8::1]", True),
    ("cn.example", False),  # no fallback to the subject CN
])
def test_match_name(name, expected):
    import ipaddress
    der = _der(x509.DNSName("www.example.com"), x509.DNSName("*.example.com"),
               x509.IPAddress(ipaddress.ip_address("192.0.2.7")), x509.IPAddress(ipaddress.ip_address("2001:db8::1")))
    assert match_name(der, name) is expected


def test_wildcard_never_matches_a_public_suffix():
    assert match_name(_der(x509.DNSName("*.com")), "example.com") is False
    assert match_name(_der(x509.DNSName("f*.example.com")), "foo.example.com") is False


def test_parse_cert_without_sans():
    info = parse_cert(_der(), 0)
    assert info.sans == () and info.subject == "CN=cn.example" and info.self_signed is True


def _named_cert(name: str, key, signer_key, ski: bytes | None, aki: bytes | None):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=1)))
    if ski is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def test_self_signed_is_decided_by_names_and_key_identifiers(lab_certs):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from tlsbench.engine.certs.certparse import is_self_signed

    own, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    assert is_self_signed(x509.load_pem_x509_certificate(lab_certs.ca_cert.read_bytes()))
    assert is_self_signed(x509.load_pem_x509_certificate(lab_certs.self_signed.cert.read_bytes()))
    assert not is_self_signed(x509.load_pem_x509_certificate(lab_certs.good.cert.read_bytes()))
    assert is_self_signed(_named_cert("root", own, own, b"\x01" * 20, b"\x01" * 20))
    # Same name, but the AKI names another key: issued by a namesake, not by itself.
    assert not is_self_signed(_named_cert("twin", own, other, b"\x01" * 20, b"\x02" * 20))
    # An AKI and no SKI: only the signature can say.
    assert is_self_signed(_named_cert("sig", own, own, None, b"\x03" * 20))
    assert not is_self_signed(_named_cert("sig", own, other, None, b"\x03" * 20))

"""Certificate transparency and --check-revocation against real services: leaves from the lab CA
with and without embedded SCTs, an AIA OCSP URL and a CRL distribution point; `openssl ocsp` as
the responder over an index.txt; a local HTTP server serving a CRL the test makes."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from cryptography import x509

from tlsbench.engine.certs.revocation import check_revocation
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.lab.certs import cert_serial, issue_leaf, make_crl, write_ocsp_index
from tlsbench.lab.processes import free_port

from conftest import need

pytestmark = pytest.mark.servers
NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def pki(lab_certs, tmp_path_factory):
    """Leaves naming a live OCSP responder and CRL server: good, revoked, and one nobody knows."""
    from tlsbench.lab.revocation_servers import CrlServer, ocsp_responder

    d = tmp_path_factory.mktemp("revocation")
    crls = CrlServer()
    port = free_port("127.0.0.1")
    ocsp_url, crl_url = f"http://127.0.0.1:{port}/", crls.url("/intermediate.crl")
    leaves = {name: issue_leaf(lab_certs, ["localhost"], d, name, ocsp_url=ocsp_url, crl_url=crl_url,
                               scts=2 if name == "good" else 0)
              for name in ("good", "revoked", "stranger")}
    revoked_at = (NOW - dt.timedelta(days=3)).replace(microsecond=0)
    write_ocsp_index(d / "index.txt", good=[leaves["good"].cert],
                     revoked=[(leaves["revoked"].cert, revoked_at, "keyCompromise")])
    make_crl(lab_certs, d / "intermediate.crl",
             [(cert_serial(leaves["revoked"].cert), revoked_at, x509.ReasonFlags.key_compromise)])
    crls.put("/intermediate.crl", d / "intermediate.crl")
    responder = need(ocsp_responder, d / "index.txt", lab_certs.intermediate_cert, lab_certs.intermediate_key,
                     port=port, log_dir=d)
    yield {"leaves": leaves, "revoked_at": revoked_at, "crls": crls, "dir": d, "ocsp_url": ocsp_url}
    responder.stop()
    crls.stop()


def probe(tls_server, lab_certs, leaf, server: dict | None = None, **options):
    server = tls_server(leaf, **(server or {}))
    return run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), check_revocation=True,
                                **options))


def test_a_good_certificate(tls_server, lab_certs, pki):
    result = probe(tls_server, lab_certs, pki["leaves"]["good"])
    stage = result.stage("revocation")
    assert result.ok and stage.status == "ok" and stage.detail.status == "good", result.findings
    checks = {c.method: c for c in stage.detail.checks}
    assert checks["ocsp"].status == "good" and checks["ocsp"].signed_by.endswith("signature verified")
    assert checks["ocsp"].this_update and checks["ocsp"].produced_at
    assert "certStatus good" in checks["ocsp"].answer
    assert checks["crl"].status == "good" and "is not listed" in checks["crl"].answer
    data = result.to_json_dict()
    assert data["revocation"]["status"] == "good" and len(data["revocation"]["checks"]) == 2
    assert data["stages"][-1]["name"] == "revocation"


def test_a_revoked_certificate_fails_with_date_and_reason(tls_server, lab_certs, pki):
    result = probe(tls_server, lab_certs, pki["leaves"]["revoked"])
    assert not result.ok and result.stage("revocation").status == "failed"
    finding = next(f for f in result.findings if f.code == "cert-revoked")
    when = pki["revoked_at"].isoformat().replace("+00:00", "Z")
    assert finding.severity == "error" and when in finding.title and "keyCompromise" in finding.title
    evidence = {e.label.split()[0]: e.value for e in finding.evidence}
    assert "certStatus revoked" in evidence["OCSP"] and "keyCompromise" in evidence["OCSP"]
    assert "the leaf's serial is listed" in evidence["CRL"]
    checks = {c.method: c for c in result.stage("revocation").detail.checks}
    assert checks["ocsp"].revoked_at == when and checks["crl"].revoked_at == when


def test_unknown_and_unreachable(tls_server, lab_certs, pki):
    stranger = probe(tls_server, lab_certs, pki["leaves"]["stranger"])  # in neither the index nor the CRL
    checks = {c.method: c for c in stranger.stage("revocation").detail.checks}
    assert checks["ocsp"].status == "unknown" and checks["crl"].status == "good"
    assert stranger.stage("revocation").detail.status == "good"  # the CRL's answer stands
    d = pki["dir"]
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}/"
    lost = issue_leaf(lab_certs, ["localhost"], d, "lost", ocsp_url=closed, crl_url=closed + "none.crl")
    result = probe(tls_server, lab_certs, lost)
    assert result.ok and result.stage("revocation").detail.status == "unreachable"
    assert "revocation-unreachable" in result.codes()
    plain = probe(tls_server, lab_certs, "good")  # the lab's usual leaf names no source
    assert plain.stage("revocation").detail.status == "no-source" and "revocation-no-source" in plain.codes()


def test_an_answer_about_another_issuer_is_not_trusted(lab_certs, pki):
    leaf = pki["leaves"]["good"].cert.read_bytes()
    der = x509.load_pem_x509_certificate(leaf).public_bytes(_der())
    # The responder signs with the intermediate; given the root as the issuer, nothing checks out.
    root = x509.load_pem_x509_certificate(lab_certs.ca_cert.read_bytes()).public_bytes(_der())
    import time

    detail = check_revocation(der, root, time.monotonic() + 10)
    assert detail.status == "unknown"
    assert {c.method: c.status for c in detail.checks} == {"ocsp": "unknown", "crl": "unknown"}


def _der():
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def test_embedded_scts_are_read(tls_server, lab_certs, pki):
    result = run_probe(build_spec(f"localhost:{tls_server(pki['leaves']['good']).port}",
                                  cafile=str(lab_certs.ca_cert)))
    scts = result.chain.scts
    assert len(scts) == 2 and scts[0].log_id == "EBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBA="
    assert scts[0].entry_type == "pre_certificate" and scts[0].timestamp.endswith("Z")
    data = result.to_json_dict()["certificate_transparency"]
    assert data["embedded_scts"] == 2
    assert "no-sct" not in result.codes()  # trusted through a CA file: a private CA needs no SCTs


def test_no_sct_on_a_publicly_trusted_leaf(tls_server, lab_certs, pki):
    """The 'system store' pointed at the lab CA (SSL_CERT_FILE): the leaf counts as publicly trusted."""
    env = dict(os.environ, SSL_CERT_FILE=str(lab_certs.ca_cert))
    without = tls_server("good")
    out = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{without.port}", "--json"],
                         capture_output=True, text=True, timeout=60, env=env)
    data = json.loads(out.stdout)
    assert data["ok"] and "no-sct" in [f["code"] for f in data["findings"]]
    with_scts = tls_server(pki["leaves"]["good"])
    out = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{with_scts.port}", "--json"],
                         capture_output=True, text=True, timeout=60, env=env)
    data = json.loads(out.stdout)
    assert data["ok"] and "no-sct" not in [f["code"] for f in data["findings"]]
    assert data["certificate_transparency"]["embedded_scts"] == 2


# --- the stapled response (a hand-built TLS 1.2 hello with status_request) ----------------------------

def _respout(pki, lab_certs, name, tmp_path):
    """The responder's DER answer for a leaf, saved as a server staples it (openssl ocsp -respout)."""
    out = tmp_path / f"{name}.ocsp.der"
    done = subprocess.run(["openssl", "ocsp", "-issuer", str(lab_certs.intermediate_cert), "-cert",
                           str(pki["leaves"][name].cert), "-url", pki["ocsp_url"], "-respout", str(out),
                           "-noverify"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and out.stat().st_size > 0, done.stderr
    return out


@pytest.mark.parametrize("name,status", [("good", "good"), ("revoked", "revoked")])
def test_a_stapled_response_from_s_server(tls_server, lab_certs, pki, tmp_path, name, status):
    staple = _respout(pki, lab_certs, name, tmp_path)
    result = probe(tls_server, lab_certs, pki["leaves"][name], server={"extra_args": ["-status_file", str(staple)]})
    detail = result.stage("revocation").detail
    assert detail.stapled is not None and detail.stapled.status == status
    assert detail.checks[0].method == "stapled" and detail.checks[0].signed_by.endswith("signature verified")
    assert detail.status == status
    assert f"stapled OCSP {status}" in result.stage("revocation").summary
    if status == "revoked":  # the staple is named as the source, not the issuer's CRL
        said = next(f for f in result.findings if f.code == "cert-revoked").explanation
        assert said.startswith("The OCSP response the server stapled to its handshake, signed by "), said
        assert "its issuer's CRL (http://" in said  # the CRL agrees, and is named as itself


def test_a_stapled_response_from_nginx(lab_certs, pki, tmp_path):
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    staple = _respout(pki, lab_certs, "good", tmp_path)
    server = need(nginx_tls, NginxTlsOptions(cert=pki["leaves"]["good"],
                                             extra=f'ssl_stapling on; ssl_stapling_file "{staple}";'),
                  prefix=tmp_path / "nginx")
    try:
        result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert),
                                      check_revocation=True))
    finally:
        server.stop()
    assert result.stage("revocation").detail.stapled.status == "good"


def test_nothing_stapled_and_tls13_only(tls_server, lab_certs, pki):
    plain = probe(tls_server, lab_certs, pki["leaves"]["good"])
    assert plain.stage("revocation").detail.stapled.status == "none"
    assert "nothing stapled" in plain.stage("revocation").summary
    only13 = probe(tls_server, lab_certs, pki["leaves"]["good"], server={"tls_version": "1.3"})
    stapled = only13.stage("revocation").detail.stapled
    assert (stapled.status, stapled.reason) == ("none", "the server staples no OCSP response")
    assert "TLS 1.3 Certificate" in stapled.url  # read from the encrypted Certificate message
    assert only13.stage("revocation").detail.status == "good"  # the responder and the CRL still answer


@pytest.mark.parametrize("name,status", [("good", "good"), ("revoked", "revoked")])
def test_a_tls13_staple_is_read_from_the_certificate_message(tls_server, lab_certs, pki, tmp_path, name, status):
    staple = _respout(pki, lab_certs, name, tmp_path)
    result = probe(tls_server, lab_certs, pki["leaves"][name],
                   server={"tls_version": "1.3", "extra_args": ["-status_file", str(staple)]})
    detail = result.stage("revocation").detail
    assert result.tls.version == "TLSv1.3"
    assert detail.stapled.status == status and "TLS 1.3 Certificate" in detail.stapled.url
    assert detail.checks[0].method == "stapled" and detail.checks[0].signed_by.endswith("signature verified")
    assert f"stapled OCSP {status}" in result.stage("revocation").summary


def test_a_tls13_staple_from_gnutls(lab_certs, pki, tmp_path):
    from tlsbench.lab.gnutls_server import gnutls_server

    staple = _respout(pki, lab_certs, "good", tmp_path)
    server = need(gnutls_server, pki["leaves"]["good"], "NORMAL:-VERS-ALL:+VERS-TLS1.3",
                  extra_args=["--ocsp-response", str(staple)])
    try:
        result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert),
                                      check_revocation=True))
    finally:
        server.stop()
    stapled = result.stage("revocation").detail.stapled
    assert result.tls.version == "TLSv1.3"
    assert stapled.status == "good" and "TLS 1.3 Certificate" in stapled.url, stapled

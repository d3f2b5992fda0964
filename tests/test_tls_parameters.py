"""The negotiated parameters read from the handshake bytes, against real s_server and nginx:
groups, signature schemes, the server's key, the extensions it returned, a CertificateRequest's
CA names and signatures (also in client-cert-required's evidence); `-v` and `--msg`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

from conftest import need

pytestmark = pytest.mark.servers


def probe(server, lab_certs, **options):
    return run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), **options))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=60)


def test_tls13_ecdsa_defaults(tls_server, lab_certs):
    result = probe(tls_server("good"), lab_certs)
    tls = result.tls
    assert result.ok and tls.version == "TLSv1.3"
    assert (tls.group, tls.signature_algorithm, tls.key_exchange) == ("x25519", "ecdsa_secp256r1_sha256", "(EC)DHE")
    assert tls.peer_key == "EC (secp256r1) 256 bits"
    assert {(e.name, e.where) for e in tls.server_extensions} == {("supported_versions", "ServerHello"),
                                                                ("key_share", "ServerHello")}
    assert tls.client_cert_request is None and tls.hello_retry_group is None
    data = result.to_json_dict()["tls"]
    assert data["group"] == "x25519" and data["signature_algorithm"] == "ecdsa_secp256r1_sha256"
    assert {"name": "key_share", "id": 51, "in": "ServerHello"} in data["extensions"]
    assert data["key"] == "EC (secp256r1) 256 bits"


def test_a_group_the_client_did_not_share_first_costs_a_retry(tls_server, lab_certs):
    result = probe(tls_server("good", extra_args=["-groups", "secp384r1"]), lab_certs)
    assert result.ok and result.tls.group == "secp384r1" and result.tls.hello_retry_group == "secp384r1"
    assert "HelloRetryRequest" in [m.name for m in result.messages]


def test_tls12_rsa_ecdhe_with_a_chosen_curve_and_pss(tls_server, lab_certs):
    server = tls_server("good_rsa", tls_version="1.2", cipher="ECDHE-RSA-AES256-GCM-SHA384",
                        extra_args=["-groups", "secp521r1", "-sigalgs", "RSA-PSS+SHA384"])
    tls = probe(server, lab_certs).tls
    assert (tls.version, tls.key_exchange, tls.group) == ("TLSv1.2", "ECDHE", "secp521r1")
    assert tls.signature_algorithm == "rsa_pss_rsae_sha384" and tls.peer_key == "RSA 2048 bits"
    assert "extended_master_secret" in [e.name for e in tls.server_extensions]


def test_tls12_dhe_and_rsa_key_transport(tls_server, lab_certs):
    dhe = probe(tls_server("good_rsa", tls_version="1.2", cipher="DHE-RSA-AES128-GCM-SHA256"), lab_certs,
                ciphers="DHE-RSA-AES128-GCM-SHA256").tls
    assert dhe.key_exchange == "DHE" and dhe.group.startswith("DH ") and int(dhe.group.split()[1]) >= 2048
    rsa = probe(tls_server("good_rsa", tls_version="1.2", cipher="AES128-GCM-SHA256"), lab_certs,
                ciphers="AES128-GCM-SHA256").tls
    assert rsa.key_exchange == "RSA" and rsa.group is None and rsa.signature_algorithm is None


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_certificate_request_names_the_client_ca(tls_server, lab_certs, version):
    result = probe(tls_server("good", client_ca=True, tls_version=version), lab_certs)
    req = result.tls.client_cert_request
    assert req is not None and req.ca_names == ("CN=tlsbench Lab Client CA,O=tlsbench lab",)
    assert "ecdsa_secp256r1_sha256" in req.signature_algorithms
    if version == "1.2":
        assert "ecdsa_sign" in req.certificate_types
    finding = next(f for f in result.findings if f.code == "client-cert-required")
    evidence = {e.label: e.value for e in finding.evidence}
    assert evidence["acceptable client CA names"] == "CN=tlsbench Lab Client CA,O=tlsbench lab"
    assert "ecdsa_secp256r1_sha256" in evidence["signature algorithms accepted"]
    assert result.to_json_dict()["tls"]["client_certificate_request"]["ca_names"] == list(req.ca_names)


def test_with_a_client_certificate_the_request_is_still_shown(tls_server, lab_certs):
    result = probe(tls_server("good", client_ca=True), lab_certs, cert=str(lab_certs.client.cert),
                   key=str(lab_certs.client.key))
    assert result.ok and result.tls.client_cert_request.ca_names == ("CN=tlsbench Lab Client CA,O=tlsbench lab",)


@pytest.fixture(scope="module")
def nginx_p384_rsa(lab_certs, tmp_path_factory):
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good_rsa, ecdh_curve="secp384r1",
                                             protocols="TLSv1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256"),
                  prefix=tmp_path_factory.mktemp("nginx-p384"))
    yield server
    server.stop()


def test_nginx_with_a_chosen_curve(nginx_p384_rsa, lab_certs):
    result = probe(nginx_p384_rsa, lab_certs)
    tls = result.tls
    assert result.ok and tls.version == "TLSv1.2" and tls.group == "secp384r1"
    assert tls.cipher == "ECDHE-RSA-AES128-GCM-SHA256" and tls.signature_algorithm.startswith("rsa_")


def test_cli_trace_and_hex_dump(tls_server, lab_certs):
    server = tls_server("good")
    target = f"localhost:{server.port}"
    plain = cli(target, "--cafile", str(lab_certs.ca_cert))
    assert "messages (tls)" not in plain.stdout
    assert "group  x25519; server signature ecdsa_secp256r1_sha256; server key EC (secp256r1) 256 bits" in plain.stdout
    verbose = cli(target, "--cafile", str(lab_certs.ca_cert), "-v")
    assert verbose.returncode == 0, verbose.stderr
    lines = verbose.stdout.splitlines()
    start = lines.index("messages (tls): time, direction, type, version, length")
    trace = lines[start + 1:start + 12]
    assert ">>> ClientHello" in trace[0] and any("<<< ServerHello" in t for t in trace)
    assert any("<<< CertificateVerify" in t for t in trace) and not any("0000  " in t for t in trace)
    msg = cli(target, "--cafile", str(lab_certs.ca_cert), "--msg")
    assert "      0000  01 00 " in msg.stdout  # the ClientHello's header: type 1, then its length
    data = json.loads(cli(target, "--cafile", str(lab_certs.ca_cert), "--json", "--msg").stdout)
    hello = data["tls"]["messages"][0]
    assert hello["name"] == "ClientHello" and hello["hex"].startswith("01") and len(hello["hex"]) == 2 * (
        hello["length"] + 4)
    assert "hex" not in json.loads(cli(target, "--cafile", str(lab_certs.ca_cert), "--json").stdout)["tls"][
        "messages"][0]


def test_through_an_https_proxy_both_handshakes_are_read_and_traced(squid_https_proxy, tls_server, lab_certs,
                                                                   tmp_path):
    from tlsbench.commands.probe_output import trace_lines

    server = tls_server("good_rsa")
    ca = str(lab_certs.ca_cert)
    keylog = tmp_path / "keys.log"
    result = run_probe(build_spec(f"localhost:{server.port}", proxies=[f"https://localhost:{squid_https_proxy.port}"],
                                  proxy_cafile=ca, cafile=ca, keylog=str(keylog), reconnect=True))
    assert result.ok, result.findings
    proxy_tls = result.stage("proxy-tls").detail.tls
    assert proxy_tls.group and proxy_tls.signature_algorithm and proxy_tls.peer_key
    assert result.tls.peer_key == "RSA 2048 bits"
    lines = trace_lines(result)
    assert "messages (proxy-tls): time, direction, type, version, length" in lines
    assert "messages (tls): time, direction, type, version, length" in lines
    assert "messages (reconnect): time, direction, type, version, length" in lines
    assert result.stage("reconnect").detail.resumed is True  # the second connection went through the proxy too
    # Both TLS connections of each run (the proxy's, the target's) were logged: 2 runs x 2 sessions.
    assert keylog.read_text().count("CLIENT_TRAFFIC_SECRET_0") >= 3
    assert [f.code for f in result.findings].count("keylog-enabled") == 1

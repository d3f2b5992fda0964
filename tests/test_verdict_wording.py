"""Verdicts and words from the bytes, against real servers: a leaf cryptography cannot read but OpenSSL
verified, a TLS 1.0/1.1 ServerKeyExchange's signature, and the trace's version labels."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

pytestmark = pytest.mark.servers

# --- a certificate cryptography cannot read, OpenSSL verified ------------------------------------------------

def test_a_verified_leaf_whose_subject_cryptography_cannot_read(tmp_path):
    import json
    import subprocess
    import sys

    import hostile_certs
    from conftest import need
    from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

    # The CN as a T61String holding bytes that are not UTF-8 (same length, so the DER stays whole).
    files = hostile_certs.crafted(tmp_path, "t61", patch=lambda tbs: tbs.replace(
        b"\x06\x03\x55\x04\x03\x0c\x09localhost", b"\x06\x03\x55\x04\x03\x14\x09loc\xe9\xff\xfe\x80st"))
    server = need(openssl_server, TlsServerOptions(cert=files), log_dir=tmp_path / "s_server")
    try:
        done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--cafile",
                               str(files.cert), "--json"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    finally:
        server.stop()
    data = json.loads(done.stdout)
    assert done.returncode == 0, data["findings"]
    stages = {s["name"]: s["status"] for s in data["stages"]}
    assert stages["tls"] == stages["chain"] == "ok"
    leaf = data["chain"][0]
    assert data["chain_verification"]["verified"] is True
    text = json.dumps(data)
    assert "CN=loc\\u00e9\\u00ff\\u00fe\\u0080st" in text
    warned = [f for f in data["findings"] if f["code"] == "cert-unparsable"]
    assert warned and all(f["severity"] == "warning" for f in warned), data["findings"]
    assert leaf["subject"].startswith("CN=loc") and leaf["sans"] == ["DNS:localhost"]


# --- wording from the side-by-side check ---------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.0", "1.1"])
@pytest.mark.parametrize("cert,cipher,signed", [
    ("good_rsa", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0", "RSA with MD5+SHA-1"),
    ("good", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", "ECDSA with SHA-1"),
])
def test_an_old_server_key_exchange_signature_is_reported(tls_server, lab_certs, version, cert, cipher, signed):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    server = tls_server(cert, tls_version=version, cipher=cipher)
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), tls_min="1.0",
                                  tls_max=version, timeout=5))
    assert result.ok, result.findings
    assert result.tls.signature_algorithm.startswith(signed), result.tls.signature_algorithm
    assert result.to_json_dict()["tls"]["signature_algorithm"].startswith(signed)


@pytest.mark.parametrize("server_version,client_max", [("1.2", None), ("1.2", "1.2"), ("1.3", None)])
def test_the_trace_labels_versions_from_the_records_and_supported_versions(tls_server, lab_certs, server_version,
                                                                         client_max):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    server = tls_server("good", tls_version=server_version)
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), tls_max=client_max,
                                  timeout=5))
    assert result.ok, result.findings
    labels = {(m.direction, m.name): m.version for m in result.messages}
    offered = "TLS 1.2" if client_max == "1.2" else "TLS 1.3"  # the highest version the ClientHello offers
    chosen = f"TLS {server_version}"
    assert labels[("sent", "ClientHello")] == offered, labels
    assert labels[("received", "ServerHello")] == chosen, labels
    assert labels[("received", "Certificate")] == chosen and labels[("sent", "Finished")] == chosen, labels


@given(st.binary(max_size=300))
def test_the_client_hello_offer_reader_takes_any_bytes(data):
    from tlsbench.engine.tls.tlsparse import client_hello_offer

    value = client_hello_offer(b"\x01" + len(data).to_bytes(3, "big") + data)
    assert value is None or 0 <= value <= 0xFFFF


def test_a_verified_leaf_cryptography_cannot_load_at_all(tmp_path):
    import json
    import subprocess
    import sys

    import hostile_certs
    from conftest import need
    from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

    # Version 5 (no such X.509 version): cryptography refuses the whole certificate, OpenSSL verifies it.
    files = hostile_certs.crafted(tmp_path, "v5", patch=lambda tbs: tbs.replace(
        b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05", 1))
    server = need(openssl_server, TlsServerOptions(cert=files), log_dir=tmp_path / "s_server")
    try:
        done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--cafile",
                               str(files.cert), "--json"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    finally:
        server.stop()
    data = json.loads(done.stdout)
    assert done.returncode == 0 and "Traceback" not in done.stderr, data["findings"]
    assert {s["name"]: s["status"] for s in data["stages"]}["chain"] == "ok"
    leaf = data["chain"][0]
    assert leaf["subject"] == leaf["issuer"] == "CN=localhost" and leaf["verified"] is True and leaf["self_signed"]
    assert leaf["signature_algorithm"] == "1.2.840.10045.4.3.2" and leaf["sha256"].count(":") == 31
    warned = [f for f in data["findings"] if f["code"] == "cert-unparsable"]
    assert warned and warned[0]["severity"] == "warning" and "OpenSSL's" in warned[0]["explanation"]


@given(st.binary(max_size=300))
def test_the_raw_certificate_reader_takes_any_bytes(data):
    from tlsbench.engine.certs.rawcert import raw_cert_info

    for candidate in (data, b"\x30\x82" + len(data).to_bytes(2, "big") + data):
        info = raw_cert_info(candidate, 0)
        assert info is None or info.position == 0

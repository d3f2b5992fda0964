"""A certificate whose serial number is negative (RFC 5280 wants it positive): cryptography's warning
is not printed, and the run says it as a finding of its own, `cert-negative-serial`, with the bytes."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

import hostile_certs
from tlsbench.engine.certs.serials import not_positive, serial_bytes

pytestmark = pytest.mark.servers


def _probe(server, cafile, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--pin",
                           "127.0.0.1", "--cafile", str(cafile), *extra], capture_output=True, text=True, timeout=60)


def test_a_server_with_a_negative_serial_gets_a_finding_and_no_warning(tls_server, tmp_path):
    files = hostile_certs.crafted(tmp_path, "negative", patch=hostile_certs.negative_serial)
    raw = ssl.PEM_cert_to_DER_cert(files.cert.read_text())
    serial = serial_bytes(raw)
    assert serial is not None and serial[0] & 0x80
    server = tls_server(files)
    as_json = _probe(server, files.cert, "--json")
    shown = _probe(server, files.cert, "-v")
    for done in (as_json, shown):
        assert "Warning" not in done.stderr and "serial" not in done.stderr, done.stderr
        assert done.returncode == 0, done.stderr  # OpenSSL verified it: a warning, not a failure
    data = json.loads(as_json.stdout)
    found = [f for f in data["findings"] if f["code"] == "cert-negative-serial"]
    assert len(found) == 1 and found[0]["severity"] == "warning" and found[0]["origin"] == "peer"
    evidence = {e["label"]: e["value"] for e in found[0]["evidence"]}
    assert evidence["serial number (DER INTEGER, hex)"] == serial.hex(" ")
    assert int(evidence["value"]) == int.from_bytes(serial, "big", signed=True) < 0
    assert "cert-negative-serial" in shown.stdout


def test_a_positive_serial_is_read_as_it_is(tmp_path):
    files = hostile_certs.crafted(tmp_path, "positive")
    raw = ssl.PEM_cert_to_DER_cert(files.cert.read_text())
    serial = serial_bytes(raw)
    assert serial is not None and not_positive(serial) is None
    assert int.from_bytes(serial, "big") == x509.load_der_x509_certificate(raw).serial_number


def test_zero_and_empty_serials_are_named():
    assert not_positive(b"\x00") == "zero" and not_positive(b"") == "empty" and not_positive(b"\xff") == "negative"


@given(st.binary(max_size=300))
def test_any_bytes_give_a_serial_or_none(data):
    serial = serial_bytes(data)
    assert serial is None or isinstance(serial, bytes)


def test_an_https_proxys_own_certificate_is_the_proxys_doing(tmp_path):
    from tlsbench.engine.certs.serials import serial_findings

    files = hostile_certs.crafted(tmp_path, "negative", patch=hostile_certs.negative_serial)
    raw = ssl.PEM_cert_to_DER_cert(files.cert.read_text())
    (found,) = serial_findings([raw], {0: "CN=localhost"}, role="proxy")
    assert found.code == "cert-negative-serial" and found.origin == "proxy"
    assert found.title.startswith("The proxy's certificate")
    assert serial_findings([ssl.PEM_cert_to_DER_cert(hostile_certs.crafted(tmp_path, "fine").cert.read_text())],
                           {}) == []

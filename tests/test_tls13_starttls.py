"""The hand-built TLS 1.3 connections go the whole route to the ClientHello, STARTTLS included: --pq and
the TLS 1.3 staple after SMTP STARTTLS against the machine's MTA, and --enumerate over it."""

from __future__ import annotations

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.engine.tls.enumeration import enumerate_server

pytestmark = pytest.mark.servers


def test_pq_after_smtp_starttls(smtp_tls, lab_certs):
    result = run_probe(build_spec(f"localhost:{smtp_tls.port}", starttls="smtp", sni="mail.lab.test",
                                  cafile=str(lab_certs.ca_cert), groups="X25519MLKEM768,x25519"))
    stage = result.stage("key-exchange")
    assert stage.status == "ok", (stage.summary, result.findings)
    assert stage.detail.selected in ("x25519", "secp256r1", "secp384r1") and stage.detail.decrypted


def test_enumerate_after_smtp_starttls(smtp_tls):
    found = enumerate_server(build_spec(f"localhost:{smtp_tls.port}", starttls="smtp", sni="mail.lab.test"))
    assert found.versions["TLS 1.2"] is True and found.suites["TLS 1.2"], found

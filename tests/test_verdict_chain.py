"""The chain's verdict comes from verification itself: a chain OpenSSL verified stays verified when the
handshake later ends for another reason (a server that requires a client certificate), with real servers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


def probe_json(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args, "--json"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_a_verified_chain_stays_verified_when_a_client_certificate_is_required(tls_server, lab_certs, version):
    server = tls_server("good", client_ca=True, tls_version=version)
    data = probe_json(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert))
    stages = {s["name"]: s for s in data["stages"]}
    assert stages["chain"]["status"] == "ok", stages["chain"]
    assert stages["tls"]["status"] == "failed"
    codes = [f["code"] for f in data["findings"] if f["severity"] == "error"]
    assert codes == ["client-cert-required"], data["findings"]
    assert data["chain_verification"]["verified"] is True
    assert data["chain_verified"][-1]["anchor"] is True


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_an_unverified_chain_is_still_not_verified_with_a_client_certificate_required(tls_server, lab_certs,
                                                                                      version):
    server = tls_server("unknown_ca", client_ca=True, tls_version=version)
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), timeout=5))
    assert result.stage("chain").status == "failed"
    assert result.chain.verified is False
    assert "client-cert-required" not in result.codes(), result.findings


@pytest.mark.parametrize("protocols", ["TLSv1.3", "TLSv1.2"])
def test_nginx_requiring_a_client_certificate(lab_certs, tmp_path, protocols):
    from conftest import need
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    extra = f"ssl_verify_client on; ssl_client_certificate {lab_certs.client_ca_cert};"
    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good, protocols=protocols, extra=extra),
                  prefix=tmp_path / "nginx")
    try:
        data = probe_json(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--http")
    finally:
        server.stop()
    stages = {s["name"]: s for s in data["stages"]}
    assert stages["chain"]["status"] == "ok", stages["chain"]
    codes = [f["code"] for f in data["findings"] if f["severity"] == "error"]
    assert codes == ["client-cert-required"], data["findings"]

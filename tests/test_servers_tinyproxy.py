"""tinyproxy launchers, proven with curl: CONNECT, Basic authentication, the ConnectPort list."""

from __future__ import annotations

import pytest

from conftest import TINYPROXY_PASSWORD, TINYPROXY_USER, curl_facts as curl
from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

pytestmark = pytest.mark.servers


def test_tinyproxy_tunnels_connect(tinyproxy_proxy, tls_server, lab_certs):
    server = tls_server()
    code, info, err = curl("-x", tinyproxy_proxy.url, "--cacert", str(lab_certs.ca_cert),
                           f"https://localhost:{server.port}/")
    assert code == 0 and info["connect"] == "200" and info["code"] == "200", err
    assert f"CONNECT localhost:{server.port}" in tinyproxy_proxy.log_text("tinyproxy.log")


def test_tinyproxy_basic_auth(tinyproxy_auth, tls_server, lab_certs):
    server = tls_server()
    target = f"https://localhost:{server.port}/"
    ca = ("--cacert", str(lab_certs.ca_cert))
    code, info, _ = curl("-x", tinyproxy_auth.url, *ca, target)
    assert code != 0 and info["connect"] == "407"
    code, info, _ = curl("-x", tinyproxy_auth.url, "--proxy-user", f"{TINYPROXY_USER}:wrong", *ca, target)
    # tinyproxy 1.11 answers wrong credentials with 401 (not 407, as it does without any).
    assert code != 0 and info["connect"] == "401"
    code, info, err = curl("-x", tinyproxy_auth.url, "--proxy-user", f"{TINYPROXY_USER}:{TINYPROXY_PASSWORD}",
                           *ca, target)
    assert code == 0 and info["connect"] == "200", err


def test_tinyproxy_refuses_ports_outside_its_list(tinyproxy_ports, tls_server, lab_certs, tmp_path):
    ca = ("--cacert", str(lab_certs.ca_cert))
    server = tls_server()
    assert server.port not in tinyproxy_ports.allowed_ports
    code, info, _ = curl("-x", tinyproxy_ports.url, *ca, f"https://localhost:{server.port}/")
    assert code != 0 and info["connect"] == "403"
    allowed = tinyproxy_ports.allowed_ports[-1]
    with openssl_server(TlsServerOptions(cert=lab_certs.good), port=allowed, log_dir=tmp_path) as on_allowed:
        assert on_allowed.port == allowed
        code, info, err = curl("-x", tinyproxy_ports.url, *ca, f"https://localhost:{allowed}/")
    assert code == 0 and info["connect"] == "200", err

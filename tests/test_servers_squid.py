"""squid launchers, proven with curl through each variant to a real TLS server on loopback."""

from __future__ import annotations

import pytest

from conftest import SQUID_PASSWORD, SQUID_USER, curl_facts as curl, handshake_verified, s_client

pytestmark = pytest.mark.servers


def test_squid_tunnels_connect_to_a_tls_server(squid_proxy, tls_server, lab_certs):
    server = tls_server()
    code, info, err = curl("-x", squid_proxy.url, "--cacert", str(lab_certs.ca_cert),
                           f"https://localhost:{server.port}/")
    assert code == 0, err
    assert info["connect"] == "200" and info["code"] == "200"
    assert info["issuer"].endswith("CN = tlsbench Lab Intermediate CA")
    assert f"CONNECT localhost:{server.port}" in squid_proxy.log_text("access.log")
    assert squid_proxy.scheme == "http" and "squid" in squid_proxy.description


def test_squid_requires_basic_auth(squid_proxy_auth, tls_server, lab_certs):
    server = tls_server()
    target = f"https://localhost:{server.port}/"
    ca = ("--cacert", str(lab_certs.ca_cert))
    code, info, _ = curl("-x", squid_proxy_auth.url, *ca, target)
    assert code != 0 and info["connect"] == "407"
    code, info, _ = curl("-x", squid_proxy_auth.url, "--proxy-user", f"{SQUID_USER}:wrong", *ca, target)
    assert code != 0 and info["connect"] == "407"
    code, info, err = curl("-x", squid_proxy_auth.url, "--proxy-user", squid_proxy_auth.credentials, *ca, target)
    assert code == 0 and info["connect"] == "200", err
    assert (squid_proxy_auth.username, squid_proxy_auth.password) == (SQUID_USER, SQUID_PASSWORD)


def test_squid_denies_connect_to_a_port(squid_proxy_deny, tls_server, lab_certs):
    denied = squid_proxy_deny.denied_ports[0]
    ca = ("--cacert", str(lab_certs.ca_cert))
    code, info, _ = curl("-x", squid_proxy_deny.url, *ca, f"https://localhost:{denied}/")
    assert code != 0 and info["connect"] == "403"
    server = tls_server()
    code, info, err = curl("-x", squid_proxy_deny.url, *ca, f"https://localhost:{server.port}/")
    assert code == 0 and info["connect"] == "200", err


def test_squid_https_proxy_port(squid_https_proxy, tls_server, lab_certs):
    assert squid_https_proxy.url.startswith("https://")
    # The proxy port itself is a TLS server with a lab certificate.
    assert handshake_verified(s_client(squid_https_proxy, None, lab_certs.ca_cert))
    server = tls_server()
    target = f"https://localhost:{server.port}/"
    proxy = f"https://localhost:{squid_https_proxy.port}"
    code, info, err = curl("-x", proxy, "--proxy-cacert", str(lab_certs.ca_cert), "--cacert",
                           str(lab_certs.ca_cert), target)
    assert code == 0 and info["connect"] == "200", err
    # Plain HTTP to the TLS port never gets an HTTP answer.
    code, _, _ = curl("-x", f"http://localhost:{squid_https_proxy.port}", "--cacert", str(lab_certs.ca_cert), target)
    assert code != 0


def test_squid_bump_shows_a_forged_leaf(squid_bump, tls_server, lab_certs):
    server = tls_server()
    target = f"https://localhost:{server.port}/"
    code, direct, err = curl("--cacert", str(lab_certs.ca_cert), target)
    assert code == 0, err
    # Through the proxy the leaf is squid's, issued by its own CA: untrusted with the lab CA...
    code, info, err = curl("-x", squid_bump.url, "--cacert", str(lab_certs.ca_cert), target)
    assert code == 60 and info["connect"] == "200", err
    # ...accepted when the client trusts the interception CA, and different from the real one.
    code, bumped, err = curl("-x", squid_bump.url, "--cacert", str(squid_bump.bump_ca_cert), target)
    assert code == 0 and bumped["code"] == "200", err
    assert bumped["issuer"].endswith("CN = tlsbench Intercepting Proxy CA")
    assert direct["issuer"].endswith("CN = tlsbench Lab Intermediate CA")
    assert bumped["serial"] != direct["serial"]


def test_squid_leaves_nothing_behind():
    import glob

    from conftest import need
    from tlsbench.lab.http_proxies import squid

    proxy = need(squid)
    segments = f"/dev/shm/{proxy.service_name}-*.shm"
    assert proxy.running and proxy.workdir.is_dir() and glob.glob(segments)
    proxy.stop()
    assert not proxy.running and not proxy.workdir.exists() and not glob.glob(segments)

"""haproxy round robin over two TLS servers whose certificates differ for the same name."""

from __future__ import annotations

import pytest

from conftest import curl_facts


def wait_for(check, seconds: float = 10.0) -> bool:
    import time

    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True

pytestmark = pytest.mark.servers


def test_round_robin_shows_both_certificates(haproxy_tls_pair, lab_certs):
    target = f"https://www.lab.test:{haproxy_tls_pair.port}/"
    pin = ("--resolve", f"www.lab.test:{haproxy_tls_pair.port}:127.0.0.1", "--cacert", str(lab_certs.ca_cert))
    serials = []
    for _ in range(4):
        code, info, err = curl_facts(*pin, target)
        assert code == 0 and info["code"] == "200", err
        serials.append(info["serial"])
    # Each node, asked directly, names its own certificate.
    node_serials = []
    for node in haproxy_tls_pair.nodes:
        code, info, err = curl_facts("--resolve", f"www.lab.test:{node.port}:127.0.0.1", "--cacert",
                                     str(lab_certs.ca_cert), f"https://www.lab.test:{node.port}/")
        assert code == 0, err
        node_serials.append(info["serial"])
    assert node_serials[0] != node_serials[1]
    assert set(serials) == set(node_serials)
    assert serials[0] != serials[1] and serials[0] == serials[2] and serials[1] == serials[3]


def test_haproxy_protocol_header_is_what_accept_proxy_needs(haproxy_accept_proxy, lab_certs):
    """--haproxy-protocol (curl's): a PROXY v1 line first. haproxy with accept-proxy takes it (and logs
    the client it names: this connection's own end); without it, haproxy drops the connection."""
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    target = f"www.lab.test:{haproxy_accept_proxy.port}"
    common = dict(pin="127.0.0.1", cafile=str(lab_certs.ca_cert), http=True, timeout=5)
    result = run_probe(build_spec(target, haproxy_protocol=True, **common))
    assert result.ok, [f.title for f in result.findings]
    tcp = result.stage("tcp")
    assert tcp.summary.endswith("PROXY header sent") and result.tls.verified is True
    assert " 200 " in result.stage("app").detail.status_line
    ours = f"127.0.0.1:{tcp.detail.local_port}"
    # haproxy logs a connection when it ends: the client named there is the one the header carried.
    assert wait_for(lambda: ours in haproxy_accept_proxy.stderr_text()), haproxy_accept_proxy.stderr_text()

    without = run_probe(build_spec(target, **common))
    assert not without.ok and without.stage("tls").status == "failed", [f.title for f in without.findings]


def test_curl_sends_the_same_header(haproxy_accept_proxy, lab_certs):
    """curl itself, as the reference: with --haproxy-protocol it gets through, without it it does not."""
    target = f"https://www.lab.test:{haproxy_accept_proxy.port}/"
    pin = ("--resolve", f"www.lab.test:{haproxy_accept_proxy.port}:127.0.0.1", "--cacert", str(lab_certs.ca_cert))
    code, info, err = curl_facts("--haproxy-protocol", *pin, target)
    assert code == 0 and info["code"] == "200", err
    code, info, err = curl_facts(*pin, target)
    assert code != 0

"""haproxy round robin over two TLS servers whose certificates differ for the same name."""

from __future__ import annotations

import pytest

from conftest import curl_facts

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

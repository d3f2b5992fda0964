"""Large ClientHellos lost on the path: a relay on loopback that holds any client->server flight over
N bytes, between tlsbench and a real s_server. With --pq the key-exchange stage's 1,472-byte hello
gets no answer, a small one over the same route does: large-hello-dropped, naming both sizes and the
MSS; the OpenSSL handshake's hello over the limit too; and --diagnose shows the small hello works."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

from hello_relay import HelloRelay

pytestmark = pytest.mark.servers


@pytest.fixture
def relay_to(tls_server):
    made = []

    def start(limit: int, **server):
        target = tls_server("good", **server)
        relay = HelloRelay(("127.0.0.1", target.port), limit)
        made.append(relay)
        return relay

    yield start
    for relay in made:
        relay.stop()


def test_the_pq_hello_is_dropped_and_a_small_one_is_not(relay_to, lab_certs):
    relay = relay_to(1000, tls_version="1.3")
    result = run_probe(build_spec(f"localhost:{relay.port}", cafile=str(lab_certs.ca_cert),
                                  groups="X25519MLKEM768,x25519", timeout=1.5))
    assert result.stage("tls").status == "ok"  # OpenSSL's own hello is small
    stage = result.stage("key-exchange")
    assert stage.status == "failed" and stage.detail.small_answered is True
    dropped = next(f for f in result.findings if f.code == "large-hello-dropped")
    large, small = stage.detail.hello_bytes[0], stage.detail.small_hello_bytes
    assert large > 1000 >= small and relay.held == [large]
    assert dropped.title == f"The path drops ClientHellos larger than {small:,} bytes"
    assert f"A {large:,}-byte ClientHello got no answer" in dropped.explanation
    assert f"MSS is {stage.detail.mss:,} bytes" in dropped.explanation and stage.detail.mss
    assert dropped.origin == "network"


def test_no_finding_when_the_small_hello_is_lost_too(relay_to, lab_certs):
    relay = relay_to(100, tls_version="1.3")
    result = run_probe(build_spec(f"localhost:{relay.port}", cafile=str(lab_certs.ca_cert),
                                  groups="X25519MLKEM768,x25519", timeout=1))
    assert "large-hello-dropped" not in [f.code for f in result.findings]


def test_diagnose_shows_the_small_hello_works(relay_to, lab_certs):
    relay = relay_to(1000, tls_version="1.3")
    out = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{relay.port}", "--pq", "--cafile",
                          str(lab_certs.ca_cert), "--timeout", "1.5", "--diagnose", "--json"], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ))
    data = json.loads(out.stdout)
    assert "large-hello-dropped" in [f["code"] for f in data["findings"]]
    variants = {v["key"]: v for v in data["diagnosis"]["variants"]}
    small = variants["small-hello"]
    assert small["status"] == "ok", small
    assert small["summary"]
    assert data["diagnosis"]["conclusion"].startswith("The path drops ClientHellos larger than ")
    assert "a small hello over the same route works" in data["diagnosis"]["conclusion"]


def test_openssls_own_large_hello_timing_out_is_explained(relay_to, lab_certs):
    relay = relay_to(1000)
    long_alpn = [c * 250 for c in "abcd"]  # s_server ignores protocols it does not know; the hello grows past 1,200
    result = run_probe(build_spec(f"localhost:{relay.port}", cafile=str(lab_certs.ca_cert), alpn=long_alpn,
                                  timeout=1.5))
    assert result.stage("tls").status == "failed"
    codes = [f.code for f in result.findings]
    assert "large-hello-dropped" in codes and "tls-timeout" not in codes
    dropped = next(f for f in result.findings if f.code == "large-hello-dropped")
    assert dropped.stage == "tls" and relay.held and relay.held[0] >= 1200
    assert f"A {relay.held[0]:,}-byte ClientHello got no answer" in dropped.explanation


def test_a_small_hello_timing_out_is_still_a_timeout(relay_to, lab_certs, silent_server):
    result = run_probe(build_spec(f"localhost:{silent_server.port}", cafile=str(lab_certs.ca_cert), timeout=1))
    assert "tls-timeout" in [f.code for f in result.findings]
    assert "large-hello-dropped" not in [f.code for f in result.findings]

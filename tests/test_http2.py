"""HTTP/2 after ALPN: the app stage against nginx with `listen ... ssl http2`, curl --http2 as the
reference client, and a hostile HTTP/2 server (tests/h2_peer.py) for what nginx will not do."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from tests.conftest import need_binary
from tests.h2_peer import H2Peer
from tlsbench.engine.stages.h2frames import FrameSplitter

pytestmark = pytest.mark.servers


def probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=60)


def app_of(proc: subprocess.CompletedProcess) -> dict:
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    return next(s for s in data["stages"] if s["name"] == "app")


def codes(proc: subprocess.CompletedProcess) -> list[str]:
    return [f["code"] for f in json.loads(proc.stdout)["findings"]]


@pytest.fixture(scope="module")
def h2_peers(lab_certs):
    started: dict[tuple, H2Peer] = {}

    def peer(behaviour: str, alpn: tuple[str, ...] = ("h2",)) -> H2Peer:
        key = (behaviour, alpn)
        if key not in started:
            started[key] = H2Peer(lab_certs.good, behaviour, alpn)
        return started[key]

    yield peer
    for server in started.values():
        server.stop()


def test_h2_request_to_nginx(nginx_h2, lab_certs):
    """With h2 chosen the request is HTTP/2 (the old code sent HTTP/1.1 and called the answer HTTP/0.9)."""
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--alpn", "h2", "--http", "--json")
    app = app_of(proc)
    assert proc.returncode == 0, proc.stdout
    detail = app["detail"]
    assert detail["protocol"] == "h2" and detail["status"] == 200
    assert "http-0.9-response" not in codes(proc)
    assert [":status", "200"] in detail["headers"]
    assert f":authority: localhost:{nginx_h2.port}" in detail["request"]
    assert "user-agent: tlsbench/0.1" in detail["request"]
    frames = [(f["direction"], f["type"], f["flags"]) for f in detail["frames"]]
    for expected in [("sent", "SETTINGS", ""), ("received", "SETTINGS", ""), ("sent", "SETTINGS", "ACK"),
                     ("received", "SETTINGS", "ACK"), ("sent", "HEADERS", "END_STREAM|END_HEADERS"),
                     ("received", "HEADERS", "END_HEADERS")]:
        assert expected in frames
    assert all(f["at_ms"] >= 0 for f in detail["frames"])


def test_http11_still_has_protocol_and_status(nginx_h2, lab_certs):
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--json")
    detail = app_of(proc)["detail"]
    assert detail["protocol"] == "http/1.1" and detail["status"] == 200 and detail["frames"] == []


def test_same_answer_as_curl(nginx_h2, lab_certs):
    curl = need_binary("curl")
    url = f"https://localhost:{nginx_h2.port}/missing"
    ref = subprocess.run([curl, "--http2", "-sv", "--cacert", str(lab_certs.ca_cert), url], capture_output=True,
                         text=True, timeout=30)
    seen = re.search(r"^< HTTP/2 (\d+)", ref.stderr, re.M)
    assert seen is not None, ref.stderr
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http",
                 "--path", "/missing", "--json")
    detail = app_of(proc)["detail"]
    assert detail["protocol"] == "h2" and detail["status"] == int(seen.group(1)) == 404
    said = re.search(r"\[:authority: ([^\]]+)\]", ref.stderr)  # newer curl shows its pseudo-headers
    if said is not None:
        assert f":authority: {said.group(1)}" in detail["request"]


def test_verbose_trace_lists_frames(nginx_h2, lab_certs):
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http", "-v")
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    app_row = re.search(r"^  \S+\s+app .*HTTP/2 200$", out, re.M)
    assert app_row is not None, out
    block = out[app_row.end():out.index("messages (tls)")]  # under the app row, before the TLS trace
    assert "HTTP/2 frames" in block
    assert re.search(r"\+\s*[\d.]+ ms  >>> SETTINGS\s+0  ACK", block)
    assert re.search(r"<<< HEADERS\s+1  END_HEADERS", block)


def test_h2_offered_without_request_sends_no_http11(nginx_h2, lab_certs):
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--alpn", "h2", "--json")
    app = app_of(proc)
    assert proc.returncode == 0 and app["status"] != "skipped"
    assert app["detail"]["protocol"] == "h2" and "h2 negotiated" in app["summary"]
    sent = [f["type"] for f in app["detail"]["frames"] if f["direction"] == "sent"]
    assert "HEADERS" not in sent and "SETTINGS" in sent
    assert codes(proc) == []


def test_alpn_wins_over_http2_with_a_warning(nginx_h2, lab_certs):
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--alpn", "http/1.1",
                 "--http", "--json")
    assert app_of(proc)["detail"]["protocol"] == "http/1.1"
    warnings = [line for line in proc.stderr.splitlines() if "--http2" in line]
    assert len(warnings) == 1 and "--alpn http/1.1 wins" in warnings[0]


def test_misdirected_names_the_three_names(nginx_h2, lab_certs):
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http",
                 "--sni", "www.lab.test", "--json")
    assert app_of(proc)["detail"]["status"] == 421
    found = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == "authority-mismatch"]
    assert len(found) == 1 and "http-error-status" not in codes(proc)
    evidence = {e["label"]: e["value"] for e in found[0]["evidence"]}
    assert evidence[":authority"] == "localhost" and evidence["SNI"] == "www.lab.test"


@pytest.mark.parametrize("behaviour, code, words", [
    ("garbage", "h2-protocol-error", "ProtocolError"),
    ("huge-headers", "h2-limit-exceeded", "header block"),
    ("goaway", "h2-goaway", "ENHANCE_YOUR_CALM"),
    ("goaway-at-once", "h2-goaway", "before answering the request"),
    ("reset", "h2-stream-reset", "REFUSED_STREAM"),
])
def test_hostile_h2_server_gives_findings(h2_peers, lab_certs, behaviour, code, words):
    peer = h2_peers(behaviour)
    proc = probe(f"localhost:{peer.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http", "--json",
                 "--timeout", "5")
    app = app_of(proc)
    assert app["detail"]["protocol"] == "h2"
    found = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == code]
    assert found, proc.stdout
    assert words in json.dumps(found[0])
    assert proc.returncode == 1


def test_goaway_names_its_code_in_the_trace(h2_peers, lab_certs):
    peer = h2_peers("goaway")
    proc = probe(f"localhost:{peer.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http", "-v")
    assert re.search(r"<<< GOAWAY\s+0  -\s+\d+ B  ENHANCE_YOUR_CALM, last stream 0", proc.stdout), proc.stdout


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_frame_splitter_never_raises(pieces):
    splitter = FrameSplitter("received")
    total = 0
    for piece in pieces:
        for f in splitter.feed(piece, 0.0):
            total += 9 + f.length
            assert f.type and f.stream_id >= 0
    assert total + len(splitter.buffer) == sum(len(p) for p in pieces)


def test_a_protocol_not_offered_is_a_finding_and_nothing_is_sent():
    """OpenSSL refuses such a ServerHello itself, so the handshake's result is made here: the one
    thing no loopback server can make this client accept."""
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.plan import plan_for
    from tlsbench.engine.records.details import TlsDetail
    from tlsbench.engine.spec import build_spec
    from tlsbench.engine.stages.app import AppStage
    from tlsbench.engine.stages.context import RunState, StageContext
    from tlsbench.engine.stages.shared import StageOutcome, TlsOutcome

    spec = build_spec("www.lab.test:443", alpn="h2,http/1.1", http=True)
    plan = plan_for(spec)
    step = next(s for s in plan.steps if s.kind.name == "app")
    state = RunState(plan)  # no stream: sending anything would raise
    detail = TlsDetail(sni="www.lab.test", sni_sent=True, alpn="spdy/3", alpn_offered=("h2", "http/1.1"))
    state.tls = TlsOutcome(StageOutcome(ok=True, detail=detail, summary=""), [])
    out = AppStage(step, plan).run(StageContext(spec=spec, emit=lambda e: None, cancel=CancelToken()), state)
    assert not out.ok and [f.code for f in out.findings] == ["alpn-not-offered"]
    evidence = {e.label: e.value for e in out.findings[0].evidence}
    assert evidence == {"offered": "h2, http/1.1", "chosen": "spdy/3"}


def test_misdirected_through_a_proxy_names_its_connect_target(nginx_h2, squid_proxy, lab_certs):
    proc = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http",
                 "--sni", "www.lab.test", "-x", f"http://{squid_proxy.host}:{squid_proxy.port}", "--json")
    found = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == "authority-mismatch"]
    assert found, proc.stdout
    evidence = {e["label"]: e["value"] for e in found[0]["evidence"]}
    assert evidence == {":authority": "localhost", "SNI": "www.lab.test", "CONNECT target": "localhost",
                        "status": "421"}


def test_a_proxy_password_echoed_in_h2_headers_is_masked(h2_peers, squid_proxy_auth, lab_certs):
    from tests.conftest import SQUID_PASSWORD, SQUID_USER

    peer = h2_peers("echo")
    proxy = f"http://{SQUID_USER}:{SQUID_PASSWORD}@{squid_proxy_auth.host}:{squid_proxy_auth.port}"
    proc = probe(f"localhost:{peer.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http", "-x", proxy,
                 "--json")
    detail = app_of(proc)["detail"]
    assert detail["protocol"] == "h2" and detail["status"] == 200
    assert ["x-seen", "***"] in detail["headers"]
    assert SQUID_PASSWORD not in proc.stdout and SQUID_PASSWORD not in proc.stderr


SERVER_SETTINGS = bytes.fromhex("000000040000000000")  # an empty SETTINGS frame, as a server's first


@given(st.binary(max_size=300), st.booleans())
def test_any_server_bytes_end_in_an_exchange_never_an_exception(data, settings_first):
    """Whatever comes back over a real socket pair — frames or not — the exchange ends with what it saw."""
    import socket

    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.spec import build_spec
    from tlsbench.engine.stages.context import StageContext
    from tlsbench.engine.stages.http2 import exchange, h2_findings, request_headers
    from tlsbench.engine.stream import socket_stream

    spec = build_spec("www.lab.test:443", http=True, timeout=2)
    ctx = StageContext(spec=spec, emit=lambda e: None, cancel=CancelToken())
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall((SERVER_SETTINGS if settings_first else b"") + data)
        theirs.shutdown(socket.SHUT_WR)
        stream = socket_stream(ours, ctx.cancel)
        stream.link.set_timeout(2)
        x = exchange(ctx, stream, request_headers(spec), 2)
    assert x.bytes_received <= len(data) + (9 if settings_first else 0)
    assert x.status is not None or x.error is not None or x.broken is not None or x.goaway is not None \
        or x.reset is not None or x.limit is not None
    h2_findings(x, True)


def test_h2_offered_and_not_chosen_without_request_says_so(tls_server, lab_certs):
    server = tls_server("good", alpn="http/1.1")
    proc = probe(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--json")
    app = app_of(proc)
    assert proc.returncode == 0
    assert app["summary"].startswith("ALPN chose http/1.1") and app["detail"]["protocol"] == "none"
    assert app["detail"]["bytes_received"] == 0 and app["detail"]["frames"] == []

"""`relay-delayed-ack`: a relay's Nagle against the client's delayed ACK, from the message trace.

The rule is a pure function of the trace (table-driven below); the real-server test shows the trace
carries it through microsocks, and that the same exchange direct does not raise it."""

from __future__ import annotations

import time

import pytest

from tlsbench.engine.findings.relay import DELAYED_ACK_MAX_MS, DELAYED_ACK_MIN_MS, relay_delayed_ack
from tlsbench.engine.options import spec_from_values
from tlsbench.engine.records.result import TlsMessage
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.lab.tiny_servers import PlainHttpServer, TinyServer, http_response


def trace(*items: tuple[float, str, str, int]) -> list[TlsMessage]:
    return [TlsMessage(at, direction, "handshake", name, "TLS 1.3", length) for at, direction, name, length in items]


def flight(pause: float, *, sent_between: bool = False, first_size: int = 118) -> list[TlsMessage]:
    items = [(1.0, "sent", "ClientHello", 508), (1.5, "received", "ServerHello", first_size),
             (1.6, "received", "EncryptedExtensions", 2)]
    if sent_between:
        items.append((1.7, "sent", "Certificate", 300))
    items += [(1.6 + pause, "received", "Certificate", 1034), (1.7 + pause, "received", "Finished", 48),
              (1.8 + pause, "sent", "Finished", 48)]
    return trace(*items)


def test_a_delayed_ack_pause_inside_the_server_flight_is_named_with_its_numbers():
    found = relay_delayed_ack(flight(40.0), relay="SOCKS5 proxy 127.0.0.1:1080", target="example.org:443",
                              mss=1460, curl="curl --socks5 127.0.0.1:1080 https://example.org/")
    assert found is not None and found.code == "relay-delayed-ack" and found.severity == "info"
    assert found.origin == "proxy"
    evidence = {e.label: e.value for e in found.evidence}
    assert evidence["pause"].startswith("40.0 ms: EncryptedExtensions at +1.600 ms, Certificate at +41.600 ms")
    assert evidence["before the pause"] == "ServerHello, EncryptedExtensions: 120 bytes, less than one segment (MSS 1460)"
    assert evidence["sent in between"] == "nothing" and evidence["relay"] == "SOCKS5 proxy 127.0.0.1:1080"
    assert "curl" in found.explanation and "time_appconnect" in found.explanation
    assert [p.tool for p in found.suggestion.peers] == ["curl"]


@pytest.mark.parametrize("case", [
    dict(pause=DELAYED_ACK_MIN_MS - 5),  # shorter than any delayed-ACK timer
    dict(pause=DELAYED_ACK_MAX_MS + 50),  # longer: something else
    dict(pause=40.0, sent_between=True),  # the server may have waited for what was sent
    dict(pause=40.0, first_size=1500),  # a full segment first: Nagle does not hold the rest
])
def test_no_finding_outside_the_pattern(case):
    pause = case.pop("pause")
    assert relay_delayed_ack(flight(pause, **case), relay="r", target="t", mss=1460) is None


@pytest.mark.servers
def test_through_microsocks_the_pause_is_found_and_direct_it_is_not(tls_server, microsocks, lab_certs):
    server = tls_server("good")
    values = {"target": f"localhost:{server.port}", "verify": "cafile", "cafile": str(lab_certs.ca_cert)}
    direct = run_probe(spec_from_values(values))
    assert direct.ok and "relay-delayed-ack" not in direct.codes()
    relayed = run_probe(spec_from_values({**values, "proxies": [f"socks5h://{microsocks.address}"]}))
    assert relayed.ok, relayed.codes()
    found = next(f for f in relayed.findings if f.code == "relay-delayed-ack")
    evidence = {e.label: e.value for e in found.evidence}
    assert set(evidence) == {"pause", "before the pause", "sent in between", "relay", "delayed-ACK timer"}
    assert evidence["relay"] == f"SOCKS5 (remote DNS) proxy {microsocks.address}"
    # The pause it shows is the one in the trace.
    tls = next(s for s in relayed.stages if s.name == "tls")
    assert tls.status == "ok"
    gap = float(evidence["pause"].split(" ms", 1)[0])
    received = [m for m in relayed.messages if m.stage == "tls"]
    gaps = [round(b.at_ms - a.at_ms, 1) for a, b in zip(received, received[1:])
            if a.direction == b.direction == "received"]
    assert gap == max(gaps)
    assert "ms a relay's delayed-ACK pause" in tls.summary  # it took most of the stage: the bar says so
    assert "pause" not in direct.stage("tls").summary
    curl = found.suggestion.peers[0].command
    assert curl.startswith("curl -so /dev/null -w 'appconnect %{time_appconnect} s' --socks5-hostname")


class SlowAnswer(TinyServer):
    """Plain HTTP that thinks for 0.3 s before it answers."""

    name = "slow-http"

    def handle(self, conn) -> None:
        self._read_first(conn)
        time.sleep(0.3)
        conn.sendall(http_response("200 OK", b"late\n"))


def test_a_slow_first_byte_is_named_in_the_app_stage_it_dominates():
    with SlowAnswer() as server:
        result = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, http=True, timeout=5))
    app = result.stage("app")
    assert result.ok and app.summary.startswith("HTTP/1.1 200 OK; ")
    assert app.summary.endswith("ms waiting for the server's first byte"), app.summary
    with PlainHttpServer() as quick:
        result = run_probe(build_spec(f"127.0.0.1:{quick.port}", tls=False, http=True, timeout=5))
    assert result.stage("app").summary == "HTTP/1.1 200 OK"


def test_a_slow_first_byte_through_a_proxy_is_named_in_the_tls_stage(lab_certs, microsocks):
    from tests.late_accept import LateAccept

    server = LateAccept(lab_certs, delay=0.4)
    try:
        result = run_probe(build_spec(f"127.0.0.1:{server.port}", cafile=str(lab_certs.ca_cert), timeout=5,
                                      proxies=[f"socks5://{microsocks.address}"]))
    finally:
        server.close()
    tls = result.stage("tls")
    assert result.ok and tls.summary.endswith("ms waiting for the server's first byte"), tls.summary
    assert "accept-queue-wait" not in result.codes()  # through a proxy no finding can say whose queue it was

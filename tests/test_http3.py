"""HTTP/3 over QUIC: the quic stage against caddy (h1, h2 and h3 on one port), a TCP-only nginx, a UDP port
nothing holds, a peer that answers with Version Negotiation (tests/quic_peers.py), a silent UDP peer, and
a SOCKS route; the parsers of QUIC bytes and the Alt-Svc reading, from bytes alone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from tests.quic_peers import OFFERED, UdpPeer, version_negotiation
from tlsbench.engine.quic.race import advertised, alt_svc, alt_svc_findings
from tlsbench.engine.quic.session import Failure
from tlsbench.engine.quic.wire import error_name, long_header
from tlsbench.engine.records.details import AppDetail, QuicDetail
from tlsbench.engine.stages.quic import QuicAttempt


def probe(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args, "--json"], capture_output=True,
                          text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    said = [line for line in proc.stderr.splitlines() if not line.startswith("WARNING: --keylog")]
    assert said == [], proc.stderr  # aioquic's own log stays off stderr
    return proc, json.loads(proc.stdout)


def stage(data: dict, name: str) -> dict:
    return next(s for s in data["stages"] if s["name"] == name)


def codes(data: dict, severity: str | None = None) -> list[str]:
    return [f["code"] for f in data["findings"] if severity is None or f["severity"] == severity]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- against real servers ----------------------------------------------------------------------

@pytest.mark.servers
def test_http3_only_to_caddy_speaks_h3(caddy_h3, lab_certs):
    proc, data = probe(f"localhost:{caddy_h3.port}", "--cafile", str(lab_certs.ca_cert), "--http3-only")
    assert proc.returncode == 0, proc.stdout
    quic = stage(data, "quic")["detail"]
    assert quic["version"] == "QUICv1" and quic["alpn"] == "h3" and quic["attempt"] == "only"
    assert quic["initial_sent_ms"] is not None and quic["first_packet_ms"] is not None
    assert quic["handshake_ms"] is not None and quic["local_port"] and quic["peer_port"] == caddy_h3.port
    tls = quic["tls"]
    assert tls["version"] == "TLSv1.3" and tls["cipher"].startswith("TLS_") and tls["sni"] == "localhost"
    assert tls["group"] == "x25519" and tls["verified"] is True
    assert [s["status"] for s in data["stages"] if s["name"] in ("tcp", "tls")] == ["skipped", "skipped"]
    app = stage(data, "app")["detail"]
    assert app["protocol"] == "h3" and app["status"] == 200 and app["race"] is None
    assert ":authority: localhost:%d" % caddy_h3.port in app["request"]
    assert stage(data, "chain")["detail"]["verified"] is True


@pytest.mark.servers
def test_http3_runs_both_attempts_and_says_which_won(caddy_h3, lab_certs):
    proc, data = probe(f"localhost:{caddy_h3.port}", "--cafile", str(lab_certs.ca_cert), "--http3")
    assert proc.returncode == 0, proc.stdout
    assert [s["name"] for s in data["stages"]][:3] == ["resolve", "quic", "tcp"]
    assert stage(data, "quic")["status"] == "ok" and stage(data, "tls")["status"] == "ok"
    app = stage(data, "app")["detail"]
    race = app["race"]
    assert race["winner"] in ("quic", "tcp") and race["quic_ms"] is not None and race["tcp_ms"] is not None
    assert app["status"] == 200
    assert app["protocol"] == ("h3" if race["winner"] == "quic" else "http/1.1")
    if race["winner"] == "tcp":
        assert advertised(race["alt_svc"]) == [("h3", f":{caddy_h3.port}")]


@pytest.mark.servers
def test_quic_chain_verdict_is_the_tcp_one(caddy_h3, lab_certs):
    """The same chain, verified by the chain stage's verifier: the same verdict, the same leaf."""
    target = f"localhost:{caddy_h3.port}"
    _, over_quic = probe(target, "--cafile", str(lab_certs.ca_cert), "--http3-only")
    _, over_tcp = probe(target, "--cafile", str(lab_certs.ca_cert), "--http")
    quic_chain, tcp_chain = stage(over_quic, "chain")["detail"], stage(over_tcp, "chain")["detail"]
    assert quic_chain["verified"] is tcp_chain["verified"] is True
    assert [c["sha256"] for c in quic_chain["certificates"]] == [c["sha256"] for c in tcp_chain["certificates"]]
    assert [c["sha256"] for c in quic_chain["verified_path"]] == [c["sha256"] for c in tcp_chain["verified_path"]]


@pytest.mark.servers
def test_wrong_ca_gives_the_tcp_chain_finding(caddy_h3, lab_certs):
    target = f"localhost:{caddy_h3.port}"
    proc, over_quic = probe(target, "--cafile", str(lab_certs.other_ca_cert), "--http3-only")
    _, over_tcp = probe(target, "--cafile", str(lab_certs.other_ca_cert), "--http")
    assert proc.returncode != 0
    assert "cert-untrusted" in codes(over_quic, "error")
    assert codes(over_quic, "error") == codes(over_tcp, "error")
    assert stage(over_quic, "quic")["detail"]["tls"]["verify_code"] == stage(over_tcp, "tls")["detail"]["verify_code"]
    assert stage(over_quic, "app")["status"] == "skipped"  # no request over an unverified connection
    # --http3: the QUIC attempt's verdict is the TCP one's, and neither carries the request
    _, both = probe(target, "--cafile", str(lab_certs.other_ca_cert), "--http3")
    assert stage(both, "quic")["detail"]["tls"]["verify_code"] == stage(both, "tls")["detail"]["verify_code"] == 20
    assert stage(both, "app")["status"] == "skipped"


@pytest.mark.servers
def test_http3_to_a_tcp_only_port_falls_back_and_says_why(nginx_h2, lab_certs):
    proc, data = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http3")
    assert proc.returncode == 0, proc.stdout
    quic = stage(data, "quic")
    assert quic["status"] == "failed" and quic["detail"]["failure"] == "icmp"
    assert quic["detail"]["errno_name"] == "ECONNREFUSED"
    found = {f["code"]: f for f in data["findings"]}
    assert found["quic-port-unreachable"]["severity"] == "warning"
    assert "http3-not-advertised" in found
    assert {"label": "Alt-Svc", "value": "absent"} in found["http3-not-advertised"]["evidence"]
    app = stage(data, "app")["detail"]
    assert app["race"]["winner"] == "tcp" and app["race"]["alt_svc"] is None and app["status"] == 200
    assert app["protocol"] == "http/1.1"


@pytest.mark.servers
def test_http3_only_to_a_udp_port_nothing_holds():
    port = free_udp_port()
    proc, data = probe(f"127.0.0.1:{port}", "--http3-only", "--timeout", "3")
    assert proc.returncode != 0
    assert codes(data, "error") == ["quic-port-unreachable"]
    assert stage(data, "quic")["detail"]["datagrams_received"] == 0


@pytest.mark.servers
def test_version_negotiation_is_named():
    with UdpPeer(negotiate=True) as peer:
        proc, data = probe(f"127.0.0.1:{peer.port}", "--http3-only", "--timeout", "3")
    assert proc.returncode != 0
    assert codes(data, "error") == ["quic-version-negotiation"]
    detail = stage(data, "quic")["detail"]
    assert detail["failure"] == "version-negotiation"
    assert "draft-29" in detail["server_versions"] and detail["version"] is None  # none in common: none spoken


@pytest.mark.servers
def test_no_answer_over_udp():
    with UdpPeer(negotiate=False) as peer:
        proc, data = probe(f"127.0.0.1:{peer.port}", "--http3-only", "--timeout", "1")
        assert peer.received >= 1
    assert codes(data, "error") == ["quic-no-answer"]
    assert stage(data, "quic")["detail"]["datagrams_received"] == 0


@pytest.mark.servers
def test_an_answer_then_no_handshake_is_not_called_silence():
    with UdpPeer(negotiate=False, junk=True) as peer:
        proc, data = probe(f"127.0.0.1:{peer.port}", "--http3-only", "--timeout", "1")
    assert codes(data, "error") == ["quic-handshake-timeout"]
    detail = stage(data, "quic")["detail"]
    assert detail["failure"] == "stalled" and detail["datagrams_received"] >= 1


@pytest.mark.servers
def test_handshake_refused_for_a_name_the_server_does_not_serve(caddy_h3, lab_certs):
    proc, data = probe(f"localhost:{caddy_h3.port}", "--cafile", str(lab_certs.ca_cert), "--http3-only",
                       "--sni", "not-served.lab.test")
    assert proc.returncode != 0
    assert codes(data, "error") == ["quic-handshake-failed"]
    detail = stage(data, "quic")["detail"]
    assert detail["closed_by"] == "peer" and detail["close_name"].startswith("CRYPTO_ERROR 0x1")
    assert "TLS alert" in detail["close_name"]


@pytest.mark.servers
def test_no_quic_through_a_socks_route(caddy_h3, lab_certs, microsocks):
    proc, data = probe(f"localhost:{caddy_h3.port}", "--cafile", str(lab_certs.ca_cert), "--http3",
                       "--proxy", f"socks5h://{microsocks.host}:{microsocks.port}")
    assert proc.returncode == 0, proc.stdout
    quic = stage(data, "quic")
    assert quic["status"] == "skipped" and "TCP only" in quic["summary"] and "socks5h" in quic["summary"]
    app = stage(data, "app")["detail"]
    assert app["status"] == 200 and app["protocol"] == "http/1.1"


@pytest.mark.servers
def test_verbose_lines_show_the_quic_attempt(caddy_h3, lab_certs):
    proc = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{caddy_h3.port}", "--cafile",
                           str(lab_certs.ca_cert), "--http3-only", "-v"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Initial sent +" in proc.stdout and "version QUICv1, ALPN h3" in proc.stdout
    assert "answer  HTTP/3 200" in proc.stdout


# --- from bytes alone ----------------------------------------------------------------------------

def test_version_negotiation_packet_is_read():
    initial = bytes([0xC0]) + (1).to_bytes(4, "big") + b"\x08" + b"D" * 8 + b"\x04" + b"S" * 4 + b"\x00" * 20
    header = long_header(version_negotiation(initial) or b"")
    assert header is not None and header.negotiation
    assert header.versions == OFFERED and header.dcid == b"S" * 4 and header.scid == b"D" * 8
    assert long_header(b"\x40" + b"\x00" * 30) is None  # a short header


@given(st.binary(max_size=80))
def test_long_header_never_raises(data):
    header = long_header(data)
    assert header is None or len(header.dcid) <= 255


@pytest.mark.parametrize("code,application,words", [
    (0x178, False, "CRYPTO_ERROR 0x178 (TLS alert no_application_protocol)"),
    (0x128, False, "CRYPTO_ERROR 0x128 (TLS alert handshake_failure)"),
    (0xA, False, "PROTOCOL_VIOLATION (0xa)"),
    (0x10B, True, "H3_REQUEST_REJECTED (0x10b)"),
])
def test_close_codes_are_named(code, application, words):
    assert error_name(code, application) == words


def _failed(kind: str) -> QuicAttempt:
    detail = QuicDetail("127.0.0.1", 443, "race", failure=kind, error="no datagram came back")
    return QuicAttempt("race", detail, failure=Failure(kind, "no datagram came back"))


def test_alt_svc_is_read_from_http11_and_h2():
    h1 = AppDetail("http", "GET /", first_bytes_text='HTTP/1.1 200 OK\r\nAlt-Svc: h3=":8443"; ma=60\r\n\r\nbody')
    h2 = AppDetail("http", "GET /", headers=((":status", "200"), ("alt-svc", 'h3-29=":443", h3=":443"')))
    assert alt_svc(h1) == 'h3=":8443"; ma=60' and advertised(alt_svc(h1)) == [("h3", ":8443")]
    assert advertised(alt_svc(h2)) == [("h3-29", ":443"), ("h3", ":443")]
    assert alt_svc(AppDetail("http", "GET /", first_bytes_text="HTTP/1.1 200 OK\r\n\r\n")) is None


def test_advertised_h3_and_a_failed_quic_attempt():
    [found] = alt_svc_findings(_failed("no-answer"), 'h3=":443"; ma=86400', 443)
    assert found.code == "http3-advertised-but-failed" and found.origin == "network"
    assert "UDP is blocked" in found.explanation
    [moved] = alt_svc_findings(_failed("icmp"), 'h3=":8443"', 443)
    assert "another port (:8443)" in moved.explanation and moved.origin == "peer"
    [absent] = alt_svc_findings(_failed("icmp"), None, 443)
    assert absent.code == "http3-not-advertised"


@pytest.mark.servers
def test_a_quic_run_saves_and_loads(caddy_h3, lab_certs):
    from tlsbench.engine.options import spec_from_values
    from tlsbench.engine.records.runfile import dump_run, load_run, run_record
    from tlsbench.engine.runner import run_probe

    spec = spec_from_values({"target": f"localhost:{caddy_h3.port}", "verify": "cafile",
                             "cafile": str(lab_certs.ca_cert), "app": "http", "http3": "only"})
    events: list = []
    result = run_probe(spec, on_event=events.append)
    assert result.ok
    loaded = load_run(dump_run(run_record(spec, events)), "test")
    assert loaded.result.stage("quic").detail == result.stage("quic").detail
    assert loaded.result.stage("app").detail.protocol == "h3"
    assert loaded.connection["app"] == {"http": True, "http3": "only"}


def test_workbench_shows_the_quic_detail_literally():
    from tlsbench.tui.stage_text import detail_text

    detail = QuicDetail("127.0.0.1", 443, "only", version="QUICv1", initial_sent_ms=1.0, first_packet_ms=2.0,
                        close_name="CRYPTO_ERROR 0x150 (TLS alert internal_error)", closed_by="peer",
                        close_reason="[bold]no\x1b[31m", failure="closed")
    text = detail_text(detail).plain
    assert "Initial sent" in text and "QUICv1" in text and "CRYPTO_ERROR 0x150" in text
    assert "[bold]no" in text and "\x1b" not in text  # the peer's reason phrase: literal, escapes made visible


def test_a_local_address_the_machine_lacks_is_tlsbench_s_side():
    proc, data = probe(f"127.0.0.1:{free_udp_port()}", "--http3-only", "--interface", "10.255.255.1", "--timeout", "1")
    assert proc.returncode != 0
    [found] = data["findings"]
    assert found["code"] == "quic-failed" and found["origin"] == "local"
    assert stage(data, "quic")["detail"]["errno_name"] == "EADDRNOTAVAIL"


@pytest.mark.servers
def test_keylog_holds_the_quic_secrets(caddy_h3, lab_certs, tmp_path):
    keylog = tmp_path / "keys.log"
    proc, _ = probe(f"localhost:{caddy_h3.port}", "--cafile", str(lab_certs.ca_cert), "--http3-only",
                    "--keylog", str(keylog))
    assert proc.returncode == 0
    assert keylog.stat().st_mode & 0o777 == 0o600
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keylog.read_text()


# --- the options, as every front-end reads them ---------------------------------------------------

def test_http3_options_round_trip_through_commands_and_paste():
    from tlsbench.engine.equivalents import equivalent_commands
    from tlsbench.engine.options import command_words, spec_from_values, values_of
    from tlsbench.engine.paste import parse_pasted

    pasted = parse_pasted("curl --http3 https://localhost:8443/x")
    assert pasted.values["http3"] == "race" and pasted.values["app"] == "http"
    spec = spec_from_values(pasted.values)
    assert spec.app.http3 == "race" and spec.app.http and spec.app.path == "/x"
    assert "--http3" in command_words(values_of(spec))
    commands = equivalent_commands(spec)
    assert "--http3" in commands.curl.words and "--http2" not in commands.curl.words
    assert any("QUIC" in c for c in commands.openssl.cannot)
    only = spec_from_values(parse_pasted("curl --http3-only https://localhost:8443/").values)
    assert only.app.http3 == "only" and "--http3-only" in command_words(values_of(only))


@pytest.mark.parametrize("args,words", [
    (["--http3", "--no-tls"], "--http3 and --no-tls cannot be used together"),
    (["--http3", "--http3-only"], "--http3 and --http3-only cannot be used together"),
    (["--http3-only", "--starttls", "smtp"], "--http3 and --starttls cannot be used together"),
    (["--http3-only", "--tls-max", "1.2"], "--http3-only speaks TLS 1.3 (QUIC's own)"),
])
def test_http3_with_what_it_cannot_carry_is_one_line(args, words):
    proc = subprocess.run([sys.executable, "-m", "tlsbench", "probe", "localhost:8443", *args], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_aioquic_loads_only_for_a_run_that_asks_for_quic():
    code = ("import sys\n"
            "from tlsbench.engine.runner import preflight\n"
            "from tlsbench.engine.spec import build_spec\n"
            "preflight(build_spec('localhost:1', http=True, alpn='h2,http/1.1'))\n"
            "print('aioquic' in sys.modules)\n"
            "preflight(build_spec('localhost:1', http3='race'))\n"
            "print('aioquic' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "True"], proc.stderr


@pytest.fixture(scope="module")
def nginx_alt_svc(lab_certs, tmp_path_factory):
    """A TCP-only nginx whose answers advertise HTTP/3 on its own port: the QUIC listener it names is not
    there (a server whose Alt-Svc outlived its QUIC listener, or a network that drops the UDP)."""
    from tests.conftest import need
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good,
                                             extra="""add_header Alt-Svc 'h3=":$server_port"; ma=60' always;"""),
                  prefix=tmp_path_factory.mktemp("nginx-alt-svc"))
    yield server
    server.stop()


@pytest.mark.servers
def test_advertised_h3_without_a_quic_listener(nginx_alt_svc, lab_certs):
    proc, data = probe(f"localhost:{nginx_alt_svc.port}", "--cafile", str(lab_certs.ca_cert), "--http3")
    assert proc.returncode == 0, proc.stdout
    found = {f["code"]: f for f in data["findings"]}
    assert "http3-not-advertised" not in found
    advert = found["http3-advertised-but-failed"]
    assert f'h3=":{nginx_alt_svc.port}"' in advert["title"] and advert["severity"] == "warning"
    race = stage(data, "app")["detail"]["race"]
    assert race["winner"] == "tcp" and race["alt_svc"] == f'h3=":{nginx_alt_svc.port}"; ma=60'


def test_http3_only_plans_no_tcp_to_the_target():
    from tlsbench.engine.plan import plan_for
    from tlsbench.engine.spec import build_spec

    plan = plan_for(build_spec("localhost:443", http3="only", reconnect=True, check_revocation=True))
    ran = [s.key for s in plan.steps if s.skip is None]
    assert ran == ["resolve", "quic", "chain", "app"]
    race = plan_for(build_spec("localhost:443", http3="race"))
    assert [s.key for s in race.steps if s.skip is None] == ["resolve", "quic", "tcp", "tls", "chain", "app"]
    assert race.step("quic").optional and not race.step("tcp").optional


@given(st.text(max_size=200), st.binary(max_size=200))
def test_alt_svc_reading_never_raises(value, head):
    entries = advertised(value)
    assert all(proto.startswith("h3") for proto, _ in entries)
    detail = AppDetail("http", "GET /", first_bytes_text=head.decode("latin-1"), headers=(("alt-svc", value),))
    assert alt_svc(detail) == value


@pytest.fixture(scope="module")
def caddy_client_auth(lab_certs, tmp_path_factory):
    """caddy requiring a client certificate from the lab's client CA, over TCP and QUIC alike."""
    from tests.conftest import need
    from tlsbench.lab.caddy_server import CaddyOptions, caddy_http3

    server = need(caddy_http3, CaddyOptions(cert=lab_certs.good, client_ca=lab_certs.client_ca_cert),
                  prefix=tmp_path_factory.mktemp("caddy-client-auth"))
    yield server
    server.stop()


@pytest.mark.servers
def test_client_certificate_over_quic(caddy_client_auth, lab_certs):
    target = f"localhost:{caddy_client_auth.port}"
    proc, without = probe(target, "--cafile", str(lab_certs.ca_cert), "--http3-only")
    assert proc.returncode != 0
    [found] = [f for f in without["findings"] if f["severity"] == "error"]
    assert found["code"] == "h3-request-failed" and "--cert" in found["suggestion"]
    assert "bad_certificate" in found["explanation"] or "certificate_required" in found["explanation"]
    _, given = probe(target, "--cafile", str(lab_certs.ca_cert), "--http3-only", "--cert", str(lab_certs.client.cert),
                     "--key", str(lab_certs.client.key))
    assert stage(given, "quic")["status"] == "ok"
    assert stage(given, "app")["detail"]["status"] is not None  # the server answered: the certificate was taken

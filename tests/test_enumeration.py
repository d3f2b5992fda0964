"""probe --enumerate against real servers: s_server modern and legacy (SECLEVEL=0), gnutls-serv
serving RC4 and 3DES (suites the local OpenSSL cannot even offer), nginx with a chosen list,
through a SOCKS proxy; and the hand-built ClientHello and answer reader, from bytes alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsbench.engine.tls import hellobuild
from tlsbench.engine.tls.enumeration import enumerate_server
from tlsbench.engine.listener.clienthello import parse_client_hello
from tlsbench.engine.spec import build_spec
from tlsbench.engine.tls.tlsnames import LEGACY_SUITES, TLS13_SUITES

from conftest import need

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def names(found, version):
    return [s.name for s in found.suites.get(version, [])]


# --- bytes alone -------------------------------------------------------------------------------------

def test_the_hello_says_what_it_offers():
    legacy = hellobuild.client_hello([s.id for s in LEGACY_SUITES], 0x0303, "www.lab.test")
    hello = parse_client_hello(legacy)
    assert hello is not None and hello.complete and hello.sni == "www.lab.test"
    assert hello.cipher_count == len(LEGACY_SUITES) + 1  # and the renegotiation SCSV
    assert hello.versions == ("TLS 1.2",) and not 256 <= len(legacy) - 5 < 512
    tls13 = parse_client_hello(hellobuild.client_hello([s.id for s in TLS13_SUITES], 0x0304, None))
    assert tls13.versions == ("TLS 1.3",) and tls13.sni is None and 51 in tls13.extensions
    ssl3 = parse_client_hello(hellobuild.client_hello([0x000A], 0x0300))
    assert ssl3.legacy_version == "SSL 3.0" and ssl3.extensions == ()


@SETTINGS
@given(st.binary(max_size=300), st.booleans())
def test_the_answer_reader_takes_any_bytes(data, eof):
    answer = hellobuild.read_answer(data, eof)
    assert answer.kind in ("hello", "alert", "closed", "not-tls", "incomplete")


# --- real servers ------------------------------------------------------------------------------------



@pytest.mark.servers
def test_a_modern_server(tls_server):
    server = tls_server("good")
    found = enumerate_server(build_spec(f"localhost:{server.port}"), concurrency=4)
    assert found.versions == {"TLS 1.3": True, "TLS 1.2": True, "TLS 1.1": False, "TLS 1.0": False,
                              "SSL 3.0": False}
    assert set(names(found, "TLS 1.3")) == {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                            "TLS_AES_128_GCM_SHA256"}
    tls12 = found.suites["TLS 1.2"]
    assert tls12 and all(s.kx == "ECDHE" and s.auth == "ECDSA" for s in tls12)  # an EC key: ECDSA suites only
    assert found.server_order["TLS 1.2"] is False  # s_server follows the client's order by default
    assert found.findings == () and found.connections >= len(tls12) + 5


@pytest.mark.servers
def test_a_legacy_server_at_seclevel_0(tls_server):
    server = tls_server("good_rsa", no_tls1_3=True,
                        cipher="NULL-SHA:AES128-SHA:ADH-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
                        extra_args=["-serverpref"])
    found = enumerate_server(build_spec(f"localhost:{server.port}"), concurrency=2)
    assert found.versions["TLS 1.3"] is False and found.versions["TLS 1.0"] and found.versions["TLS 1.1"]
    assert names(found, "TLS 1.2") == ["TLS_RSA_WITH_NULL_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
                                       "TLS_DH_anon_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    assert found.server_order["TLS 1.2"] is True
    codes = {f.code: f for f in found.findings}
    assert set(codes) == {"weak-tls-version", "weak-cipher", "no-forward-secrecy"}
    assert codes["weak-cipher"].severity == "error"  # no encryption, no authentication
    weak = {e.label for e in codes["weak-cipher"].evidence}
    assert weak == {"TLS_RSA_WITH_NULL_SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA"}
    assert "the server prefers one" in codes["no-forward-secrecy"].title


@pytest.mark.servers
def test_rc4_and_3des_from_gnutls(lab_certs, tmp_path):
    from tlsbench.lab.gnutls_server import gnutls_server

    server = need(gnutls_server, lab_certs.good_rsa,
                  "NORMAL:-VERS-TLS1.3:+3DES-CBC:+ARCFOUR-128:%SERVER_PRECEDENCE", log_dir=tmp_path)
    try:
        found = enumerate_server(build_spec(f"localhost:{server.port}"), concurrency=4)
    finally:
        server.stop()
    tls12 = names(found, "TLS 1.2")
    for suite in ("TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_RSA_WITH_RC4_128_SHA"):
        assert suite in tls12
    assert found.server_order["TLS 1.2"] is True and tls12[0].startswith("TLS_ECDHE_RSA_WITH_AES_256_GCM")
    weak = next(f for f in found.findings if f.code == "weak-cipher")
    assert weak.severity == "warning" and "RC4" in weak.explanation and "SWEET32" in weak.explanation
    assert "no-forward-secrecy" in [f.code for f in found.findings]


@pytest.mark.servers
def test_nginx_with_a_chosen_list_through_a_socks_proxy(lab_certs, tmp_path, microsocks):
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good_rsa, protocols="TLSv1.2",
                                             ciphers="ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA"),
                  prefix=tmp_path / "nginx")
    try:
        spec = build_spec(f"localhost:{server.port}", proxies=[f"socks5h://{microsocks.host}:{microsocks.port}"])
        found = enumerate_server(spec, concurrency=3)
    finally:
        server.stop()
    assert found.versions["TLS 1.2"] is True and found.versions["TLS 1.3"] is False
    assert names(found, "TLS 1.2") == ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA"]
    assert found.server_order["TLS 1.2"] is True
    assert [f.code for f in found.findings] == ["no-forward-secrecy"]


@pytest.mark.servers
def test_a_spent_budget_says_what_was_not_tested(tls_server):
    server = tls_server("good")
    found = enumerate_server(build_spec(f"localhost:{server.port}"), budget=0.0)
    assert set(found.versions.values()) == {None} and found.connections == 0
    assert any(item.startswith("TLS 1.2: budget") for item in found.not_tested)


@pytest.mark.servers
def test_cli_text_and_json(tls_server, lab_certs):
    server = tls_server("good")
    args = [sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert),
            "--enumerate", "--concurrency", "2"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "what the server accepts (" in out.stdout and "concurrency 2)" in out.stdout
    assert "versions  TLS 1.3 yes, TLS 1.2 yes, TLS 1.1 no, TLS 1.0 no, SSL 3.0 no" in out.stdout
    assert "not tested:\n  - SSL 2.0" in out.stdout
    data = json.loads(subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=120).stdout)
    e = data["enumeration"]
    assert e["versions"]["TLS 1.2"] is True and e["concurrency"] == 2 and e["suites"]["TLS 1.2"][0]["id"].startswith("0x")
    bad = subprocess.run(args[:-2] + ["--count", "3"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--enumerate cannot be used with --count" in bad.stderr


@pytest.mark.servers
async def test_the_workbench_action(tmp_path, tls_server):
    from tests.tui_helpers import SIZE, app_for, fill, settle
    from tlsbench.tui.screens.enumeration import EnumerationScreen

    server = tls_server("good")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fill(app, host="localhost", port=str(server.port))
        await pilot.press("ctrl+n")
        for _ in range(200):
            await pilot.pause(0.05)
            if isinstance(app.screen, EnumerationScreen) and app.screen.result is not None:
                break
        screen = app.screen
        assert isinstance(screen, EnumerationScreen) and screen.result is not None
        assert screen.result.versions["TLS 1.3"] is True
        text = str(screen.query_one("#enumeration-text").render())
        assert "versions  TLS 1.3 yes, TLS 1.2 yes" in text and "not tested:" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EnumerationScreen)


@pytest.mark.servers
def test_a_cancelled_enumeration_says_so(tls_server):
    from tlsbench.engine.cancel import CancelToken

    server = tls_server("good")
    token = CancelToken()
    token.cancel()
    found = enumerate_server(build_spec(f"localhost:{server.port}"), cancel=token)
    assert found.connections == 0 and set(found.versions.values()) == {None}
    assert found.not_tested[0] == "the rest: the enumeration was cancelled (Ctrl-C)"


@SETTINGS
@given(st.binary(max_size=400), st.booleans())
def test_the_flight_reader_takes_any_bytes(data, eof):
    from tlsbench.engine.certs import stapling

    flight = stapling.read_flight(data, eof)
    assert flight.kind in ("done", "alert", "closed", "not-tls", "incomplete")
    stapling.ocsp_from_flight(flight.messages)  # never raises either


def test_a_certificate_status_message_is_found():
    from tlsbench.engine.certs import stapling

    der = b"\x30\x03\x0a\x01\x00"
    status = b"\x16" + (4 + len(der)).to_bytes(3, "big") + b"\x01" + len(der).to_bytes(3, "big") + der
    done = b"\x0e\x00\x00\x00"
    record = b"\x16\x03\x03" + (len(status) + len(done)).to_bytes(2, "big") + status + done
    flight = stapling.read_flight(record)
    assert flight.kind == "done" and [t for t, _ in flight.messages] == [22, 14]
    assert stapling.ocsp_from_flight(flight.messages) == der

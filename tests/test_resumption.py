"""--reconnect against real servers: s_server with and without tickets and its session cache,
nginx with ssl_session_tickets on/off and ssl_session_cache, TLS 1.3 and 1.2, through a proxy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

from conftest import need

pytestmark = pytest.mark.servers


def reconnect(server, lab_certs, **options):
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), reconnect=True,
                                  **options))
    return result, result.stage("reconnect")


def test_tls13_tickets_resume(tls_server, lab_certs):
    result, stage = reconnect(tls_server("good"), lab_certs)
    d = stage.detail
    assert result.ok and stage.status == "ok", result.findings
    assert (d.offered, d.resumed, d.psk, d.version) == ("ticket", True, True, "TLSv1.3")
    assert d.tickets >= 1 and d.ticket_lifetime_s == 7200  # s_server's default lifetime hint
    assert d.first_handshake_ms > 0 and d.resumed_handshake_ms > 0 and d.faster_pct is not None
    assert "pre_shared_key" in [e.name for e in d.tls.server_extensions]
    assert [m.name for m in d.messages if m.direction == "received"][0] == "ServerHello"
    assert "Certificate" not in [m.name for m in d.messages]  # a resumed TLS 1.3 handshake sends no certificate
    assert stage.summary.startswith("resumed (ticket, ticket lifetime 7200 s)")
    data = result.to_json_dict()
    assert data["tls"]["resumption"]["resumed"] is True and data["tls"]["resumption"]["offered"] == "ticket"
    assert data["tls"]["close"]["peer"] == "close_notify"  # the first connection's close is still reported
    assert data["stages"][-1]["name"] == "reconnect"
    assert "resumption-refused" not in result.codes()


def test_tickets_without_a_cache_are_not_resumed(tls_server, lab_certs):
    # TLS 1.3 with -no_ticket issues stateful tickets, which need the session cache turned off here.
    result, stage = reconnect(tls_server("good", extra_args=["-no_ticket", "-no_cache"]), lab_certs)
    assert result.ok and stage.detail.offered == "ticket" and stage.detail.resumed is False
    finding = next(f for f in result.findings if f.code == "resumption-refused")
    assert finding.severity == "warning" and finding.stage == "reconnect"
    assert stage.summary.startswith("NOT resumed")


def test_tls12_session_id_and_no_session_at_all(tls_server, lab_certs):
    _, by_id = reconnect(tls_server("good", tls_version="1.2", extra_args=["-no_ticket"]), lab_certs)
    assert (by_id.detail.offered, by_id.detail.resumed) == ("session ID", True)
    result, none = reconnect(tls_server("good", tls_version="1.2", extra_args=["-no_ticket", "-no_cache"]), lab_certs)
    assert result.ok and none.detail.offered is None and none.detail.resumed is None
    assert "resumption-unavailable" in result.codes() and none.summary.startswith("nothing to resume")


def test_tls12_ticket_lifetime_hint(tls_server, lab_certs):
    _, stage = reconnect(tls_server("good", tls_version="1.2"), lab_certs)
    assert (stage.detail.offered, stage.detail.resumed, stage.detail.ticket_lifetime_s) == ("ticket", True, 7200)


@pytest.mark.parametrize("tickets,cache,protocols,expected", [
    (True, None, "TLSv1.3", True),
    (False, "shared:SSL:1m", "TLSv1.3", True),
    (False, None, "TLSv1.3", False),
    (True, None, "TLSv1.2", True),
    (False, "shared:SSL:1m", "TLSv1.2", True),
    (False, None, "TLSv1.2", False),
])
def test_nginx_tickets_and_cache(lab_certs, tmp_path, tickets, cache, protocols, expected):
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good, session_tickets=tickets, session_cache=cache,
                                             protocols=protocols), prefix=tmp_path / "nginx")
    try:
        result, stage = reconnect(server, lab_certs)
    finally:
        server.stop()
    assert result.ok, result.findings
    assert stage.detail.resumed is expected, stage.summary
    assert ("resumption-refused" in result.codes()) is (not expected)


def test_reconnect_through_a_socks_proxy(tls_server, lab_certs, microsocks):
    server = tls_server("good")
    result, stage = reconnect(server, lab_certs, proxies=[f"socks5h://{microsocks.host}:{microsocks.port}"])
    assert result.ok and stage.detail.resumed is True
    assert stage.detail.connect_ms is not None and stage.detail.connect_ms > 0


def test_cli_reconnect_line(tls_server, lab_certs):
    server = tls_server("good")
    out = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--cafile",
                          str(lab_certs.ca_cert), "--reconnect"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "reconnect" in out.stdout and "\nresume  resumed (ticket" in out.stdout
    data = json.loads(subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}",
                                      "--cafile", str(lab_certs.ca_cert), "--reconnect", "--json"],
                                     capture_output=True, text=True, timeout=60).stdout)
    assert data["options"]["tls"]["reconnect"] is True and data["tls"]["resumption"]["resumed"] is True

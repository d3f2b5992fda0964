"""The listener against real clients: curl, openssl s_client and Python sockets on loopback."""

from __future__ import annotations

import socket
import ssl
import time

import pytest

from test_listener_support import require, run, running_listener, ss_queue
from tlsbench.engine.listener.backlog import somaxconn


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSBENCH_DATA_DIR", str(tmp_path / "data"))


def test_backlog_reported_matches_ss():
    with running_listener(backlog=7) as (listener, log):
        listening = log.wait_event("listening")
        assert listening["backlog"] == 7
        assert listening["effective_backlog"] == 7
        assert listening["somaxconn"] == somaxconn()
        assert ss_queue(listener.port) == (0, 7)


def test_backlog_capped_by_somaxconn():
    cap = somaxconn()
    assert cap is not None
    with running_listener(backlog=min(cap + 100, 65535)) as (listener, log):
        listening = log.wait_event("listening")
        assert listening["effective_backlog"] == min(cap, 65535)
        assert ss_queue(listener.port)[1] == listening["effective_backlog"]


def test_paused_listener_queues_then_drains_with_the_clients_ports():
    with running_listener(backlog=7, pause_accept=True, client_timeout=5) as (listener, log):
        clients = [socket.create_connection(("127.0.0.1", listener.port), timeout=5) for _ in range(3)]
        try:
            queued = log.wait_event("queue", length=3)
            assert queued["backlog"] == 7 and queued["paused"] is True
            assert ss_queue(listener.port) == (3, 7)
            assert log.dicts("accepted") == []
            listener.resume()
            log.wait_for(lambda d: d["event"] == "queue" and d["length"] == 0 and not d["paused"])
            ports = {c.getsockname()[1] for c in clients}
            deadline = time.monotonic() + 10
            while len(log.dicts("accepted")) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert {d["peer_port"] for d in log.dicts("accepted")} == ports
        finally:
            for c in clients:
                c.close()


def test_curl_https_with_cacert_is_served_and_its_port_matches():
    curl = require("curl")
    with running_listener(tls=True, reply_mode="http", reply_text="hi\n") as (listener, log):
        r = run([curl, "-sS", "--max-time", "10", "--cacert", listener.cert_path, "-w", "\n%{local_port}",
                 f"https://localhost:{listener.port}/"])
        assert r.returncode == 0, r.stderr
        body, port = r.stdout.decode().rsplit("\n", 1)
        assert body == "hi\n"
        accepted = log.wait_event("accepted")
        assert accepted["peer_port"] == int(port)
        hello = log.wait_event("client-hello", client_id=accepted["client_id"])
        assert hello["sni"] == "localhost"
        hs = log.wait_event("handshake", client_id=accepted["client_id"])
        assert hs["ok"] and hs["version"] in ("TLSv1.3", "TLSv1.2")
        data = log.wait_event("data", client_id=accepted["client_id"])
        assert data["text"].startswith("GET / HTTP/1.1\r\n")
        closed = log.wait_event("closed", client_id=accepted["client_id"])
        assert closed["bytes_received"] > 0 and closed["bytes_sent"] > 0


def test_curl_haproxy_protocol_header_is_shown_and_the_handshake_goes_on():
    """curl --haproxy-protocol: the listener shows the addresses the PROXY header carries (here curl's
    own end), then serves the TLS that follows as usual."""
    curl = require("curl")
    with running_listener(tls=True, reply_mode="http", reply_text="hi\n") as (listener, log):
        r = run([curl, "-sS", "--max-time", "10", "--haproxy-protocol", "--cacert", listener.cert_path, "-w",
                 "\n%{local_port}", f"https://localhost:{listener.port}/"])
        assert r.returncode == 0, r.stderr
        body, port = r.stdout.decode().rsplit("\n", 1)
        assert body == "hi\n"
        accepted = log.wait_event("accepted")
        header = log.wait_event("proxy-header", client_id=accepted["client_id"])
        assert header["family"] in ("TCP4", "TCP6") and header["source"][1] == int(port)
        assert header["destination"][1] == listener.port
        assert log.wait_event("handshake", client_id=accepted["client_id"])["ok"]


def test_tlsbench_haproxy_protocol_names_the_port_the_listener_saw():
    with running_listener(tls=True, reply_mode="http") as (listener, log):
        result = _probe(f"127.0.0.1:{listener.port}", cafile=listener.cert_path, http=True, haproxy_protocol=True,
                        sni="localhost")
        assert result.ok, result.codes()
        header = log.wait_event("proxy-header")
        assert header["family"] == "TCP4"
        assert tuple(header["source"]) == ("127.0.0.1", result.socket.local_port)
        assert tuple(header["destination"]) == ("127.0.0.1", listener.port)


def test_curl_without_cacert_rejects_the_certificate_with_unknown_ca():
    curl = require("curl")
    with running_listener(tls=True) as (listener, log):
        r = run([curl, "-sS", "--max-time", "10", f"https://localhost:{listener.port}/"])
        assert r.returncode == 60
        finding = log.wait_event("finding", code="client-aborted-handshake")
        assert finding["evidence"][0] == {"label": "alert", "value": "unknown_ca"}
        assert "rejected the certificate" in finding["title"]
        hs = log.wait_event("handshake")
        assert hs["ok"] is False and hs["alert"] == "unknown_ca"


def test_curl_http_to_the_tls_port():
    curl = require("curl")
    with running_listener(tls=True) as (listener, log):
        r = run([curl, "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                 f"http://127.0.0.1:{listener.port}/"])
        assert r.stdout == b"400"
        finding = log.wait_event("finding", code="http-on-tls-port")
        assert finding["evidence"][0]["value"] == "GET / HTTP/1.1"
        # the suggestion names the listener's real address and the certificate to trust, no placeholders
        assert finding["stage"] == "listener" and finding["suggestion_changes"] == []
        assert f"Use https://127.0.0.1:{listener.port}/" in finding["suggestion"]
        assert f"curl --cacert {listener.cert_path} https://127.0.0.1:{listener.port}/" in finding["suggestion"]
        assert "HOST" not in finding["suggestion"]


def test_curl_connect_through_the_tls_port_as_a_proxy():
    curl = require("curl")
    with running_listener(tls=True) as (listener, log):
        run([curl, "-sS", "--max-time", "10", "-x", f"http://127.0.0.1:{listener.port}",
             "https://example.test/"])
        finding = log.wait_event("finding", code="http-on-tls-port")
        assert "CONNECT" in finding["title"]
        assert finding["evidence"][0]["value"].startswith("CONNECT example.test:443 HTTP/1.1")


def test_curl_https_to_a_plain_listener():
    curl = require("curl")
    with running_listener(tls=False, reply_mode="http") as (listener, log):
        r = run([curl, "-sS", "--max-time", "10", f"https://localhost:{listener.port}/"])
        assert r.returncode == 35  # curl: SSL connect error (it read our plain answer as TLS)
        finding = log.wait_event("finding", code="tls-on-plain-port")
        assert {"label": "sni", "value": "localhost"} in finding["evidence"]
        assert log.wait_event("client-hello")["sni"] == "localhost"


def test_s_client_servername_and_alpn_are_seen():
    openssl = require("openssl")
    with running_listener(tls=True, alpn=("h2",)) as (listener, log):
        run([openssl, "s_client", "-connect", f"127.0.0.1:{listener.port}", "-servername", "foo.test",
             "-alpn", "h2,http/1.1"], input=b"")
        hello = log.wait_event("client-hello")
        assert hello["sni"] == "foo.test"
        assert hello["alpn"] == ["h2", "http/1.1"]
        assert "TLS 1.3" in hello["versions"] and hello["cipher_count"] > 0
        assert log.wait_event("handshake")["alpn"] == "h2"
        assert not log.dicts("finding")


def test_s_client_without_servername_raises_no_sni():
    openssl = require("openssl")
    with running_listener(tls=True) as (listener, log):
        run([openssl, "s_client", "-connect", f"127.0.0.1:{listener.port}", "-noservername"], input=b"")
        assert log.wait_event("client-hello")["sni"] is None
        finding = log.wait_event("finding", code="no-sni-from-client")
        assert finding["severity"] == "warning"


def test_own_client_sees_the_same_ephemeral_port(tmp_path):
    # A plain Python ssl client, independent of tlsbench's own probe (tested below).
    with running_listener(tls=True) as (listener, log):
        ctx = ssl.create_default_context(cafile=listener.cert_path)
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                assert tls.recv(10) == b"ping"
                port = tls.getsockname()[1]
        assert log.wait_event("accepted")["peer_port"] == port
        assert log.wait_event("data")["text"] == "ping"


def test_misbehaving_clients_never_stop_the_listener():
    with running_listener(tls=True, client_timeout=0.5, read_cap=100_000) as (listener, log):
        silent = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        closed = log.wait_event("closed", client_id=1)
        assert "sent nothing" in closed["reason"]
        silent.close()
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as garbage:
            garbage.sendall(b"\x16\x03\x01\x00\x05\x01\xff\xff\xff\xff" + b"\x1b[31m" * 100)
            garbage.shutdown(socket.SHUT_WR)  # half-open
            garbage.recv(100)
        hs = log.wait_event("handshake", client_id=2)
        assert hs["ok"] is False
        log.wait_event("closed", client_id=2)
        assert listener.running
        # huge input: the listener stops reading at its cap and cuts that client off
        ctx = ssl.create_default_context(cafile=listener.cert_path)
        got = 0
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                try:
                    tls.sendall(b"x" * 300_000)
                    while chunk := tls.recv(65536):
                        got += len(chunk)
                except OSError:
                    pass  # the cut-off may reach us as a reset
        closed = log.wait_event("closed", client_id=3)
        assert "cap of 100000 bytes" in closed["reason"]
        # It echoed up to the cap before cutting off; whether those bytes reach the client before
        # the reset does is a race, so the listener's own count is what is checked.
        assert 0 < closed["bytes_received"] and closed["bytes_sent"] > 0
        assert got <= closed["bytes_sent"]
        # and the next client is still served
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"still here")
                assert tls.recv(100) == b"still here"


def test_client_certificate_required(tmp_path):
    curl = require("curl")
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca_file, cert_file = tmp_path / "ca.pem", tmp_path / "client.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca.issue_cert("client@example.test").private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    with running_listener(tls=True, require_client_cert=True, client_ca=str(ca_file),
                          reply_mode="http") as (listener, log):
        base = [curl, "-sS", "--max-time", "10", "--cacert", listener.cert_path]
        r = run(base + ["--cert", str(cert_file), f"https://localhost:{listener.port}/"])
        assert r.returncode == 0, r.stderr
        hs = log.wait_event("handshake", client_id=1)
        assert hs["ok"] and "organizationName=trustme" in (hs["client_cert_subject"] or "")
        run(base + [f"https://localhost:{listener.port}/"])
        hs = log.wait_event("handshake", client_id=2)
        assert hs["ok"] is False


def test_stop_frees_the_port_and_cuts_clients():
    with running_listener(client_timeout=30) as (listener, log):
        client = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        log.wait_event("accepted")
        listener.stop()
        log.wait_event("stopped")
        log.wait_event("closed", client_id=1)
        client.close()
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listener does
            again.bind(("127.0.0.1", listener.port))
            again.listen(1)


def _probe(target: str, **options):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    return run_probe(build_spec(target, timeout=10, **options))


def test_tlsbench_probe_reports_the_port_the_listener_saw():
    with running_listener(tls=True, reply_mode="http") as (listener, log):
        result = _probe(f"localhost:{listener.port}", cafile=listener.cert_path, http=True)
        assert result.ok, result.codes()
        accepted = log.wait_event("accepted")
        assert accepted["peer_port"] == result.socket.local_port
        assert accepted["local_port"] == result.socket.peer_port == listener.port
        assert log.wait_event("client-hello")["sni"] == "localhost"


def test_tlsbench_probe_by_ip_sends_no_sni():
    with running_listener(tls=True) as (listener, log):
        _probe(f"127.0.0.1:{listener.port}", cafile=listener.cert_path)
        assert log.wait_event("client-hello")["sni"] is None
        log.wait_event("finding", code="no-sni-from-client")


def test_tlsbench_probe_plain_http_to_tls_port_and_tls_to_plain_port():
    with running_listener(tls=True) as (tls_listener, tls_log), \
            running_listener(tls=False, reply_mode="http") as (plain_listener, plain_log):
        _probe(f"127.0.0.1:{tls_listener.port}", tls=False, http=True)
        tls_log.wait_event("finding", code="http-on-tls-port")
        _probe(f"localhost:{plain_listener.port}", cafile=tls_listener.cert_path)
        finding = plain_log.wait_event("finding", code="tls-on-plain-port")
        assert {"label": "sni", "value": "localhost"} in finding["evidence"]


def test_ipv6_loopback_listener():
    with running_listener(bind="::1", reply_mode="text", reply_text="v6") as (listener, log):
        with socket.create_connection(("::1", listener.port), timeout=5) as c:
            c.sendall(b"hi")
            assert c.recv(10) == b"v6"
            port = c.getsockname()[1]
        accepted = log.wait_event("accepted")
        assert (accepted["peer_address"], accepted["peer_port"]) == ("::1", port)
        assert log.wait_event("listening")["address"] == "::1"


def test_max_clients_leaves_the_rest_in_the_queue():
    with running_listener(backlog=4, max_clients=1, client_timeout=5) as (listener, log):
        first = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        log.wait_event("accepted", client_id=1)
        second = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        try:
            log.wait_event("queue", length=1)
            assert len(log.dicts("accepted")) == 1
            first.close()
            log.wait_event("closed", client_id=1)
            assert log.wait_event("accepted", client_id=2)["peer_port"] == second.getsockname()[1]
        finally:
            first.close()
            second.close()


def test_serve_path_never_imports_textual():
    import subprocess
    import sys

    code = ("import sys, tlsbench.commands.serve, tlsbench.commands.cert, tlsbench.engine.listener.server;"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'textual'];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr

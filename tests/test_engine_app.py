"""The app stage over real TLS sessions and plain sockets."""

from __future__ import annotations

import socket

import pytest

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.spec import build_spec
from tlsbench.engine.stages.app import http_request, run_app
from tlsbench.engine.stages.context import StageContext
from tlsbench.engine.stages.tls import run_tls

pytestmark = pytest.mark.servers


def over_tls(server, target=None, **options):
    spec = build_spec(target or f"localhost:{server.port}", **options)
    ctx = StageContext(spec=spec, emit=lambda e: None, cancel=CancelToken())
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        tls = run_tls(ctx, sock)
        assert tls.outcome.ok, tls.outcome.findings
        return run_app(ctx, tls.stream)


def over_plain(server, **options):
    spec = build_spec(f"127.0.0.1:{server.port}", tls=False, **options)
    ctx = StageContext(spec=spec, emit=lambda e: None, cancel=CancelToken())
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        return run_app(ctx, sock)


def codes(outcome) -> list[str]:
    return [f.code for f in outcome.findings]


def test_http_over_tls(tls_server, lab_certs):
    server = tls_server("good")
    out = over_tls(server, cafile=str(lab_certs.ca_cert), http=True)
    d = out.detail
    assert out.ok and d.mode == "http"
    assert d.status_line.startswith("HTTP/1.0 200")
    assert d.ttfb_ms is not None and d.ttfb_ms >= 0
    assert f"Host: localhost:{server.port}\r\n" in d.request
    assert d.request.startswith("GET / HTTP/1.1\r\n") and "User-Agent: tlsbench/0.1\r\n" in d.request
    assert bytes.fromhex(d.first_bytes_hex).decode("latin-1") == d.first_bytes_text
    assert out.findings == ()


def test_send_over_tls_records_the_answer(tls_server, lab_certs):
    server = tls_server("good", mode="rev")
    out = over_tls(server, cafile=str(lab_certs.ca_cert), send="hello lab\n")
    assert out.ok and out.detail.mode == "send" and out.detail.request == "hello lab\n"
    assert "bal olleh" in out.detail.first_bytes_text


def test_http_over_plain_socket(plain_http):
    out = over_plain(plain_http, http=True)
    assert out.detail.status_line == "HTTP/1.1 200 OK"
    assert out.ok and out.findings == ()


def test_http_error_status(banner_server):
    server = banner_server("http", banner=b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    out = over_plain(server, http=True)
    f = next(f for f in out.findings if f.code == "http-error-status")
    assert f.severity == "info" and "404" in f.title


def test_http_answer_without_status_line(banner_server):
    server = banner_server("http", banner=b"<html>hello</html>\n")
    out = over_plain(server, http=True)
    assert out.detail.status_line is None
    assert codes(out) == ["http-0.9-response"]


def test_send_to_a_banner_server(banner_server):
    server = banner_server("smtp")
    out = over_plain(server, send="EHLO lab\r\n")
    assert out.ok and out.detail.first_bytes_text.startswith("220 ")


def test_silent_peer_is_app_no_response(silent_server):
    out = over_plain(silent_server, send="ping\n", timeout=0.5)
    assert not out.ok
    assert codes(out) == ["app-no-response"]
    assert out.detail.error == "timeout" and out.detail.bytes_received == 0


def test_host_header_rules():
    assert b"Host: example.com\r\n" in http_request(build_spec("example.com:443", http=True))
    assert b"Host: example.com:8443\r\n" in http_request(build_spec("example.com:8443", http=True))
    assert b"Host: [::1]\r\n" in http_request(build_spec("[::1]:443", http=True))
    assert b"Host: [::1]:8080\r\n" in http_request(build_spec("[::1]:8080", http=True))
    assert b"Host: example.com\r\n" in http_request(build_spec("example.com:80", http=True, tls=False))


def test_protocol_and_status_in_the_detail(tls_server, lab_certs):
    server = tls_server("good")
    http = over_tls(server, cafile=str(lab_certs.ca_cert), http=True)
    assert http.detail.protocol == "http/1.1" and http.detail.status == 200
    sent = over_tls(server, cafile=str(lab_certs.ca_cert), send="GET / HTTP/1.0\r\n\r\n")
    assert sent.detail.protocol == "text" and sent.detail.status is None

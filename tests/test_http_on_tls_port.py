"""Plain HTTP to a TLS port, seen from the client: `--no-tls --http` against real nginx and against
`tlsbench serve --tls`, whose 400s say it in their bodies, is http-on-tls-port (use TLS)."""

from __future__ import annotations

import pytest

from test_serve_cli import env, serve  # noqa: F401 - the fixtures that run `tlsbench serve`
from tlsbench.engine.suggestions import cli_text
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.engine.stages.app import tls_port_complaint

pytestmark = pytest.mark.servers


def test_nginx_says_the_plain_request_went_to_its_https_port(nginx_sni_strict):
    result = run_probe(build_spec(f"127.0.0.1:{nginx_sni_strict.port}", tls=False, http=True))
    assert not result.ok and result.codes() == ["http-on-tls-port"]
    app = result.stage("app")
    assert app.status == "failed" and app.summary == "HTTP/1.1 400 Bad Request"
    assert "<center>The plain HTTP request was sent to HTTPS port</center>" in app.detail.first_bytes_text
    finding = result.findings[0]
    assert finding.stage == "app" and finding.origin == "local" and "nginx" in finding.explanation
    assert {e.label: e.value for e in finding.evidence} == {
        "status line": "HTTP/1.1 400 Bad Request", "the server said": "The plain HTTP request was sent to HTTPS port"}
    assert cli_text(finding.suggestion).startswith("Use TLS: drop --no-tls")
    assert finding.suggestion.changes[0].values == {"tls": True}


def test_tlsbench_serve_says_it_too_and_sees_it_from_its_side(serve):  # noqa: F811
    listener = serve("--tls", "--port", "0")
    port = listener.wait_event("listening")["port"]
    result = run_probe(build_spec(f"127.0.0.1:{port}", tls=False, http=True))
    assert result.codes() == ["http-on-tls-port"]
    assert "tlsbench serve" in result.findings[0].explanation
    assert listener.wait_event("finding", code="http-on-tls-port")["stage"] == "listener"


def test_other_400s_stay_ordinary():
    assert tls_port_complaint(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad header!") is None
    apache = (b"HTTP/1.1 400 Bad Request\r\n\r\n<p>Your browser sent a request that this server could not understand."
              b"<br />\nReason: You're speaking plain HTTP to an SSL-enabled server port.<br />")
    assert tls_port_complaint(apache) == ("Apache httpd", "speaking plain HTTP to an SSL-enabled server port")

"""The tls stage against real servers: s_server, nginx and the tiny lab servers, on loopback."""

from __future__ import annotations

import socket
import threading

import pytest

from tlsbench.engine.cancel import CancelToken
from tlsbench.errors import Cancelled
from tlsbench.engine.events import TlsMessageSeen
from tlsbench.engine.spec import build_spec
from tlsbench.engine.stages.context import StageContext
from tlsbench.engine.stages.tls import run_tls
from tlsbench.engine.suggestions import cli_text

pytestmark = pytest.mark.servers


def handshake(server, target: str | None = None, **options):
    """Connect to server (host, port) ourselves and run the tls stage: (outcome, events, socket to close)."""
    target = target or f"localhost:{server.port}"
    spec = build_spec(target, **options)
    events: list = []
    token = CancelToken()
    sock = socket.create_connection((server.host, server.port), timeout=5)
    token.attach(sock)
    try:
        out = run_tls(StageContext(spec=spec, emit=events.append, cancel=token), sock)
    except BaseException:
        sock.close()
        raise
    return out, events, sock


def codes(out) -> list[str]:
    return [f.code for f in out.outcome.findings]


def finding(out, code):
    return next(f for f in out.outcome.findings if f.code == code)


def names(out) -> list[tuple[str, str]]:
    return [(m.direction, m.name) for m in out.messages]


def test_good_handshake_records_trace_chain_and_sni(tls_server, lab_certs):
    server = tls_server("good")
    out, events, sock = handshake(server, cafile=str(lab_certs.ca_cert))
    sock.close()
    d = out.outcome.detail
    assert out.outcome.ok, out.outcome.findings
    assert d.version == "TLSv1.3" and d.cipher and d.cipher_bits
    assert d.sni == "localhost" and d.sni_sent is True
    assert d.verified is True and out.verify_code is None and out.hostname_checked_by == "openssl"
    assert names(out)[0] == ("sent", "ClientHello")
    assert ("received", "ServerHello") in names(out)
    assert ("received", "EncryptedExtensions") in names(out)
    assert ("received", "Certificate") in names(out)
    assert ("sent", "Finished") in names(out)
    # every message was emitted as it happened, in the same order
    seen = [(e.direction, e.name) for e in events if isinstance(e, TlsMessageSeen)]
    assert seen[:len(out.messages)] == names(out)
    assert all(a.at_ms <= b.at_ms for a, b in zip(out.messages, out.messages[1:]))
    assert len(out.peer_chain_der) == 2  # leaf + intermediate, as s_server sends them
    assert len(out.verified_chain_der) == 3  # + the root from the CA file
    assert out.outcome.findings == ()
    assert out.stream is not None


def test_tls12_trace_has_server_key_exchange_and_ccs(tls_server, lab_certs):
    server = tls_server("good", tls_version="1.2")
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert))
    sock.close()
    assert out.outcome.detail.version == "TLSv1.2"
    n = names(out)
    for msg in ("ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone"):
        assert ("received", msg) in n
    assert ("sent", "ClientKeyExchange") in n
    assert ("sent", "ChangeCipherSpec") in n and ("received", "ChangeCipherSpec") in n
    assert n.index(("sent", "ClientKeyExchange")) < n.index(("sent", "ChangeCipherSpec"))


def test_alpn_negotiated(tls_server, lab_certs):
    server = tls_server("good", alpn="http/1.1")
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert), alpn="h2,http/1.1")
    sock.close()
    assert out.outcome.detail.alpn == "http/1.1"
    assert out.outcome.detail.alpn_offered == ("h2", "http/1.1")
    assert "alpn http/1.1" in out.outcome.summary


def test_ip_target_sends_no_sni_and_verifies_ip_san(tls_server, lab_certs):
    server = tls_server("good")
    out, _, sock = handshake(server, f"127.0.0.1:{server.port}", cafile=str(lab_certs.ca_cert))
    sock.close()
    assert out.outcome.ok
    assert out.outcome.detail.sni is None and out.outcome.detail.sni_sent is False
    f = finding(out, "no-sni")
    assert f.severity == "warning" and "--sni" in cli_text(f.suggestion) and f.origin == "local"


def test_sni_override_selects_the_servers_second_certificate(tls_server, lab_certs):
    # s_server serves `alt` only for SNI alt.test: the leaf proves which name was sent.
    server = tls_server("good", sni_name="alt.test", sni_cert="alt")
    out, _, sock = handshake(server, f"127.0.0.1:{server.port}", sni="alt.test", cafile=str(lab_certs.ca_cert))
    sock.close()
    assert out.outcome.ok, out.outcome.findings
    assert out.outcome.detail.sni == "alt.test"
    assert out.verify_name == "alt.test"  # IP target + --sni: the name is verified
    from tlsbench.engine.certs.certparse import parse_cert
    assert "alt.test" in parse_cert(out.peer_chain_der[0], 0).subject
    out2, _, sock = handshake(server, f"127.0.0.1:{server.port}", cafile=str(lab_certs.ca_cert))
    sock.close()
    assert "alt.test" not in parse_cert(out2.peer_chain_der[0], 0).subject


def test_sni_override_different_from_host_is_checked_against_the_host(tls_server, lab_certs):
    server = tls_server("good", sni_name="alt.test", sni_cert="alt")
    out, _, sock = handshake(server, f"localhost:{server.port}", sni="alt.test", cafile=str(lab_certs.ca_cert))
    sock.close()
    assert not out.outcome.ok
    assert out.hostname_checked_by == "tlsbench" and out.verify_code == 62
    f = finding(out, "cert-hostname-mismatch")
    assert "DNS:alt.test" in {e.value for e in f.evidence if e.label.startswith("certificate names")}
    assert out.stream is None


def test_no_sni_with_name_is_verified_by_tlsbench(tls_server, lab_certs):
    server = tls_server("good")
    out, _, sock = handshake(server, f"www.lab.test:{server.port}", no_sni=True, cafile=str(lab_certs.ca_cert))
    sock.close()
    assert out.outcome.ok and out.outcome.detail.sni_sent is False
    assert out.hostname_checked_by == "tlsbench" and out.outcome.detail.verified is True
    assert finding(out, "no-sni").severity == "info"


# --- not TLS ---------------------------------------------------------------------------------------

def test_plain_http_port_is_not_tls(plain_http):
    out, _, sock = handshake(plain_http, f"127.0.0.1:{plain_http.port}")
    sock.close()
    assert not out.outcome.ok
    assert codes(out)[0] == "not-tls"
    d = out.outcome.detail
    assert d.first_bytes_text.startswith("HTTP/1.1 400")
    assert d.first_bytes_hex.startswith("485454502f")
    assert d.verified is None  # no certificate was ever seen: verification did not fail, it never ran
    f = finding(out, "not-tls")
    assert "HTTP" in f.title and "--no-tls" in cli_text(f.suggestion)
    assert {e.label for e in f.evidence} >= {"first bytes (hex)", "first bytes (text)"}


@pytest.mark.parametrize("protocol,starttls", [("smtp", "smtp"), ("imap", "imap"), ("pop3", "pop3"),
                                                ("ftp", "ftp"), ("ssh", None)])
def test_banner_server_is_not_tls_and_names_starttls(banner_server, protocol, starttls):
    server = banner_server(protocol)
    out, _, sock = handshake(server, f"127.0.0.1:{server.port}")
    sock.close()
    f = finding(out, "not-tls")
    assert out.outcome.detail.first_bytes_text.startswith(server.banner.decode()[:3])
    if starttls:
        assert f"-starttls {starttls}" in cli_text(f.suggestion)
    else:
        assert "SSH" in f.title


def test_silent_server_is_tls_timeout(silent_server):
    out, _, sock = handshake(silent_server, f"127.0.0.1:{silent_server.port}", timeout=0.5)
    sock.close()
    assert codes(out)[0] == "tls-timeout"
    assert names(out) == [("sent", "ClientHello")]
    assert out.outcome.detail.bytes_received == 0


def test_reset_server_is_connection_reset(reset_server):
    out, _, sock = handshake(reset_server, f"127.0.0.1:{reset_server.port}")
    sock.close()
    f = finding(out, "connection-reset")
    assert "right after the ClientHello" in f.title
    assert out.outcome.detail.error_reason in ("ECONNRESET", "EOF")


def test_cancel_from_another_thread_interrupts_the_handshake(silent_server):
    spec = build_spec(f"127.0.0.1:{silent_server.port}", timeout=30)
    token = CancelToken()
    sock = socket.create_connection((silent_server.host, silent_server.port), timeout=5)
    token.attach(sock)
    timer = threading.Timer(0.2, token.cancel)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            run_tls(StageContext(spec=spec, emit=lambda e: None, cancel=token), sock)
    finally:
        timer.cancel()
        sock.close()


# --- what the server refused --------------------------------------------------------------------------

def test_nginx_rejects_missing_sni(nginx_sni_strict, lab_certs):
    out, _, sock = handshake(nginx_sni_strict, f"127.0.0.1:{nginx_sni_strict.port}", cafile=str(lab_certs.ca_cert))
    sock.close()
    f = finding(out, "sni-required")
    assert out.outcome.detail.alert == "unrecognized_name"
    assert out.outcome.detail.alert_direction == "received"
    assert "you connected to an IP address" in f.explanation
    assert "--pin 127.0.0.1" in cli_text(f.suggestion)
    assert ("received", "alert: unrecognized_name") in names(out)
    assert "no-sni" not in codes(out)  # the error already says it


def test_nginx_accepts_the_name_when_sni_is_sent(nginx_sni_strict, lab_certs):
    out, _, sock = handshake(nginx_sni_strict, f"www.lab.test:{nginx_sni_strict.port}", pin="127.0.0.1",
                             cafile=str(lab_certs.ca_cert))
    sock.close()
    assert out.outcome.ok and out.outcome.detail.sni == "www.lab.test"


def test_servername_fatal_rejects_unknown_name(tls_server, lab_certs):
    server = tls_server("good", sni_name="alt.test", sni_cert="alt", sni_fatal=True)
    out, _, sock = handshake(server, sni="other.test", insecure=True)
    sock.close()
    f = finding(out, "sni-required")
    assert "other.test" in f.title
    assert out.outcome.detail.alert == "unrecognized_name"


@pytest.mark.parametrize("server_version,client", [("1.2", {"tls_min": "1.3"}), ("1.3", {"tls_max": "1.2"})])
def test_version_mismatch(tls_server, lab_certs, server_version, client):
    server = tls_server("good", tls_version=server_version)
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert), **client)
    sock.close()
    f = finding(out, "tls-version-mismatch")
    assert out.outcome.detail.alert == "protocol_version"
    offered = next(e.value for e in f.evidence if e.label == "offered")
    assert offered == ("TLS 1.3" if "tls_min" in client else "TLS 1.2")


def test_no_shared_cipher(tls_server, lab_certs):
    server = tls_server("good", tls_version="1.2", cipher="ECDHE-ECDSA-AES256-GCM-SHA384")
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert), tls_max="1.2", ciphers="ECDHE-ECDSA-AES128-SHA")
    sock.close()
    f = finding(out, "no-shared-cipher")
    assert out.outcome.detail.alert == "handshake_failure"
    assert any("1 from the cipher list" in e.value for e in f.evidence)


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_client_cert_required(tls_server, lab_certs, version):
    server = tls_server("good", client_ca=True, tls_version=version)
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert))
    sock.close()
    f = finding(out, "client-cert-required")
    assert "--cert" in cli_text(f.suggestion)
    assert ("received", "CertificateRequest") in names(out)
    assert out.outcome.detail.alert == ("certificate_required" if version == "1.3" else "handshake_failure")
    assert not out.outcome.ok and out.stream is None


def test_client_cert_given_is_accepted(tls_server, lab_certs):
    server = tls_server("good", client_ca=True)
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert), cert=str(lab_certs.client.cert),
                             key=str(lab_certs.client.key))
    sock.close()
    assert out.outcome.ok, out.outcome.findings
    assert ("sent", "Certificate") in names(out) and ("sent", "CertificateVerify") in names(out)


def test_old_version_is_weak(tls_server, lab_certs):
    server = tls_server("good", tls_version="1.1", cipher="DEFAULT:@SECLEVEL=0")
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert), tls_min="1.0")
    sock.close()
    assert out.outcome.ok, out.outcome.findings
    assert out.outcome.detail.version == "TLSv1.1"
    assert finding(out, "weak-tls-version").severity == "warning"


# --- certificate verification ----------------------------------------------------------------------------

@pytest.mark.parametrize("cert,code,verify_code", [
    ("expired", "cert-expired", 10),
    ("not_yet_valid", "cert-not-yet-valid", 9),
    ("wrong_host", "cert-hostname-mismatch", 62),
    ("self_signed", "cert-self-signed", 18),
])
def test_certificate_faults(tls_server, lab_certs, cert, code, verify_code):
    server = tls_server(cert)
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert))
    sock.close()
    assert not out.outcome.ok
    assert out.verify_code == verify_code
    assert codes(out)[0] == code
    assert out.outcome.detail.verified is False
    assert out.peer_chain_der, "the chain of a failed verification is still kept"
    assert out.verified_chain_der == ()
    # tlsbench told the server why it hung up, and the trace shows it
    assert any(d == "sent" and n.startswith("alert: ") for d, n in names(out))


def test_missing_intermediate_is_incomplete_chain(tls_server, lab_certs):
    server = tls_server("good", send_chain=False)
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert))
    sock.close()
    assert out.verify_code == 20 and len(out.peer_chain_der) == 1
    f = finding(out, "cert-incomplete-chain")
    assert any(e.label == "certificates sent" and e.value == "1" for e in f.evidence)
    assert any("Intermediate" in e.value for e in f.evidence if e.label == "issuer not found")
    assert any(e.value == "none in the certificate" for e in f.evidence if e.label.startswith("issuer download"))


def test_chain_from_an_unknown_ca_is_untrusted(tls_server, lab_certs):
    # The server sends its full chain, but the client trusts only another CA.
    server = tls_server("good")
    out, _, sock = handshake(server, cafile=str(lab_certs.other_ca_cert))
    sock.close()
    assert out.verify_code == 20 and len(out.peer_chain_der) == 2
    f = finding(out, "cert-untrusted")
    assert "Root CA" in f.explanation


def test_insecure_connects_and_warns(tls_server):
    server = tls_server("self_signed")
    out, _, sock = handshake(server, insecure=True)
    sock.close()
    assert out.outcome.ok and out.outcome.detail.verified is None
    f = finding(out, "verify-disabled")
    assert f.severity == "warning" and f.origin == "local"
    assert out.verified_chain_der == ()


# --- through the runner -------------------------------------------------------------------------------

def _probe(target, **options):
    from tlsbench.engine.runner import run_probe

    events: list = []
    result = run_probe(build_spec(target, **options), on_event=events.append)
    return result, events


def test_runner_expired_certificate_fails_and_still_shows_the_chain(tls_server, lab_certs):
    server = tls_server("expired")
    result, events = _probe(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    assert not result.ok
    assert result.stage("tls").status == "failed" and result.stage("chain").status == "failed"
    assert result.codes()[0] == "cert-expired"
    assert result.chain.certificates[0].status == "expired"
    js = result.to_json_dict()
    assert js["tls"]["messages"][0]["name"] == "ClientHello"
    assert js["chain_verification"]["verify_code"] == 10
    assert any(isinstance(e, TlsMessageSeen) and e.name == "alert: certificate_expired" for e in events)


def test_runner_not_tls_and_sni_required(plain_http, nginx_sni_strict, lab_certs):
    result, _ = _probe(f"127.0.0.1:{plain_http.port}")
    assert result.codes()[0] == "not-tls" and result.stage("chain").status == "skipped"
    result, _ = _probe(f"127.0.0.1:{nginx_sni_strict.port}", cafile=str(lab_certs.ca_cert))
    assert result.codes()[0] == "sni-required"
    result, _ = _probe(f"www.lab.test:{nginx_sni_strict.port}", pin="127.0.0.1", cafile=str(lab_certs.ca_cert),
                       http=True)
    assert result.ok, result.findings
    assert result.tls.sni == "www.lab.test" and result.stage("app").status == "ok"


def test_runner_good_probe_with_http(tls_server, lab_certs):
    server = tls_server("good", alpn="http/1.1")
    result, _ = _probe(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), alpn="http/1.1", http=True)
    assert result.ok and result.findings == ()
    assert result.tls.alpn == "http/1.1" and result.tls.verified is True
    assert [c.position for c in result.chain.certificates] == [0, 1]
    assert result.stage("app").detail.status_line.startswith("HTTP/1.0 200")


def test_self_signed_root_in_chain(tls_server, lab_certs, tmp_path):
    from tlsbench.lab.certs import CertFiles

    issuers = tmp_path / "inter-and-root.pem"
    issuers.write_bytes(lab_certs.intermediate_cert.read_bytes() + lab_certs.ca_cert.read_bytes())
    files = CertFiles(lab_certs.good.cert, lab_certs.good.key, lab_certs.good.chain, issuers, lab_certs.good.names)
    server = tls_server(files)
    out, _, sock = handshake(server, cafile=str(lab_certs.other_ca_cert))
    sock.close()
    assert out.verify_code == 19 and len(out.peer_chain_der) == 3
    f = finding(out, "cert-self-signed")
    assert "root" in f.title
    assert any(e.label == "self-signed root sent" and "Root CA" in e.value for e in f.evidence)


def test_server_refuses_an_old_version(tls_server, lab_certs):
    server = tls_server("good")
    out, _, sock = handshake(server, cafile=str(lab_certs.ca_cert), tls_max="1.1")
    sock.close()
    f = finding(out, "tls-version-mismatch")
    assert next(e.value for e in f.evidence if e.label == "offered") == "TLS 1.0 to TLS 1.1"
    # OpenSSL 3.0 refuses a TLS 1.1-only ClientHello with internal_error, not protocol_version
    assert out.outcome.detail.alert_direction == "received" and f.origin == "peer"
    assert any(e.label == "alert received" for e in f.evidence)

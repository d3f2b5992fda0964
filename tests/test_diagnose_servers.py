"""The differential diagnosis against real servers: every variant it claims, proved on a server that needs it.

SNI-strict nginx by IP, a TLS 1.3-only s_server, a leaf from a private CA and one whose server
leaves out the intermediate (each with an AIA URL served by a local HTTP server), squid with
ssl-bump against a direct connection, a plain HTTP port, a banner port, the system store against a
CA file, and a silent port for the budget.
"""

from __future__ import annotations

import ssl
import time

import pytest

from tlsbench.engine.why import diagnose
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


def diagnosed(spec, **options):
    first = run_probe(spec)
    return first, diagnose(spec, first, **options)


def outcome(diagnosis, key):
    found = diagnosis.outcome(key)
    assert found is not None, [o.key for o in diagnosis.outcomes]
    return found


def test_sni_strict_nginx_by_ip_works_with_the_suggested_name(nginx_sni_strict, lab_certs):
    spec = build_spec(f"127.0.0.1:{nginx_sni_strict.port}", cafile=str(lab_certs.ca_cert))
    first, d = diagnosed(spec, suggest_sni=("www.lab.test",))
    assert "sni-required" in first.codes()
    sent = outcome(d, "sni=www.lab.test")
    assert sent.status == "ok" and sent.result.tls.sni == "www.lab.test" and sent.result.chain.verified
    assert sent.variant.changes == {"sni_mode": "override", "sni": "www.lab.test"}
    # the versions change nothing for a server that wants a name
    for key in ("tls-1.2", "tls-1.3"):
        assert outcome(d, key).status == "failed" and "sni-required" in outcome(d, key).result.codes()
    assert d.works == "sni=www.lab.test"
    assert d.conclusion.startswith("It works with SNI www.lab.test") and "picks its certificate" in d.conclusion


def test_sni_strict_nginx_without_a_name_asks_for_one(nginx_sni_strict, lab_certs):
    spec = build_spec(f"127.0.0.1:{nginx_sni_strict.port}", cafile=str(lab_certs.ca_cert))
    _, d = diagnosed(spec)
    assert not [o for o in d.outcomes if o.ok]
    assert d.works is None and "--diagnose-sni NAME" in d.conclusion


def test_sni_sent_to_a_fatal_server_no_sni_works(tls_server, lab_certs):
    # s_server -servername_fatal aborts on any other name but serves its default certificate without SNI
    server = tls_server("good", sni_name="only.lab.test", sni_cert="alt", sni_fatal=True)
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    first, d = diagnosed(spec)
    assert not first.ok
    none = outcome(d, "sni-none")
    assert none.status == "ok" and none.result.tls.sni_sent is False
    assert d.works == "sni-none"


def test_tls13_only_server_with_tls_max_12(tls_server, lab_certs):
    server = tls_server("good", tls_version="1.3")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), tls_max="1.2")
    first, d = diagnosed(spec)
    assert "tls-version-mismatch" in first.codes()
    assert d.outcome("tls-1.2") is None  # the first run already offered exactly TLS 1.2
    only13 = outcome(d, "tls-1.3")
    assert only13.status == "ok" and only13.result.tls.version == "TLSv1.3"
    assert outcome(d, "tls-legacy").status == "failed"
    assert d.works == "tls-1.3" and "TLS 1.3" in d.conclusion and "did not offer" in d.conclusion


def test_after_a_success_the_variants_tell_what_the_server_accepts(tls_server, lab_certs):
    server = tls_server("good", tls_version="1.3")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    first, d = diagnosed(spec)
    assert first.ok
    assert outcome(d, "tls-1.3").status == "ok"
    assert outcome(d, "tls-1.2").status == "failed"
    assert "tls-version-mismatch" in outcome(d, "tls-1.2").result.codes()
    assert d.conclusion.startswith("It works as composed") and "TLS 1.2 only (tls-version-mismatch)" in d.conclusion
    assert d.works is None


def test_alpn_and_ciphers_given_are_tried_without(tls_server, lab_certs):
    server = tls_server("good", no_tls1_3=True, cipher="ECDHE-ECDSA-AES128-GCM-SHA256")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), ciphers="AES256-SHA",
                      alpn="h2")
    first, d = diagnosed(spec)
    assert not first.ok
    assert outcome(d, "ciphers-default").status == "ok"
    assert outcome(d, "alpn-off").status == "failed"  # the cipher list is still the one given
    assert d.works == "ciphers-default" and "--ciphers AES256-SHA" in d.conclusion


@pytest.fixture
def issuer_files(lab_certs, tmp_path):
    """A local HTTP server serving the lab intermediate (DER) and a private root (PEM), plus those CAs."""
    from tlsbench.lab.certs import make_signing_ca
    from tlsbench.lab.tiny_servers import FileServer

    private = make_signing_ca(tmp_path / "private", "private", "tlsbench Private Root CA")
    files = {"/lab-intermediate.der": ssl.PEM_cert_to_DER_cert(lab_certs.intermediate_cert.read_text()),
             "/private-root.crt": private[0].read_bytes()}
    with FileServer(files) as server:
        yield server, private


def test_missing_intermediate_is_told_by_the_fetched_issuer(tls_server, lab_certs, issuer_files, tmp_path):
    from tlsbench.lab.certs import issue_leaf

    files, _ = issuer_files
    leaf = issue_leaf(lab_certs, ("localhost", "127.0.0.1"), tmp_path, "aia",
                      ca_issuers_url=files.url("/lab-intermediate.der"))
    server = tls_server(leaf, send_chain=False)
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    first, d = diagnosed(spec)
    assert not first.ok and first.chain is not None and len(first.chain.certificates) == 1
    looked = outcome(d, "issuer")
    assert looked.status == "ok" and looked.result.chain.verified is True
    assert [f.code for f in looked.findings] == ["cert-incomplete-chain"]
    assert "Lab Intermediate" in looked.note and files.url("/lab-intermediate.der") in looked.note
    evidence = {e.label: e.value for e in looked.findings[0].evidence}
    assert evidence["issuer 1 URL (AIA caIssuers)"] == files.url("/lab-intermediate.der")
    assert "(DER," in evidence["issuer 1 fetched"]
    assert not looked.variant.adoptable
    assert d.conclusion.startswith("The server leaves out its intermediate certificate")
    assert any(seen.startswith(b"GET /lab-intermediate.der ") for seen in files.seen.first_bytes)


def test_untrusted_private_ca_is_told_by_the_fetched_issuer(tls_server, lab_certs, issuer_files, tmp_path):
    from tlsbench.lab.certs import issue_leaf

    files, private = issuer_files
    leaf = issue_leaf(lab_certs, ("localhost", "127.0.0.1"), tmp_path, "private-leaf",
                      ca_issuers_url=files.url("/private-root.crt"), issuer=private)
    server = tls_server(leaf)
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    first, d = diagnosed(spec)
    assert not first.ok
    looked = outcome(d, "issuer")
    assert looked.status == "failed" and [f.code for f in looked.findings] == ["cert-untrusted"]
    assert "self-signed root" in looked.findings[0].explanation
    assert d.conclusion.startswith("The certificate comes from a CA that is not trusted here")


def test_an_aia_url_that_serves_nothing_is_a_failed_look(tls_server, lab_certs, issuer_files, tmp_path):
    from tlsbench.lab.certs import issue_leaf

    files, _ = issuer_files
    leaf = issue_leaf(lab_certs, ("localhost",), tmp_path, "gone", ca_issuers_url=files.url("/gone.der"))
    server = tls_server(leaf, send_chain=False)
    _, d = diagnosed(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    looked = outcome(d, "issuer")
    assert looked.status == "failed" and looked.result is None and "HTTP 404" in looked.note


def test_system_store_versus_the_ca_file(tls_server, lab_certs, monkeypatch):
    # The "system store" of this test is the lab CA (OpenSSL reads SSL_CERT_FILE); the CA file given is wrong.
    monkeypatch.setenv("SSL_CERT_FILE", str(lab_certs.ca_cert))
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.other_ca_cert))
    first, d = diagnosed(spec)
    assert not first.ok
    system = outcome(d, "trust-system")
    assert system.status == "ok" and system.variant.changes == {"verify": "system"}
    assert d.works == "trust-system" and "does not hold the CA" in d.conclusion


def test_squid_bump_is_tls_intercepted_and_direct_works(squid_bump, tls_server, lab_certs):
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", proxies=[squid_bump.url], cafile=str(lab_certs.ca_cert))
    first, d = diagnosed(spec)
    assert not first.ok and first.chain is not None
    direct = outcome(d, "direct")
    assert direct.status == "ok" and direct.variant.changes == {"proxies": []}
    found = [f for f in d.findings if f.code == "tls-intercepted"]
    assert len(found) == 1
    evidence = {e.label: e.value for e in found[0].evidence}
    assert evidence["leaf through the proxy (SHA-256)"] == first.chain.certificates[0].sha256
    assert evidence["leaf direct (SHA-256)"] == direct.result.chain.certificates[0].sha256
    assert evidence["leaf through the proxy (SHA-256)"] != evidence["leaf direct (SHA-256)"]
    assert "Intercepting Proxy CA" in evidence["issuer through the proxy"]
    assert "Lab Intermediate CA" in evidence["issuer direct"]
    assert d.conclusion.startswith("The proxy intercepts TLS") and "going direct works" in d.conclusion
    assert d.works == "direct"


def test_squid_bump_trusted_still_shows_the_interception(squid_bump, tls_server, lab_certs):
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", proxies=[squid_bump.url], cafile=str(squid_bump.bump_ca_cert))
    first, d = diagnosed(spec)
    assert first.ok
    assert "tls-intercepted" in [f.code for f in d.findings]
    assert outcome(d, "direct").status == "failed"  # the lab's real leaf is not trusted by the bump CA
    assert d.conclusion.startswith("The proxy intercepts TLS") and d.works is None


def test_plain_squid_is_not_intercepting(squid_proxy, tls_server, lab_certs):
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", proxies=[squid_proxy.url], cafile=str(lab_certs.ca_cert))
    first, d = diagnosed(spec)
    assert first.ok and outcome(d, "direct").status == "ok"
    assert d.findings == () and d.conclusion.startswith("It works as composed")


def test_plain_http_port(plain_http):
    spec = build_spec(f"127.0.0.1:{plain_http.port}")
    first, d = diagnosed(spec)
    assert "not-tls" in first.codes()
    words = outcome(d, "first-words")
    assert words.status == "ok" and words.result.stage("app").summary.startswith("silence")
    assert words.result.stage("tls").status == "skipped"
    http = outcome(d, "plain-http")
    assert http.status == "ok" and http.result.stage("app").detail.status_line == "HTTP/1.1 200 OK"
    assert d.works == "plain-http" and "speaks plain HTTP" in d.conclusion


def test_banner_port(banner_server):
    server = banner_server("smtp")
    first, d = diagnosed(build_spec(f"127.0.0.1:{server.port}"))
    assert "not-tls" in first.codes()
    words = outcome(d, "first-words")
    detail = words.result.stage("app").detail
    assert detail.mode == "read" and detail.first_bytes_text == "220 mail.lab.test ESMTP ready\r\n"
    # Three connections: the first run's (a ClientHello), the first-words variant's, which sent nothing at
    # all (its entry is the end of input, recorded by the server's thread when the variant closed), and
    # STARTTLS auto's, which answered the banner with EHLO.
    for _ in range(200):
        if len(server.seen.first_bytes) >= 3:
            break
        time.sleep(0.01)
    seen = sorted(server.seen.first_bytes)
    assert detail.request == "" and seen[0] == b"" and len(seen) == 3
    assert any(b.startswith(b"EHLO ") for b in seen)
    assert outcome(d, "starttls-auto") is not None
    assert d.outcome("plain-http") is None  # a banner is not an HTTP server
    assert "SMTP server greeting" in d.conclusion and "STARTTLS" in d.conclusion


def test_silent_port_within_the_budget(silent_server):
    budget = 1.5
    spec = build_spec(f"127.0.0.1:{silent_server.port}", timeout=0.5)
    first = run_probe(spec)
    assert "tls-timeout" in first.codes()
    started = time.monotonic()
    # Stage timeouts longer than the budget: every variant is cut by it.
    d = diagnose(spec._replace(timeout=10), first, budget=budget, stage_timeout=5)
    took = time.monotonic() - started
    assert took < budget + 1.0, took
    assert d.outcomes and all(o.status == "not-run" for o in d.outcomes), [(o.key, o.status) for o in d.outcomes]
    assert all("budget" in o.note for o in d.outcomes)
    assert not any(o.status == "failed" for o in d.outcomes)
    assert "budget" in d.conclusion and d.counts()["not-run"] == len(d.outcomes)


def test_silent_port_with_time_enough(silent_server):
    spec = build_spec(f"127.0.0.1:{silent_server.port}", timeout=0.5)
    first, d = diagnosed(spec, budget=8, stage_timeout=0.5)
    words = outcome(d, "first-words")
    assert words.status == "ok" and words.result.stage("app").summary == "silence: nothing in 0.5 s"
    assert outcome(d, "plain-http").status == "failed"
    assert "silent even in plain text" in d.conclusion


def test_cancel_stops_the_diagnosis(silent_server):
    import threading

    from tlsbench.engine.cancel import CancelToken

    spec = build_spec(f"127.0.0.1:{silent_server.port}", timeout=0.5)
    first = run_probe(spec)
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    d = diagnose(spec, first, budget=30, stage_timeout=20, cancel=token)
    assert time.monotonic() - started < 5
    assert d.cancelled and all(o.status == "cancelled" for o in d.outcomes)
    assert "cancelled" in d.conclusion


def test_a_server_of_obsolete_versions_only(tls_server, lab_certs):
    # OpenSSL 3 refuses TLS 1.0/1.1 at its default security level: the lab server asks for level 0.
    server = tls_server("good", tls_version="1.1", cipher="DEFAULT:@SECLEVEL=0")
    first, d = diagnosed(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    assert not first.ok
    legacy = outcome(d, "tls-legacy")
    assert legacy.status == "ok" and legacy.result.tls.version == "TLSv1.1"
    assert outcome(d, "tls-1.2").status == "failed" and outcome(d, "tls-1.3").status == "failed"
    assert d.works == "tls-legacy" and "obsolete" in d.conclusion


def test_alpn_refused_by_nginx_works_without(nginx_sni_strict, lab_certs):
    # nginx ends a handshake whose ALPN offer it cannot meet (alert no_application_protocol).
    spec = build_spec(f"127.0.0.1:{nginx_sni_strict.port}", cafile=str(lab_certs.ca_cert), sni="www.lab.test",
                      alpn="tlsbench-none/1")
    first, d = diagnosed(spec)
    assert first.tls.alert == "no_application_protocol"
    off = outcome(d, "alpn-off")
    assert off.status == "ok" and off.result.tls.alpn is None and off.variant.changes == {"alpn": []}
    assert outcome(d, "tls-1.3").status == "failed"  # the offer, not the version
    assert d.works == "alpn-off" and "tlsbench-none/1" in d.conclusion


def test_plain_http_to_a_tls_port_tries_tls(nginx_sni_strict, lab_certs, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(lab_certs.ca_cert))  # the "system store" trusts the lab
    spec = build_spec(f"www.lab.test:{nginx_sni_strict.port}", pin="127.0.0.1", tls=False, http=True)
    first, d = diagnosed(spec)
    assert first.stage("app").detail.status_line.startswith("HTTP/1.1 400")
    on = outcome(d, "tls-on")
    assert on.status == "ok" and on.result.tls.sni == "www.lab.test" and on.result.chain.verified
    assert d.works == "tls-on"
    assert d.conclusion.startswith("The port speaks TLS: the plain request was answered")
    assert "it works with TLS on" in d.conclusion

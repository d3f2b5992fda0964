"""The diagnosis from evidence alone: which variants the rules choose, what the verdict says, how an
issuer is read and fetched. Results are built from records, no server (the real-server proofs are in
test_diagnose_servers.py)."""

from __future__ import annotations

import pytest

from tlsbench.engine.records.details import TlsDetail
from tlsbench.engine.why import variants
from tlsbench.engine.why.facts import facts_of
from tlsbench.engine.why.model import Diagnosis, VariantOutcome
from tlsbench.engine.why.verdict import conclude
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.result import ProbeResult, SocketInfo, StageRecord, TlsMessage
from tlsbench.engine.spec import build_spec


def result(spec, codes=(), failed="tls", first_bytes=b"", alert=None, hello=False) -> ProbeResult:
    """A run that failed at `failed` with findings `codes` (ok when `failed` is None)."""
    names = ["resolve", "tcp", "proxy", "tls", "chain", "app"]
    stages, seen_failure = [], False
    for name in names:
        status = "skipped" if seen_failure else ("failed" if name == failed else "ok")
        seen_failure = seen_failure or name == failed
        stages.append(StageRecord(name, status, 0.0, 1.0, key=name))
    tls = TlsDetail(sni=spec.sni, sni_sent=spec.sni is not None, first_bytes_hex=first_bytes.hex() or None,
                    alert=alert)
    messages = (TlsMessage(1.0, "received", "handshake", "ServerHello", "TLS 1.2", 80),) if hello else ()
    findings = tuple(Finding(c, "error", c, "", "", stage="tls") for c in codes)
    return ProbeResult(failed is None, spec.target, tuple(stages), SocketInfo(), tls, messages, None, findings, 2.0)


def keys(spec, first, **kw) -> list[str]:
    chosen, _later = variants.choose(facts_of(spec, first, **kw))
    return [v.key for v in chosen]


def test_versions_as_really_offered():
    assert variants.versions({}) == ("1.2", "1.3")
    assert variants.versions({"tls_max": "1.1"}) == ("1.0", "1.1")
    assert variants.versions({"tls_min": "1.3", "tls_max": "any"}) == ("1.3", "1.3")
    assert variants.versions_words({"tls_max": "1.2"}) == "TLS 1.2"


def test_an_http_answer_to_tls_tries_plain_http_and_the_first_words():
    spec = build_spec("example.com:8080")
    assert keys(spec, result(spec, ["not-tls"], first_bytes=b"HTTP/1.1 400 Bad Request\r\n\r\n")) == [
        "first-words", "plain-http"]


def test_a_banner_is_not_tried_as_http():
    spec = build_spec("example.com:25")
    assert keys(spec, result(spec, ["not-tls"], first_bytes=b"220 mx ESMTP\r\n")) == ["first-words"]


def test_a_silent_peer_gets_the_smaller_hellos_and_the_plain_looks():
    spec = build_spec("example.com:443")
    assert keys(spec, result(spec, ["tls-timeout"])) == ["tls-1.3", "tls-1.2", "first-words", "plain-http"]


def test_an_alert_after_a_server_hello_is_not_silence():
    spec = build_spec("example.com:443", alpn="h2")
    chosen = keys(spec, result(spec, ["tls-alert"], alert="no_application_protocol", hello=True))
    assert chosen == ["sni-none", "tls-1.3", "tls-1.2", "tls-legacy", "alpn-off"]


def test_sni_names_the_user_suggests_come_first_and_invalid_ones_are_dropped():
    spec = build_spec("10.0.0.1:443")
    first = result(spec, ["sni-required"], alert="unrecognized_name")
    chosen, _ = variants.choose(facts_of(spec, first, suggested_sni=("www.example.com", "*.bad", "a..b")))
    named = [v for v in chosen if v.key.startswith("sni=")]
    assert [v.key for v in named] == ["sni=www.example.com"]
    assert named[0].spec.sni == "www.example.com" and named[0].spec.host == "10.0.0.1"


def test_trust_variants_follow_the_verification_asked_for(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    with_file = build_spec("example.com:443", cafile=str(ca))
    assert "trust-system" in keys(with_file, result(with_file, ["cert-untrusted"], failed="chain"))
    system = build_spec("example.com:443")
    assert "trust-system" not in keys(system, result(system, ["cert-untrusted"], failed="chain"))


def test_a_proxied_success_is_compared_with_direct():
    spec = build_spec("example.com:443", proxies=["http://127.0.0.1:3128"])
    chosen = keys(spec, result(spec, failed=None))
    assert chosen[0] == "direct" and "first-words" not in chosen


def test_plain_tcp_that_got_no_answer_tries_tls():
    spec = build_spec("example.com:443", tls=False, http=True)
    assert "tls-on" in keys(spec, result(spec, ["app-no-response"], failed="app"))


def test_a_banner_proposes_starttls_auto_and_never_an_option_the_build_lacks(monkeypatch):
    spec = build_spec("example.com:25")
    first = result(spec, ["not-tls"], first_bytes=b"220 mx ESMTP\r\n")
    f = facts_of(spec, first)
    rule = next(r for r in variants.RULES if r.key == "starttls-auto")
    assert rule.when(f)  # a banner was seen ...
    (proposal,) = variants.proposals(rule, f)  # ... and --starttls exists: try it
    assert proposal.changes == {"tls": True, "starttls": "auto"} and proposal.spec.starttls.protocol == "auto"
    from tlsbench.engine import options

    monkeypatch.setattr(options, "BY_NAME", {k: v for k, v in options.BY_NAME.items() if k != "starttls"})
    assert variants.proposals(rule, f) == []  # a variant over an option this build lacks: never offered


def test_one_rule_is_one_variant(monkeypatch):
    spec = build_spec("example.com:443")
    first = result(spec, ["tls-timeout"])
    extra = variants.Rule("patient", "a longer timeout", {"timeout": 30.0}, lambda f: f.has("tls-timeout"),
                          "the server is slow")
    monkeypatch.setattr(variants, "RULES", (*variants.RULES, extra))
    chosen, _ = variants.choose(facts_of(spec, first))
    added = [v for v in chosen if v.key == "patient"]
    assert len(added) == 1 and added[0].spec.timeout == 30.0 and added[0].changes == {"timeout": 30.0}


def _outcome(spec, key, status, codes=(), kind="fix", label=None, findings=()):
    from tlsbench.engine.why.model import Variant

    variant = Variant(key, label or key, {}, spec, f"meaning of {key}", kind)
    run = None if status == "not-run" else result(spec, codes, failed=None if status == "ok" else "tls")
    return VariantOutcome(variant, status, run, "not started: the 10 s budget ran out" if status == "not-run"
                          else "", 0.0, 1.0, tuple(findings))


def test_the_first_working_change_in_the_table_is_the_conclusion():
    spec = build_spec("example.com:443")
    f = facts_of(spec, result(spec, ["tls-alert"]))
    outs = [_outcome(spec, "sni-none", "failed", ["tls-alert"], label="no SNI"),
            _outcome(spec, "tls-1.3", "ok", label="TLS 1.3 only"),
            _outcome(spec, "tls-1.2", "ok", label="TLS 1.2 only")]
    sentence, works = conclude(f, outs, [], budget=10)
    assert works == "tls-1.3"
    assert sentence == "It works with TLS 1.3 only: meaning of tls-1.3 (also works: TLS 1.2 only)."


def test_nothing_run_within_the_budget_concludes_nothing():
    spec = build_spec("example.com:443")
    f = facts_of(spec, result(spec, ["tls-alert"]))
    sentence, works = conclude(f, [_outcome(spec, "tls-1.3", "not-run")], [], budget=2)
    assert works is None and "2 s budget ran out" in sentence


def test_interception_comes_before_everything():
    spec = build_spec("example.com:443", proxies=["http://127.0.0.1:3128"])
    f = facts_of(spec, result(spec, ["cert-untrusted"], failed="chain"))
    found = Finding("tls-intercepted", "warning", "t", "e", "s", evidence=(
        Evidence("issuer through the proxy", "CN=Proxy CA"), Evidence("issuer direct", "CN=Real CA")))
    outs = [_outcome(spec, "direct", "ok", findings=[found]), _outcome(spec, "tls-1.3", "ok")]
    sentence, works = conclude(f, outs, [found], budget=10)
    assert sentence.startswith("The proxy intercepts TLS") and "'CN=Proxy CA'" in sentence
    assert works == "direct"


def test_the_json_of_a_diagnosis():
    spec = build_spec("example.com:443")
    outs = (_outcome(spec, "tls-1.3", "ok"), _outcome(spec, "tls-1.2", "not-run"))
    d = Diagnosis("sentence", outs, (), 10.0, 3.0, 1234.5678, False, "tls-1.3")
    body = d.to_dict()
    assert body["conclusion"] == "sentence" and body["works"] == "tls-1.3" and body["elapsed_ms"] == 1234.568
    assert body["counts"] == {"ok": 1, "failed": 0, "not-run": 1, "cancelled": 0}
    first, second = body["variants"]
    assert first["result"]["schema"] == 3 and first["status"] == "ok"
    assert first["command"] == "tlsbench probe example.com:443"
    assert second["result"] is None and second["note"].startswith("not started")
    assert set(first) == {"key", "label", "kind", "changes", "command", "adoptable", "status", "timed_out",
                          "timeout_s", "note", "started_ms", "elapsed_ms", "summary", "key_finding", "findings",
                          "result"}


# --- the issuer: reading and fetching ----------------------------------------------------------

def test_an_issuer_is_read_as_der_pem_or_pkcs7(lab_certs):
    import ssl

    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
    from cryptography import x509

    from tlsbench.engine.why.issuer import FetchError, read_certificate

    pem = lab_certs.intermediate_cert.read_bytes()
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    bundle = pkcs7.serialize_certificates([x509.load_pem_x509_certificate(pem)], Encoding.DER)
    for body, form in ((der, "DER"), (pem, "PEM"), (bundle, "PKCS#7")):
        cert, got = read_certificate(body)
        assert got == form and "Intermediate" in cert.subject.rfc4514_string()
    with pytest.raises(FetchError, match="did not serve a certificate"):
        read_certificate(b"<html>not found</html>")


def test_the_fetch_is_bounded(silent_server):
    import time

    from tlsbench.engine.why.issuer import MAX_BYTES, FetchError, fetch
    from tlsbench.lab.tiny_servers import FileServer

    with FileServer({"/big": b"x" * (MAX_BYTES + 10), "/ok": b"fine"}) as files:
        assert fetch(files.url("/ok"))[0] == b"fine"
        with pytest.raises(FetchError, match="more than 64 KiB"):
            fetch(files.url("/big"))
        with pytest.raises(FetchError, match="HTTP 404"):
            fetch(files.url("/missing"))
    with pytest.raises(FetchError, match="not an http:// URL"):
        fetch("https://example.com/ca.crt")
    started = time.monotonic()
    with pytest.raises(FetchError, match="could not be fetched"):
        fetch(f"http://{silent_server.address}/ca.der", timeout=0.3)
    assert time.monotonic() - started < 3


def test_the_direct_line_turns_the_environments_proxy_off():
    from tlsbench.engine.why.model import Variant, probe_line

    spec = build_spec("example.com:443")
    direct = Variant("direct", "direct, no proxy", {"proxies": []}, spec, "")
    assert probe_line(direct, environ={}) == "tlsbench probe example.com:443"
    assert probe_line(direct, environ={"https_proxy": "http://10.0.0.1:3128"}) == \
        "tlsbench probe example.com:443 -x ''"
    assert probe_line(direct, environ={"https_proxy": "http://10.0.0.1:3128", "no_proxy": "example.com"}) == \
        "tlsbench probe example.com:443"


def test_a_plain_answer_that_only_a_tls_port_gives():
    from tlsbench.engine.why.verdict import plain_answer_says_tls

    spec = build_spec("example.com:443", tls=False, http=True)
    alert = result(spec, failed=None, first_bytes=bytes.fromhex("15030100020246"))
    nginx = result(spec, failed=None, first_bytes=b"HTTP/1.1 400 Bad Request\r\n\r\n<html>The plain HTTP request was "
                                                  b"sent to HTTPS port</html>")
    fine = result(spec, failed=None, first_bytes=b"HTTP/1.1 200 OK\r\n\r\nhello")
    assert plain_answer_says_tls(facts_of(spec, alert)) == "the plain request was answered with a TLS record"
    assert "a TLS server's complaint" in plain_answer_says_tls(facts_of(spec, nginx))
    assert plain_answer_says_tls(facts_of(spec, fine)) is None


def test_a_handshake_that_only_fails_on_the_certificate_is_said_so():
    spec = build_spec("10.0.0.1:443")
    f = facts_of(spec, result(spec, ["sni-required"], alert="unrecognized_name"))
    named = _outcome(spec, "sni=a.example", "failed", ["cert-hostname-mismatch"], label="SNI a.example")
    sentence, works = conclude(f, [named, _outcome(spec, "tls-1.3", "failed", ["sni-required"])], [], budget=10)
    assert works is None
    assert sentence.startswith("With SNI a.example the handshake completes and only the certificate fails "
                               "(cert-hostname-mismatch)")


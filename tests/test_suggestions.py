"""Suggestions from evidence alone (bytes, alerts, verify codes, errnos), worded by both front-ends.

Each case feeds a diagnosis function what a real peer sent and checks the suggestion: its change
(concrete or not), the CLI's words (probe flags), the workbench's words (the form's labels) and the
peers' command lines (real host and port, no HOST:PORT left in). Then every finding of every case
is checked for the rules all suggestions keep.
"""

from __future__ import annotations

import errno
import re
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tlsbench.engine.findings import network, proxy_http
from tlsbench.engine.findings.certs import verify_findings
from tlsbench.engine.findings.tls import HandshakeFacts, diagnose_failure, session_findings
from tlsbench.engine.hops.http_reply import parse_head
from tlsbench.engine.listener import findings as listener
from tlsbench.engine.listener.sniff import sniff
from tlsbench.engine.options import spec_from_values, values_of
from tlsbench.engine.route.proxies import parse_proxy_url
from tlsbench.engine.spec import build_spec
from tlsbench.engine.stages.app import _findings as app_findings
from tlsbench.engine.stages.tls import target_of
from tlsbench.engine.suggestions import Change, Suggestion, cli_change, cli_text, is_setting
from tlsbench.engine.tls.tlsmsg import WireMessage
from tlsbench.tui.widgets.findings_panel import applicable, change_words, finding_text, suggestion_words


def alert(name: str, code: int, direction: str = "received") -> WireMessage:
    return WireMessage(direction, "alert", f"alert: {name}", "TLS 1.2", 2, alert=name, alert_code=code,
                       alert_level="fatal")


HELLO = WireMessage("sent", "handshake", "ClientHello", "TLS 1.0", 512, handshake_type=1)


def facts(kind: str = "ssl-error", first: bytes = b"", *messages: WireMessage, **more) -> HandshakeFacts:
    return HandshakeFacts(kind=kind, first_bytes=first, messages=(HELLO,) + messages,
                          offered_versions="TLS 1.2 to TLS 1.3", **more)


def one(findings, code: str):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, [f.code for f in findings]
    return found[0]


def _der(path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


IP = build_spec("10.0.0.5:8443")
NAMED = build_spec("www.lab.test:8443", pin="10.0.0.5")

# (id, finding maker, code, concrete change applied by the key or None, CLI words, form words, peer words)
CASES = [
    ("http-answer", lambda c: diagnose_failure(IP, facts("ssl-error", b"HTTP/1.1 400 Bad Request\r\n\r\n")),
     "not-tls", {"tls": False, "app": "http"}, ["(--no-tls --http)"],
     ['(turn TLS handshake off and set Application to "HTTP GET")'], ["curl http://10.0.0.5:8443/"]),
    ("smtp-banner", lambda c: diagnose_failure(IP, facts("ssl-error", b"220 mail.lab.test ESMTP ready\r\n")),
     "not-tls", {"starttls": "smtp"}, ["(--starttls smtp)", "implicit-TLS port (465)"], ["STARTTLS"],
     ["openssl s_client -connect 10.0.0.5:8443 -noservername -starttls smtp",
      "openssl s_client -connect 10.0.0.5:465 -noservername"]),
    ("ssh-banner", lambda c: diagnose_failure(NAMED, facts("ssl-error", b"SSH-2.0-OpenSSH_9.2\r\n")),
     "not-tls", None, ["SSH client"], ["SSH client"], ["ssh -p 8443 10.0.0.5"]),
    ("sni-by-ip", lambda c: diagnose_failure(IP, facts("ssl-error", b"", alert("unrecognized_name", 112))),
     "sni-required", None, ["(NAME:8443 --pin 10.0.0.5)", "(--sni NAME)"],
     ['(set Host to NAME, Port to 8443 and Pinned IP to 10.0.0.5)', '(set SNI to "override" and SNI name to NAME)'],
     ["openssl s_client -connect 10.0.0.5:8443 -servername NAME",
      "curl --resolve NAME:8443:10.0.0.5 https://NAME:8443/"]),
    ("sni-none-by-name", lambda c: diagnose_failure(
        build_spec("www.lab.test:8443", pin="10.0.0.5", no_sni=True), facts("ssl-error", b"",
                                                                             alert("unrecognized_name", 112))),
     "sni-required", {"sni_mode": "host", "sni": None}, ["www.lab.test, as SNI: drop --no-sni."],
     ['as SNI: set SNI to "from host".'],
     ["openssl s_client -connect 10.0.0.5:8443 -servername www.lab.test",
      "curl --resolve www.lab.test:8443:10.0.0.5 https://www.lab.test:8443/"]),
    ("sni-other-name", lambda c: diagnose_failure(
        build_spec("www.lab.test:8443", pin="10.0.0.5", sni="old.lab.test"),
        facts("ssl-error", b"", alert("unrecognized_name", 112))),
     "sni-required", {"sni_mode": "host", "sni": None}, ["drop --sni old.lab.test"], ['set SNI to "from host"'],
     ["-servername www.lab.test"]),
    ("version-min-1.3", lambda c: diagnose_failure(
        build_spec("www.lab.test:8443", pin="10.0.0.5", tls_min="1.3"),
        facts("ssl-error", b"", alert("protocol_version", 70))),
     "tls-version-mismatch", {"tls_min": None}, ["(drop --tls-min 1.3)"], ['(set Min version to "any")'],
     ["openssl s_client -connect 10.0.0.5:8443 -servername www.lab.test"]),
    ("version-old-server", lambda c: diagnose_failure(NAMED, facts("ssl-error", b"", alert("protocol_version", 70))),
     "tls-version-mismatch", {"tls_min": "1.0"}, ["(--tls-min 1.0)"], ['(set Min version to "1.0")'],
     ["-min_protocol TLSv1", "curl --resolve www.lab.test:8443:10.0.0.5 --tlsv1.0 https://www.lab.test:8443/"]),
    ("ciphers", lambda c: diagnose_failure(
        build_spec("www.lab.test:8443", pin="10.0.0.5", ciphers="ECDHE-ECDSA-AES128-SHA", tls_max="1.2"),
        facts("ssl-error", b"", alert("handshake_failure", 40), offered_ciphers=1)),
     "no-shared-cipher", {"ciphers": None}, ["(drop --ciphers ECDHE-ECDSA-AES128-SHA)"], ["(clear Ciphers)"],
     ["openssl ciphers -v ECDHE-ECDSA-AES128-SHA"]),
    ("client-cert", lambda c: diagnose_failure(NAMED, facts(
        "ssl-error", b"", WireMessage("received", "handshake", "CertificateRequest", "TLS 1.3", 30, 13),
        alert("certificate_required", 116))),
     "client-cert-required", None, ["--cert FILE --key FILE"], ["set Client certificate to FILE and Client key to FILE"],
     ["openssl s_client -connect 10.0.0.5:8443 -servername www.lab.test -cert FILE -key FILE"]),
    ("silent", lambda c: diagnose_failure(NAMED, facts("timeout")),
     "tls-timeout", {"tls": False, "app": "http"}, ["(--no-tls --http)"], ["(turn TLS handshake off"], []),
    ("slow", lambda c: diagnose_failure(NAMED, facts("timeout", b"\x16\x03\x03\x00\x7a\x02")),
     "tls-timeout", {"timeout": 30.0}, ["(--timeout 30)"], ["(set Timeout per stage to 30)"], []),
    ("reset-without-sni", lambda c: diagnose_failure(
        build_spec("www.lab.test:8443", pin="10.0.0.5", no_sni=True), facts("reset", errno_name="ECONNRESET")),
     "connection-reset", {"sni_mode": "host", "sni": None}, ["(drop --no-sni)"], ['(set SNI to "from host")'],
     ["-servername www.lab.test"]),
    ("reset", lambda c: diagnose_failure(NAMED, facts("reset", errno_name="ECONNRESET")),
     "connection-reset", None, ["(--sni)"], ['("SNI name")'],
     ["openssl s_client -connect 10.0.0.5:8443 -servername www.lab.test -msg"]),
    ("insecure", lambda c: session_findings(build_spec("www.lab.test:8443", insecure=True), "TLSv1.3", True),
     "verify-disabled", {"verify": "system"}, ["(drop --insecure)", "(--cafile FILE)"],
     ['(set Verification to "system store")', '(set Verification to "CA file" and CA file to FILE)'], []),
    ("ip-target-cert-names", lambda c: session_findings(IP, "TLSv1.3", True,
                                                        names=("*.lab.test", "localhost", "www.lab.test")),
     "no-sni", {"target": "www.lab.test:8443", "pin": "10.0.0.5"}, ["(www.lab.test:8443 --pin 10.0.0.5)"],
     ["(set Host to www.lab.test, Port to 8443 and Pinned IP to 10.0.0.5)"],
     ["curl --resolve www.lab.test:8443:10.0.0.5 https://www.lab.test:8443/"]),
    ("old-version", lambda c: session_findings(NAMED, "TLSv1", True),
     "weak-tls-version", {"tls_min": "1.2"}, ["(--tls-min 1.2)"], ['(set Min version to "1.2")'], []),
    ("ip-mismatch", lambda c: verify_findings(IP, 64, "IP address mismatch", (_der(c.wrong_host.cert),), "10.0.0.5"),
     "cert-hostname-mismatch", {"target": "wrong.example:8443", "pin": "10.0.0.5"},
     ["(wrong.example:8443 --pin 10.0.0.5)"], ["(set Host to wrong.example, Port to 8443 and Pinned IP to 10.0.0.5)"],
     ["openssl s_client -connect 10.0.0.5:8443 -servername wrong.example"]),
    ("expired", lambda c: verify_findings(NAMED, 10, "certificate has expired", (_der(c.expired.cert),), "www.lab.test"),
     "cert-expired", {"verify": "off"}, ["(--insecure)"], ['(set Verification to "off (insecure)")'],
     ["openssl s_client -connect 10.0.0.5:8443 -servername www.lab.test -showcerts"]),
    ("unknown-ca", lambda c: verify_findings(NAMED, 20, "unable to get local issuer certificate",
                                            (_der(c.unknown_ca.cert), _der(c.other_ca_cert)), "www.lab.test"),
     "cert-untrusted", None, ["--cafile FILE"], ['set Verification to "CA file" and CA file to FILE'],
     ["curl --resolve www.lab.test:8443:10.0.0.5 --cacert FILE https://www.lab.test:8443/"]),
    ("proxy-self-signed", lambda c: verify_findings(
        target_of(NAMED)._replace(role="proxy", pin=None), 18, "self-signed certificate",
        (_der(c.self_signed.cert),), "www.lab.test"),
     "cert-self-signed", None, ["with --proxy-cacert"], ['with "Proxy CA file"'], []),
    ("port-in-use", lambda c: [network.local_bind_failed(OSError(errno.EADDRINUSE, "Address in use"), [5000],
                                                         "local port 5000")],
     "local-port-in-use", {"local_port": None}, ["(drop --local-port)"], ["(clear Local port)"],
     ["ss -tan 'sport = :5000'"]),
    ("no-interface", lambda c: [network.local_bind_failed(OSError(errno.ENODEV, "No such device"), [],
                                                          "interface nosuch0")],
     "local-bind-failed", {"interface": None}, ["Check --interface", "drop --interface"],
     ['Check "Local address or interface"', "clear Local address or interface"], []),
    ("ipv6-unreachable", lambda c: [network.tcp_failed("target", "[2001:db8::1]:443", OSError(errno.ENETUNREACH,
                                                                                        "Network is unreachable"),
                                                       10.0, ("2001:db8::1: ENETUNREACH (unreachable) after 0.1 ms",))],
     "tcp-unreachable", {"family": 4}, ["(--ipv4)"], ['(set IP version to "IPv4 only")'], ["ip route get 2001:db8::1"]),
    ("dns-target", lambda c: [network.dns_failed("no-such.invalid", "target", socket.gaierror(socket.EAI_NONAME,
                                                                                               "Name unknown"))],
     "dns-failed", None, ["--pin ADDR"], ["set Pinned IP to ADDR"], ["getent ahosts no-such.invalid"]),
    ("dns-proxy", lambda c: [network.dns_failed("proxy.invalid", "proxy", socket.gaierror(socket.EAI_NONAME, "x"))],
     "dns-failed", None, ["the proxy's name in the route"], ["the proxy's name in the route"], []),
    ("socks5-for-socks4", lambda c: [network.proxy_protocol_error("socks4", "127.0.0.1:1080", b"\x05\xff")],
     "proxy-protocol-error", None, ["socks5h://"], ["socks5h://"], []),
    ("http-407", lambda c: [proxy_http.refusal(parse_proxy_url("http://127.0.0.1:3128"), "www.lab.test:443",
                                               parse_head(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                                          b"Proxy-Authenticate: Basic realm=x\r\n\r\n"), b"")],
     "proxy-auth-required", None, ["with --proxy-user"], ['with "Proxy user"'], []),
    ("http-0.9", lambda c: app_findings(NAMED._replace(app=NAMED.app._replace(http=True, path="/x")), "http",
                                        b"hello", None, None, True),
     "http-0.9-response", None, ["--http0.9"], ["status line and headers"],
     ["curl --resolve www.lab.test:8443:10.0.0.5 --http0.9 https://www.lab.test:8443/x"]),
    ("http-404", lambda c: app_findings(NAMED, "http", b"HTTP/1.1 404 Not Found\r\n\r\n", "HTTP/1.1 404 Not Found",
                                        None, True),
     "http-error-status", None, ["(--path)", "--pin"], ['("HTTP path")', '"Pinned IP"'], []),
    ("listener-http", lambda c: [listener.http_on_tls_port(
        sniff(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), b"GET / HTTP/1.1\r\n", 47443, "127.0.0.1",
        "/home/u/cert.pem")],
     "http-on-tls-port", None, ["Use https://127.0.0.1:47443/"], ["Use https://127.0.0.1:47443/"],
     ["curl --cacert /home/u/cert.pem https://127.0.0.1:47443/"]),
]


@pytest.fixture(scope="module")
def made(lab_certs):
    return {case[0]: case[1](lab_certs) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_suggestion_from_evidence(made, case):
    name, _, code, applied, cli_words, form_words, peer_words = case
    f = one(made[name], code)
    s = f.suggestion
    change = s.applicable
    assert (change.values if change else None) == applied
    cli, form = cli_text(s), suggestion_words(s)
    for words in cli_words:
        assert words in cli, cli
    for words in form_words:
        assert words in form, form
    commands = [p.command for p in s.peers]
    for words in peer_words:
        assert any(words in c for c in commands), commands
    # the JSON keeps the CLI's words, and the changes as data
    as_json = f.to_dict()
    assert as_json["suggestion"] == cli
    assert as_json["suggestion_changes"] == [c.to_dict() for c in s.changes]


def _all(made):
    return [f for findings in made.values() for f in findings]


def test_every_suggestion_keeps_the_rules(made):
    for f in _all(made):
        s = f.suggestion
        assert s.text, f.code
        for ref in s.references():
            assert (ref.isdigit() and int(ref) < len(s.changes)) or is_setting(ref), (f.code, ref)
        form = suggestion_words(s)
        assert not re.search(r"\{\w+\}", cli_text(s)) and not re.search(r"\{\w+\}", form), (f.code, s.text)
        assert not re.search(r"(?<![\w-])--[a-z]", form), f"CLI flags in the form's words: {f.code}: {form}"
        for peer in s.peers:
            assert "HOST" not in peer.command and "PORT" not in peer.command, (f.code, peer)
        for change in s.changes:
            assert cli_change(change) and change_words(change) != "no change", (f.code, change)
            assert change.concrete == (not any(p in str(v) for p in ("NAME", "FILE", "ADDR")
                                               for v in change.values.values())), (f.code, change)


def test_every_concrete_change_builds_a_valid_connection(made):
    base = values_of(NAMED)
    checked = 0
    for f in _all(made):
        for change in f.suggestion.changes:
            if change.concrete:
                spec = spec_from_values(change.apply(base))
                for name, value in change.values.items():
                    if name != "target":
                        assert values_of(spec)[name] == (value if name != "family" else int(value)), (name, spec)
                checked += 1
    assert checked >= 15


def test_only_the_first_concrete_change_gets_the_key(made):
    findings = made["insecure"] + made["ip-target-cert-names"]
    chosen = applicable(findings)
    assert chosen is not None and chosen[0].code == "verify-disabled"  # both warnings: the first listed
    texts = [finding_text(f, chosen[1] if f is chosen[0] else None).plain for f in findings]
    assert "ctrl+f applies: set Verification to \"system store\", and runs again" in texts[0]
    assert "ctrl+f" not in texts[1]
    # an error comes before a warning, whatever the order they arrived in
    errors = made["sni-none-by-name"]
    assert applicable(findings + errors)[0].code == "sni-required"
    assert applicable(made["sni-by-ip"]) is None


def test_template_text_from_the_network_stays_literal():
    odd = network.dns_no_ipv4("{timeout}.example", ["::1"])
    assert "{timeout}" in cli_text(odd.suggestion) or "{timeout}" in odd.title
    s = Suggestion("Keep {{this}} and {0}; {timeout}", (Change.of(pin="1.2.3.4"),))
    assert cli_text(s) == "Keep {this} and --pin 1.2.3.4; --timeout"
    assert suggestion_words(s) == 'Keep {this} and set Pinned IP to 1.2.3.4; "Timeout per stage"'

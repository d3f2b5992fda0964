"""--starttls against a real server of every protocol (the fixtures of conftest.py: postfix or exim4, dovecot
for IMAP/POP3/LMTP/ManageSieve, vsftpd, prosody, slapd, PostgreSQL, MariaDB, INN, InspIRCd), each in
its TLS variant (STARTTLS, then a handshake verified against the lab CA, then the capabilities over
TLS) and its plain one (starttls-not-offered, with the server's own words); auto from the greeting;
through a SOCKS proxy and an HTTP proxy; a port that speaks TLS at once, in a private network
namespace where 993, 636 and 389 are free."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import in_ci
from tlsbench.engine.suggestions import cli_text
from tlsbench.engine.options import spec_from_values
from tlsbench.engine.runner import run_probe
from tlsbench.lab.mail_servers import STARTTLS_REPLY

pytestmark = pytest.mark.servers

PROTOCOLS = ("smtp", "lmtp", "imap", "pop3", "ftp", "xmpp", "ldap", "postgres", "mysql", "nntp", "sieve", "irc")
COMMON_NAMES = {"smtp": "mail.lab.test", "lmtp": "mail.lab.test", "imap": "mail.lab.test", "pop3": "mail.lab.test",
                "sieve": "mail.lab.test", "ftp": "ftp.lab.test", "xmpp": "lab.test", "ldap": "ldap.lab.test",
                "postgres": "db.lab.test", "mysql": "db.lab.test", "nntp": "news.lab.test", "irc": "irc.lab.test"}
# What each protocol sends to upgrade (as it appears in the exchange).
COMMANDS = {"smtp": "STARTTLS", "lmtp": "STARTTLS", "imap": "A2 STARTTLS", "pop3": "STLS", "ftp": "AUTH TLS",
            "xmpp": "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "ldap": "ExtendedRequest #2: StartTLS",
            "postgres": "SSLRequest", "mysql": "SSL request", "nntp": "STARTTLS", "sieve": "STARTTLS",
            "irc": "STARTTLS"}


def probe(endpoint, protocol: str, cafile, **values):
    values = {"target": f"{endpoint.host}:{endpoint.port}", "starttls": protocol, "verify": "cafile",
              "cafile": str(cafile), "timeout": 10, **values}
    if protocol in ("xmpp", "auto"):
        values.setdefault("xmpphost", "lab.test")
    return run_probe(spec_from_values(values))


def sent(detail) -> list[str]:
    return [line.text for line in detail.exchange if line.direction == "sent"]


def received(detail) -> list[str]:
    return [line.text for line in detail.exchange if line.direction == "received"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_starttls_then_a_verified_handshake(starttls_server, lab_certs, protocol):
    endpoint = starttls_server(protocol, tls=True)
    result = probe(endpoint, protocol, lab_certs.ca_cert)
    assert result.ok, [f.title for f in result.findings]
    keys = [s.id for s in result.stages]
    assert keys.index("proxy") < keys.index("starttls") < keys.index("tls")
    stage = result.stage("starttls")
    detail = stage.detail
    assert stage.status == "ok" and detail.protocol == protocol and detail.accepted is True
    assert detail.starttls_offered is True
    assert any(text.startswith(COMMANDS[protocol]) for text in sent(detail)), sent(detail)
    times = [line.at_ms for line in detail.exchange]
    assert times == sorted(times) and stage.started_ms <= times[0] <= times[-1] <= stage.started_ms + stage.duration_ms
    assert result.tls.verified is True and result.chain.verified is True
    assert result.chain.certificates[0].subject.startswith(f"CN={COMMON_NAMES[protocol]},")
    app = result.stage("app")
    if protocol in ("postgres", "mysql"):
        assert app.status == "skipped"
    else:
        assert app.status == "ok" and app.detail.phase == "tls" and app.detail.capabilities is not None
        if protocol == "sieve":  # RFC 5804: the server sends them again by itself after the handshake
            assert not sent(app.detail) and received(app.detail)[-1].startswith("OK")
        else:
            assert sent(app.detail), "the capabilities are asked again over TLS"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_without_tls_does_not_offer_it(starttls_server, lab_certs, protocol):
    endpoint = starttls_server(protocol, tls=False)
    result = probe(endpoint, protocol, lab_certs.ca_cert)
    assert not result.ok and result.codes()[0] == "starttls-not-offered"
    assert result.stage("starttls").status == "failed" and result.stage("tls").status == "skipped"
    finding = result.findings[0]
    assert finding.stage == "starttls" and finding.severity == "error"
    detail = result.stage("starttls").detail
    assert detail.starttls_offered is False
    if detail.command and detail.reply:  # sent anyway, as s_client does: the refusal is the evidence
        assert any(e.value == "\n".join(detail.reply) for e in finding.evidence)
        assert detail.reply[0] in received(detail)[-1] or received(detail)[-1].startswith(detail.reply[0][:10])


def test_xmpp_server_to_server_against_prosodys_s2s_port(prosody_tls, lab_certs):
    """s_client's -starttls xmpp-server against prosody's server-to-server listener: the stream in
    the jabber:server namespace, then a verified handshake; the features are not asked again."""
    endpoint = prosody_tls.endpoint("xmpp-server")
    result = probe(endpoint, "xmpp-server", lab_certs.ca_cert, xmpphost="lab.test")
    assert result.ok, [f.title for f in result.findings]
    detail = result.stage("starttls").detail
    assert detail.protocol == "xmpp-server" and detail.accepted is True and detail.xmpphost == "lab.test"
    assert "xmlns='jabber:server'" in sent(detail)[0]
    assert result.tls.verified is True and result.chain.certificates[0].subject.startswith("CN=lab.test,")
    assert result.stage("app").status == "skipped"


def test_the_smtp_exchange_is_shown_as_it_happened(smtp_tls, lab_certs):
    result = probe(smtp_tls, "smtp", lab_certs.ca_cert, starttls_name="client.lab.test")
    lines = [(line.direction, line.text) for line in result.stage("starttls").detail.exchange]
    assert lines[0] == ("received", f"220 mail.lab.test ESMTP tlsbench lab {smtp_tls.name}")
    assert lines[1] == ("sent", "EHLO client.lab.test")
    assert ("received", "250-STARTTLS") in lines
    reply = STARTTLS_REPLY[smtp_tls.name]
    assert lines[-2:] == [("sent", "STARTTLS"), ("received", reply)]
    over_tls = result.stage("app").detail
    assert sent(over_tls) == ["EHLO client.lab.test"] and "STARTTLS" in over_tls.only_before_tls
    assert result.stage("starttls").summary == f"SMTP: STARTTLS offered; {reply}"


def test_imap_login_appears_only_over_tls(dovecot_tls, lab_certs):
    result = probe(dovecot_tls.endpoint("imap"), "imap", lab_certs.ca_cert)
    assert result.ok and "auth-before-tls" not in result.codes()
    before = result.stage("starttls").detail.capabilities
    over_tls = result.stage("app").detail
    assert "LOGINDISABLED" in before and "AUTH=PLAIN" not in before
    assert {"AUTH=PLAIN", "AUTH=LOGIN"} <= set(over_tls.only_after_tls)
    assert "LOGINDISABLED" in over_tls.only_before_tls
    assert "only now AUTH=PLAIN, AUTH=LOGIN" in result.stage("app").summary


@pytest.mark.parametrize("protocol,listed", [("imap", "AUTH=PLAIN"), ("pop3", "USER")])
def test_password_login_before_tls_is_a_warning(dovecot_tls_plaintext_auth, lab_certs, protocol, listed):
    result = probe(dovecot_tls_plaintext_auth.endpoint(protocol), protocol, lab_certs.ca_cert)
    assert result.ok and "auth-before-tls" in result.codes()
    finding = next(f for f in result.findings if f.code == "auth-before-tls")
    assert finding.severity == "warning" and listed in finding.title
    assert "disable_plaintext_auth" in cli_text(finding.suggestion)
    assert any(listed in e.value for e in finding.evidence)


def test_a_server_that_lists_starttls_but_fails_it_is_a_refusal(lab_certs):
    from conftest import need
    from tlsbench.lab.news_server import nnrpd

    with need(nnrpd) as server:  # Debian's nnrpd lists STARTTLS even with no certificate
        result = probe(server, "nntp", lab_certs.ca_cert)
    assert result.codes()[0] == "starttls-refused"
    finding = result.findings[0]
    assert finding.title == "The NNTP server refused STARTTLS: 580 Error initializing TLS"
    assert "listed STARTTLS and then refused it" in finding.explanation
    assert any(e.value == "580 Error initializing TLS" for e in finding.evidence)


def test_the_wrong_protocol_says_what_the_server_speaks(smtp_tls, lab_certs):
    result = probe(smtp_tls, "imap", lab_certs.ca_cert)
    assert result.codes()[0] == "starttls-unexpected-reply"
    finding = result.findings[0]
    assert f"an SMTP server greeting (220 mail.lab.test ESMTP tlsbench lab {smtp_tls.name})" in finding.title
    assert "--starttls smtp" in cli_text(finding.suggestion)


def test_not_tls_on_a_mail_port_names_the_starttls_to_use(smtp_tls, dovecot_tls, lab_certs):
    smtp = run_probe(spec_from_values({"target": smtp_tls.address, "verify": "cafile",
                                       "cafile": str(lab_certs.ca_cert)}))
    assert smtp.codes()[0] == "not-tls" and "--starttls smtp" in cli_text(smtp.findings[0].suggestion)
    assert "implicit-TLS port (465)" in cli_text(smtp.findings[0].suggestion)
    pop3 = run_probe(spec_from_values({"target": dovecot_tls.endpoint("pop3").address, "verify": "cafile",
                                       "cafile": str(lab_certs.ca_cert)}))
    assert "--starttls pop3" in cli_text(pop3.findings[0].suggestion)


def test_a_server_that_greets_like_smtp_but_rejects_ehlo_is_not_called_an_smtp_server(banner_server, lab_certs):
    # The lab's SMTP banner: "220 ... ESMTP", then "500 5.5.2 Error: bad syntax" to anything. The
    # not-tls finding's STARTTLS fix meets that 500; what it says must come from it, and offer no fix.
    server = banner_server("smtp")
    result = probe(server, "smtp", lab_certs.ca_cert)
    assert result.codes() == ["starttls-unexpected-reply"]
    finding = result.findings[0]
    assert finding.title == "Not an SMTP server: it answered EHLO with 500 5.5.2 Error: bad syntax"
    assert "is not an SMTP server" in finding.explanation and "cannot work here" in finding.explanation
    assert {(e.label, e.value) for e in finding.evidence} >= {
        ("greeting", "220 mail.lab.test ESMTP ready"), ("reply to EHLO", "500 5.5.2 Error: bad syntax")}
    suggestion = finding.suggestion
    assert not getattr(suggestion, "changes", ())  # no one-key fix: none can work here
    assert "not an SMTP server" in cli_text(suggestion) and "--starttls" not in cli_text(suggestion)


def test_the_exchange_reads_on_the_stage_s_own_clock(banner_server, microsocks, lab_certs):
    # One clock, one origin: every line's "+x ms" is its time into the starttls stage, so none can
    # exceed the stage's duration (through a proxy the stage starts late in the run: that showed).
    from tlsbench.engine.hops.starttls.detail import rows

    server = banner_server("smtp")
    for extra in ({}, {"proxies": [f"socks5://{microsocks.address}"]}):
        result = probe(server, "smtp", lab_certs.ca_cert, **extra)
        stage = next(s for s in result.stages if s.name == "starttls")
        times = [float(r.label.strip("+ ms")) for r in rows(stage.detail) if r.kind in ("sent", "received")]
        assert len(times) == 4, rows(stage.detail)
        assert all(0.0 <= t <= stage.duration_ms for t in times), (times, stage.duration_ms, stage.started_ms)
        assert times == sorted(times)
        assert stage.detail.started_ms == stage.started_ms
        assert stage.detail.to_dict()["exchange"][0]["at_ms"] >= stage.started_ms  # the JSON: run's origin


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3", "sieve", "ftp", "nntp", "mysql"])
def test_auto_chooses_from_the_greeting(starttls_server, lab_certs, protocol):
    endpoint = starttls_server(protocol, tls=True)
    result = probe(endpoint, "auto", lab_certs.ca_cert)
    assert result.ok, [f.title for f in result.findings]
    detail = result.stage("starttls").detail
    assert detail.asked == "auto" and detail.protocol == protocol
    assert detail.chosen_because.startswith("the server greeted with")
    assert result.stage("starttls").summary.startswith("auto: ")
    assert result.tls.verified is True


def test_auto_is_one_value(smtp_plain, lab_certs):
    result = run_probe(spec_from_values({"target": smtp_plain.address, "starttls": "auto"}))
    assert result.stage("starttls").detail.protocol == "smtp"
    assert result.codes()[0] == "starttls-not-offered"


def test_through_a_socks_proxy(smtp_tls, microsocks, lab_certs):
    result = probe(smtp_tls, "smtp", lab_certs.ca_cert, proxies=[f"socks5h://{microsocks.address}"])
    assert result.ok, [f.title for f in result.findings]
    assert [s.id for s in result.stages][:5] == ["resolve", "tcp", "proxy", "starttls", "tls"]
    assert result.socket.peer_port == microsocks.port and result.tls.verified is True
    assert received(result.stage("starttls").detail)[0].startswith("220 mail.lab.test ESMTP")


def test_through_a_chain(smtp_tls, microsocks, squid_proxy, lab_certs):
    result = probe(smtp_tls, "smtp", lab_certs.ca_cert,
                   proxies=[f"socks5h://{microsocks.address}", f"http://{squid_proxy.address}"])
    assert result.ok, [f.title for f in result.findings]
    assert [s.id for s in result.stages][:6] == ["resolve", "tcp", "proxy#1", "proxy#2", "starttls", "tls"]
    assert result.stage("app").detail.only_before_tls == ("STARTTLS",)


def test_through_an_http_proxy(dovecot_tls, squid_proxy, lab_certs):
    result = probe(dovecot_tls.endpoint("imap"), "imap", lab_certs.ca_cert, proxies=[f"http://{squid_proxy.address}"])
    assert result.ok, [f.title for f in result.findings]
    assert result.stage("proxy").summary.startswith("CONNECT 127.0.0.2:")
    assert result.stage("app").detail.only_after_tls


class LyingServer:
    """An SMTP server that agrees to STARTTLS and then answers the ClientHello in clear text
    (`early`: in the same segment as its 220, before any ClientHello)."""

    def __init__(self, early: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.early = early
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                conn.sendall(b"220 liar.lab.test ESMTP\r\n")
                conn.recv(1024)
                conn.sendall(b"250-liar.lab.test\r\n250 STARTTLS\r\n")
                conn.recv(1024)
                if self.early:
                    conn.sendall(b"220 go ahead\r\n554 5.7.0 plain text after all\r\n")
                    conn.recv(4096)
                else:
                    conn.sendall(b"220 go ahead\r\n")
                    conn.recv(4096)  # the ClientHello
                    conn.sendall(b"554 5.7.0 plain text after all\r\n")
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize("early", [False, True])
def test_plain_text_after_the_server_agreed(early):
    server = LyingServer(early)
    try:
        result = run_probe(spec_from_values({"target": f"127.0.0.1:{server.port}", "starttls": "smtp",
                                             "verify": "off", "timeout": 5}))
    finally:
        server.close()
    assert result.stage("starttls").status == "ok" and result.stage("tls").status == "failed"
    assert result.codes()[0] == "plaintext-after-starttls" and "not-tls" not in result.codes()
    finding = result.findings[0]
    assert finding.stage == "tls" and "then answered in clear text" in finding.title
    assert any(e.value == "220 go ahead" for e in finding.evidence)
    assert any(e.value.startswith("554 5.7.0 plain text after all") for e in finding.evidence)
    if early:
        notes = [line.text for line in result.stage("starttls").detail.exchange if line.direction == "note"]
        assert notes and "came after the reply" in notes[0]


# --- well-known ports, in a network namespace of their own --------------------------------------

def _in_netns(lab_certs, server: str, port: int, probes: list[dict]) -> list[dict]:
    unshare = shutil.which("unshare")
    check = unshare and subprocess.run([unshare, "-n", "true"], capture_output=True)
    if not unshare or check.returncode != 0:
        if in_ci():
            pytest.fail("unshare -n is not available (needs root)")
        pytest.skip("unshare -n is not available (needs root)")
    config = {"certs": str(lab_certs.directory), "server": server, "port": port, "probes": probes}
    done = subprocess.run([unshare, "-n", sys.executable, str(Path(__file__).with_name("netns_starttls.py")),
                           json.dumps(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _stage(result: dict, name: str) -> dict:
    return next(s for s in result["stages"] if s["name"] == name)


def test_a_port_that_speaks_tls_at_once(lab_certs):
    # s_server is no IMAP server: the app stage asks it for a web page instead of IMAP's greeting.
    given, auto = _in_netns(lab_certs, "s_server", 993, [{"starttls": "imap", "app": "http"},
                                                          {"starttls": "auto", "app": "http"}])
    for result, severity in ((given, "warning"), (auto, "info")):
        assert result["ok"], result["findings"]
        stage = _stage(result, "starttls")
        assert stage["status"] == "ok" and stage["detail"]["implicit_tls"] is True
        assert stage["summary"] == "port 993 speaks TLS at once: STARTTLS dropped"
        assert _stage(result, "tls")["status"] == "ok" and result["tls"]["verified"] is True
        assert _stage(result, "app")["summary"].startswith("HTTP/1.0 200")
        finding = next(f for f in result["findings"] if f["code"] == "starttls-implicit-tls")
        assert finding["severity"] == severity and "IMAPS" in finding["title"]
    assert "--starttls imap dropped" in next(f["title"] for f in given["findings"]
                                              if f["code"] == "starttls-implicit-tls")
    assert "Drop STARTTLS for port 993 (drop --starttls)" in given["findings"][0]["suggestion"]


def test_a_client_first_protocol_on_a_tls_port_spoils_the_start(lab_certs):
    (result,) = _in_netns(lab_certs, "s_server", 636, [{"starttls": "ldap"}])
    assert not result["ok"] and result["findings"][0]["code"] == "starttls-implicit-tls"
    assert result["findings"][0]["title"] == "Port 636 (LDAPS) speaks TLS at once: drop --starttls ldap"


def test_auto_on_the_ldap_port_speaks_ldap(lab_certs):
    (result,) = _in_netns(lab_certs, "slapd", 389, [{"starttls": "auto"}])
    assert result["ok"], result["findings"]
    detail = _stage(result, "starttls")["detail"]
    assert detail["protocol"] == "ldap" and "port 389 is LDAP's" in detail["chosen_because"]
    assert any(line["text"].startswith("ExtendedRequest #2: StartTLS") for line in detail["exchange"])
    assert result["tls"]["verified"] is True


# --- silence, and a cancel in the middle ------------------------------------------------------------

def test_a_server_that_never_greets_times_out(silent_server):
    result = run_probe(spec_from_values({"target": silent_server.address, "starttls": "smtp", "verify": "off",
                                         "timeout": 1}))
    assert result.codes()[0] == "starttls-timeout"
    finding = result.findings[0]
    assert finding.title == "The SMTP server did not answer in time"
    assert {e.label: e.value for e in finding.evidence}["awaiting"] == "the greeting (220)"
    auto = run_probe(spec_from_values({"target": silent_server.address, "starttls": "auto", "verify": "off",
                                       "timeout": 1}))
    assert auto.codes()[0] == "starttls-timeout" and "auto cannot tell" in auto.findings[0].title
    assert "--starttls postgres, ldap, xmpp or irc" in cli_text(auto.findings[0].suggestion)


def test_cancel_during_starttls(silent_server):
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.events import StageStarted

    token = CancelToken()

    def on_event(event):
        if isinstance(event, StageStarted) and event.stage == "starttls":
            threading.Timer(0.2, token.cancel).start()

    result = run_probe(spec_from_values({"target": silent_server.address, "starttls": "imap", "verify": "off",
                                         "timeout": 30}), on_event=on_event, cancel=token)
    assert result.cancelled and result.stage("starttls").status == "cancelled"
    assert result.stage("starttls").duration_ms < 10_000 and result.findings == ()

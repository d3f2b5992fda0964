"""The STARTTLS dialogues from bytes alone (sans-IO): what each sends, what it makes of the server's
bytes, and the findings those facts give. The server bytes are as the lab's real servers sent them
(postfix, dovecot, vsftpd, INN, InspIRCd, prosody, slapd, PostgreSQL, MariaDB); the tests against
the servers themselves are in test_starttls_servers.py."""

from __future__ import annotations

import pytest

from tlsbench.engine.suggestions import cli_text
from tlsbench.engine.hops.starttls import findings as fnd
from tlsbench.engine.hops.starttls import detect
from tlsbench.engine.hops.starttls.base import (CapabilitiesListed, ConnectionClosed, UnexpectedReply,
                                                UpgradeAccepted, UpgradeNotOffered)
from tlsbench.engine.hops.starttls.ldap import search_root_dse, start_tls_request
from tlsbench.engine.hops.starttls.mysql import CLIENT_SSL, ssl_request
from tlsbench.engine.hops.starttls.protocols import DIALOGUES, dialogue
from tlsbench.engine.hops.starttls.postgres import SSL_REQUEST

MARIADB_GREETING = (b"d\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1\x00\x04\x00\x00\x00Kr}@cU\\O\x00\xfe\xff\x08"
                    b"\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00XLS?|v[F,HgL\x00"
                    b"mysql_native_password\x00")
MARIADB_NO_SSL = MARIADB_GREETING.replace(b"\xfe\xff\x08", b"\xfe\xf7\x08")
POSTFIX_EHLO = (b"250-mail.lab.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
                b"250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n")
PROSODY_HEADER = (b"<?xml version='1.0'?><stream:stream from='lab.test' id='85250776' xml:lang='en' version='1.0' "
                  b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")


def ldap_entry(message_id: int, values: list[bytes]) -> bytes:
    from tlsbench.engine.hops.starttls import ber

    attribute = ber.encode(0x30, ber.octets("supportedExtension") + ber.encode(0x31, b"".join(
        ber.octets(v) for v in values)))
    entry = ber.encode(0x64, ber.octets("") + ber.encode(0x30, attribute))
    return ber.encode(0x30, ber.integer(message_id) + entry)


def ldap_result(message_id: int, tag: int, code: int, message: bytes = b"") -> bytes:
    from tlsbench.engine.hops.starttls import ber

    result = ber.integer(code, 0x0A) + ber.octets("") + ber.octets(message)
    return ber.encode(0x30, ber.integer(message_id) + ber.encode(tag, result))


# protocol -> (server bytes in order, what the client sends in order, how it ends, offered)
CONVERSATIONS = {
    "smtp": ([b"220 mail.lab.test ESMTP tlsbench lab postfix\r\n", POSTFIX_EHLO, b"220 2.0.0 Ready to start TLS\r\n"],
             [b"EHLO mail.example.com\r\n", b"STARTTLS\r\n"], "ready", True),
    "lmtp": ([b"220 mail.lab.test Dovecot (Debian) ready.\r\n",
              b"250-mail.lab.test\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
              b"220 2.0.0 Begin TLS negotiation now.\r\n"], [b"LHLO mail.example.com\r\n", b"STARTTLS\r\n"], "ready",
             True),
    "imap": ([b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot (Debian) ready.\r\n",
              b"* CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED\r\nA1 OK Pre-login capabilities listed.\r\n",
              b"A2 OK Begin TLS negotiation now.\r\n"], [b"A1 CAPABILITY\r\n", b"A2 STARTTLS\r\n"], "ready", True),
    "pop3": ([b"+OK Dovecot (Debian) ready.\r\n", b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nSASL\r\n.\r\n",
              b"+OK Begin TLS negotiation now.\r\n"], [b"CAPA\r\n", b"STLS\r\n"], "ready", True),
    "ftp": ([b"220 tlsbench lab vsftpd\r\n", b"211-Features:\r\n AUTH TLS\r\n EPRT\r\n PBSZ\r\n211 End\r\n",
             b"234 Proceed with negotiation.\r\n"], [b"FEAT\r\n", b"AUTH TLS\r\n"], "ready", True),
    "nntp": ([b"200 news.lab.test InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n",
              b"101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n", b"382 Begin TLS negotiation now\r\n"],
             [b"CAPABILITIES\r\n", b"STARTTLS\r\n"], "ready", True),
    "sieve": ([b'"IMPLEMENTATION" "Dovecot (Debian) Pigeonhole"\r\n"SASL" ""\r\n"STARTTLS"\r\n"VERSION" "1.0"\r\n'
               b'OK "Dovecot (Debian) ready."\r\n', b'OK "Begin TLS negotiation now."\r\n'], [b"STARTTLS\r\n"],
              "ready", True),
    "irc": ([b":irc.lab.test CAP * LS :inspircd.org/poison inspircd.org/standard-replies tls \r\n",
             b":irc.lab.test 670 * :STARTTLS successful, go ahead with TLS handshake\r\n"],
            [b"CAP LS 302\r\n", b"STARTTLS\r\n"], "ready", True),
    "xmpp": ([PROSODY_HEADER + b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
              b"</starttls></stream:features>", b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
             [b"<?xml version='1.0'?><stream:stream to='lab.test' xmlns='jabber:client' "
              b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
              b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"], "ready", True),
    "xmpp-server": ([PROSODY_HEADER.replace(b"jabber:client", b"jabber:server")
                     + b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
                     b"</starttls></stream:features>", b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
                    [b"<?xml version='1.0'?><stream:stream to='lab.test' xmlns='jabber:server' "
                     b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
                     b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"], "ready", True),
    "ldap": ([ldap_entry(1, [b"1.3.6.1.4.1.1466.20037", b"1.3.6.1.4.1.4203.1.11.3"]) + ldap_result(1, 0x65, 0),
              ldap_result(2, 0x78, 0)], [search_root_dse(1), start_tls_request(2)], "ready", True),
    "postgres": ([b"S"], [SSL_REQUEST], "ready", True),
    "mysql": ([MARIADB_GREETING], [ssl_request()], "ready", True),
}


def talk(protocol: str, chunks: list[bytes], **settings):
    d = dialogue(protocol, xmpphost="lab.test", **settings)
    sent = [d.data_to_send()]
    events = []
    for chunk in chunks:
        events += d.receive(chunk)
        sent.append(d.data_to_send())
    return d, [s for s in sent if s], events


@pytest.mark.parametrize("protocol", sorted(CONVERSATIONS))
def test_each_protocol_upgrades_from_its_servers_bytes(protocol):
    chunks, expected_sent, status, offered = CONVERSATIONS[protocol]
    d, sent, events = talk(protocol, chunks)
    assert sent == expected_sent
    assert d.status == status and d.facts.accepted is True and d.facts.offered is offered
    assert isinstance(events[-1], UpgradeAccepted)
    assert d.facts.leftover == b""
    received = [m for m in d.take_received()]
    assert received and all(m.direction == "received" for m in received)


@pytest.mark.parametrize("protocol", sorted(CONVERSATIONS))
def test_the_same_bytes_one_at_a_time_give_the_same_result(protocol):
    chunks, expected_sent, status, _ = CONVERSATIONS[protocol]
    whole, _, _ = talk(protocol, chunks)
    d = dialogue(protocol, xmpphost="lab.test")
    sent = d.data_to_send()
    for chunk in chunks:
        for i in range(len(chunk)):
            d.receive(chunk[i:i + 1])
        sent += d.data_to_send()
    assert sent == b"".join(expected_sent)
    assert d.status == whole.status == status
    assert d.facts.capabilities == whole.facts.capabilities and d.facts.reply == whole.facts.reply


def test_smtp_without_starttls_tries_anyway_and_reports_the_refusal():
    d, sent, events = talk("smtp", [b"220 mail.lab.test ESMTP\r\n",
                                    b"250-mail.lab.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
                                    b"502 5.5.1 Error: command not implemented\r\n"])
    assert sent[-1] == b"STARTTLS\r\n" and d.status == "failed"
    assert d.facts.offered is False and d.facts.tried_anyway and d.facts.accepted is False
    finding = fnd.not_offered("smtp", d.facts)
    assert finding.code == "starttls-not-offered" and finding.severity == "error"
    assert "502 5.5.1 Error: command not implemented" in finding.explanation
    assert any(e.value == "502 5.5.1 Error: command not implemented" for e in finding.evidence)


def test_smtp_accepting_an_unlisted_starttls_is_a_warning():
    d, _, _ = talk("smtp", [b"220 x ESMTP\r\n", b"250 x\r\n", b"220 go ahead\r\n"])
    assert d.status == "ready" and d.facts.offered is False
    assert fnd.not_offered("smtp", d.facts).severity == "warning"


def test_smtp_auth_before_tls_is_found_in_the_ehlo_reply():
    d, _, _ = talk("smtp", [b"220 x ESMTP\r\n", b"250-x\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 STARTTLS\r\n"])
    assert d.facts.password_auth == ("AUTH PLAIN", "AUTH LOGIN")
    finding = fnd.auth_before_tls("smtp", d.facts)
    assert finding.code == "auth-before-tls" and finding.severity == "warning"
    assert "AUTH PLAIN" in finding.title and "smtpd_tls_auth_only" in cli_text(finding.suggestion)


def test_smtp_refusing_the_session_in_its_greeting():
    d, sent, events = talk("smtp", [b"554 5.7.1 no SMTP service for you\r\n"])
    assert sent == [] and d.status == "failed" and d.facts.session_refused
    finding = fnd.refused("smtp", d.facts)
    assert finding.code == "starttls-refused" and "554 5.7.1 no SMTP service for you" in finding.title


def test_imap_logindisabled_hides_no_password_but_its_absence_is_one():
    d, _, _ = talk("imap", [b"* OK ready\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\nA1 OK\r\n"])
    assert d.facts.password_auth == ()
    d, _, _ = talk("imap", [b"* OK ready\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\nA1 OK\r\n"])
    assert d.facts.password_auth == ("AUTH=PLAIN", "the LOGIN command (no LOGINDISABLED)")


def test_irc_does_not_send_starttls_when_tls_is_not_listed():
    d, sent, events = talk("irc", [b":irc.lab.test NOTICE * :*** Looking up your hostname...\r\n",
                                   b":irc.lab.test CAP * LS :inspircd.org/poison \r\n"])
    assert sent == [b"CAP LS 302\r\n"] and d.status == "failed"
    assert isinstance(events[-1], UpgradeNotOffered) and d.facts.not_tried
    finding = fnd.not_offered("irc", d.facts)
    assert "did not send" in finding.explanation and "before registration" in finding.explanation


def test_irc_answers_a_ping_and_reads_a_multi_line_cap_list():
    d, sent, _ = talk("irc", [b"PING :cookie\r\n", b":s CAP * LS * :a b\r\n", b":s CAP * LS :tls sasl=PLAIN,EXTERNAL\r\n"])
    assert sent == [b"CAP LS 302\r\n", b"PONG :cookie\r\n", b"STARTTLS\r\n"]
    assert d.facts.capabilities == ("a", "b", "tls", "sasl=PLAIN,EXTERNAL")
    assert d.facts.password_auth == ("sasl PLAIN",)


def test_xmpp_plain_server_offers_no_starttls_but_plain_sasl():
    d, sent, events = talk("xmpp", [PROSODY_HEADER + b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:"
                                    b"ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
                                    b"</mechanisms></stream:features>"])
    assert len(sent) == 1 and d.status == "failed" and d.facts.offered is False
    assert d.facts.capabilities == ("SASL PLAIN", "SASL SCRAM-SHA-1", )
    assert d.facts.password_auth == ("SASL PLAIN",)


def test_xmpp_stream_error_is_a_refused_session():
    d, _, _ = talk("xmpp", [PROSODY_HEADER[:60], PROSODY_HEADER[60:] + b"<stream:error><host-unknown xmlns='urn:"
                            b"ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"])
    assert d.status == "failed" and d.facts.session_refused
    assert "host-unknown" in d.facts.notes[0]


def test_ldap_without_the_starttls_oid_tries_and_reads_the_refusal():
    d, sent, _ = talk("ldap", [ldap_entry(1, [b"1.3.6.1.4.1.4203.1.11.3"]) + ldap_result(1, 0x65, 0),
                               ldap_result(2, 0x78, 2, b"unsupported extended operation")])
    assert sent == [search_root_dse(1), start_tls_request(2)]
    assert d.facts.offered is False and d.facts.accepted is False
    assert d.facts.reply == ("ExtendedResponse: 2 (protocolError): unsupported extended operation",)


def test_postgres_n_and_an_error_response():
    d, _, _ = talk("postgres", [b"N"])
    assert d.status == "failed" and d.facts.offered is False and d.facts.reply == ("N",)
    assert "answered the SSLRequest with N" in fnd.not_offered("postgres", d.facts).title
    error = b"E" + (4 + 30).to_bytes(4, "big") + b"SFATAL\x00Munsupported frontend\x00\x00"
    d, _, _ = talk("postgres", [error[:3], error[3:]])
    assert d.status == "failed" and d.facts.reply == ("ErrorResponse: FATAL: unsupported frontend",)


def test_mysql_without_client_ssl_sends_nothing():
    d, sent, events = talk("mysql", [MARIADB_NO_SSL])
    assert sent == [] and d.facts.offered is False and d.status == "failed"
    assert not (int.from_bytes(MARIADB_NO_SSL[46:48], "little") & CLIENT_SSL)
    assert "server version 5.5.5-10.11.19-MariaDB-0+deb12u1" in d.facts.capabilities
    assert "auth plugin mysql_native_password" in d.facts.capabilities


def test_mysql_error_packet_before_the_handshake():
    packet = b"\x6a\x04Host '10.0.0.9' is not allowed to connect to this MariaDB server"
    raw = len(b"\xff" + packet).to_bytes(3, "little") + b"\x00\xff" + packet
    d, _, _ = talk("mysql", [raw])
    assert d.facts.session_refused and "is not allowed to connect" in d.facts.reply[0]
    assert d.facts.reply[0].startswith("error 1130:")


@pytest.mark.parametrize("protocol,data,looks", [
    ("imap", b"220 mail.lab.test ESMTP tlsbench lab postfix\r\n", "smtp"),
    ("smtp", b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "imap"),
    ("pop3", MARIADB_GREETING, "mysql"),
    ("smtp", b"HTTP/1.1 400 Bad Request\r\n\r\n", None),
    ("sieve", b"+OK ready\r\n", "pop3"),
    ("nntp", b"SSH-2.0-OpenSSH_9.2\r\n", None),
])
def test_a_peer_speaking_another_protocol_is_named(protocol, data, looks):
    d, _, events = talk(protocol, [data])
    assert d.status == "failed" and isinstance(events[-1], UnexpectedReply)
    finding = fnd.unexpected(protocol, d.facts, 12345)
    assert finding.code == "starttls-unexpected-reply"
    if looks:
        assert f"--starttls {looks}" in cli_text(finding.suggestion)
    assert any(e.label == "received (text)" and e.value == data[:300].decode("latin-1") for e in finding.evidence)


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3", "ftp", "nntp", "sieve", "irc"])
def test_a_tls_record_instead_of_a_greeting_means_implicit_tls(protocol):
    alert = b"\x15\x03\x03\x00\x02\x02\x46"
    d, _, _ = talk(protocol, [alert])
    assert d.status == "failed" and d.facts.unexpected == alert
    finding = fnd.unexpected(protocol, d.facts, 993)
    assert finding.code == "starttls-implicit-tls" and "drop --starttls" in finding.title


def test_bytes_after_the_reply_that_agreed_are_kept_as_leftover():
    d, _, _ = talk("smtp", [b"220 x ESMTP\r\n", b"250 STARTTLS\r\n", b"220 go ahead\r\n554 oops, plain text\r\n"])
    assert d.status == "ready" and d.facts.leftover == b"554 oops, plain text\r\n"
    d.receive(b"more")
    assert d.facts.leftover.endswith(b"more")


def test_an_eof_while_waiting_is_a_close_with_what_came():
    d, _, events = talk("pop3", [b"+OK ready\r\n", b"+OK\r\nSTLS\r\n", b""])
    assert isinstance(events[-1], ConnectionClosed) and d.facts.closed
    assert d.facts.partial == b"+OK\r\nSTLS\r\n" and "CAPA" in d.facts.awaiting


def test_the_tls_phase_lists_the_capabilities_again():
    d, _, _ = talk("imap", CONVERSATIONS["imap"][0])
    events = d.begin_tls()
    assert d.data_to_send() == b"A3 CAPABILITY\r\n" and events == []
    events = d.receive(b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN\r\nA3 OK done\r\n")
    assert d.status == "done" and isinstance(events[0], CapabilitiesListed) and events[0].phase == "tls"
    assert d.facts.capabilities_tls == ("IMAP4rev1", "SASL-IR", "AUTH=PLAIN", "AUTH=LOGIN")
    assert d.facts.capabilities == ("IMAP4rev1", "SASL-IR", "STARTTLS", "LOGINDISABLED")


def test_sieve_reads_the_capabilities_the_server_sends_after_tls():
    d, _, _ = talk("sieve", CONVERSATIONS["sieve"][0])
    d.begin_tls()
    assert d.data_to_send() == b""
    d.receive(b'"IMPLEMENTATION" "Dovecot"\r\n"SASL" "PLAIN LOGIN"\r\nOK "TLS negotiation successful."\r\n')
    assert d.status == "done" and '"SASL" "PLAIN LOGIN"' in d.facts.capabilities_tls


def test_implicit_tls_phase_starts_with_the_greeting():
    d = dialogue("pop3")
    d.begin_tls(implicit=True)
    assert d.data_to_send() == b""
    d.receive(b"+OK ready\r\n")
    assert d.data_to_send() == b"CAPA\r\n"
    d.receive(b"+OK\r\nUSER\r\n.\r\n")
    assert d.status == "done" and d.facts.capabilities_tls == ("USER",)


def test_every_protocol_of_s_client_has_a_dialogue():
    from tlsbench.engine.spec import STARTTLS_PROTOCOLS

    assert set(DIALOGUES) == set(STARTTLS_PROTOCOLS)


@pytest.mark.parametrize("data,port,protocol", [
    (b"220 mail.lab.test ESMTP tlsbench lab postfix\r\n", 2525, "smtp"),
    (b"220 mail.lab.test Dovecot (Debian) ready.\r\n", 24, "lmtp"),
    (b"220 mail.lab.test Dovecot (Debian) ready.\r\n", 40000, "smtp"),
    (b"220 tlsbench lab vsftpd\r\n", 40000, "ftp"),
    (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", 40000, "imap"),
    (b"+OK Dovecot ready.\r\n", 40000, "pop3"),
    (b"200 news.lab.test InterNetNews NNRP server ready\r\n", 40000, "nntp"),
    (b'"IMPLEMENTATION" "Dovecot (Debian) Pigeonhole"\r\n', 40000, "sieve"),
    (MARIADB_GREETING, 40000, "mysql"),
])
def test_auto_reads_the_protocol_from_the_greeting(data, port, protocol):
    assert detect.greeting_complete(data)
    choice = detect.by_greeting(data, port)
    assert choice.protocol == protocol and not choice.implicit and "greeted with" in choice.because


def test_auto_uses_the_port_for_protocols_whose_client_speaks_first():
    assert [detect.by_port(p).protocol for p in (5432, 389, 5222, 6667)] == ["postgres", "ldap", "xmpp", "irc"]
    assert detect.by_port(25) is None and detect.by_port(40000) is None
    silent = detect.on_silence(993, 1.5)
    assert silent.implicit and silent.protocol == "imap" and "IMAPS" in silent.because
    assert detect.on_silence(40000, 10).protocol is None
    assert not detect.greeting_complete(MARIADB_GREETING[:10]) and not detect.greeting_complete(b"220 mail")


def test_xmpp_server_is_s_clients_server_to_server_stream():
    """-starttls xmpp-server: the jabber:server namespace, chosen by auto on port 5269, not asked again
    over TLS (a stream without `from` gets an error there), and everything else as XMPP."""
    from tlsbench.engine.spec import build_spec

    assert build_spec("lab.test:5269", starttls="XMPP-Server").starttls.protocol == "xmpp-server"
    assert detect.by_port(5269).protocol == "xmpp-server" and detect.by_port(5222).protocol == "xmpp"
    assert not DIALOGUES["xmpp-server"].asks_again and DIALOGUES["xmpp"].asks_again
    assert fnd.COMMANDS["xmpp-server"] == fnd.COMMANDS["xmpp"] == "<starttls/>"


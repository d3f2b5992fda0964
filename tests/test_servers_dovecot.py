"""dovecot launchers: IMAP, POP3, LMTP and ManageSieve with STARTTLS, without it, and with
plaintext login offered before TLS."""

from __future__ import annotations

import pytest

from conftest import Conversation, handshake_verified, s_client
from tlsbench.lab.mail_servers import MAIL_PASSWORD, MAIL_USER

pytestmark = pytest.mark.servers

PROTOCOLS = ("imap", "pop3", "lmtp", "sieve")


def capabilities(endpoint) -> bytes:
    """What each protocol advertises before TLS."""
    with Conversation(endpoint) as c:
        if endpoint.protocol == "imap":
            c.read_until(rb"\* OK [^\r\n]*\r\n")
            return c.ask(b"a CAPABILITY", rb"(?m)^a OK [^\r\n]*\r\n")
        if endpoint.protocol == "pop3":
            c.read_until(rb"\+OK [^\r\n]*\r\n")
            return c.ask(b"CAPA", rb"\r\n\.\r\n")
        if endpoint.protocol == "lmtp":
            c.read_until(rb"220 [^\r\n]*\r\n")
            return c.ask(b"LHLO client.lab.test", rb"\r\n250 [^\r\n]*\r\n")
        return c.read_until(rb"OK [^\r\n]*\r\n")  # ManageSieve greets with its capabilities


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dovecot_starttls_completes(dovecot_tls, lab_certs, protocol):
    endpoint = dovecot_tls.endpoint(protocol)
    assert endpoint.tls and endpoint.protocol == protocol and endpoint.host == dovecot_tls.host
    assert (b"STLS" if protocol == "pop3" else b"STARTTLS") in capabilities(endpoint)
    result = s_client(endpoint, protocol, lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = mail.lab.test" in result.stdout


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dovecot_plain_does_not_offer_starttls(dovecot_plain, lab_certs, protocol):
    endpoint = dovecot_plain.endpoint(protocol)
    assert not endpoint.tls
    answer = capabilities(endpoint)
    assert b"STARTTLS" not in answer and b"STLS" not in answer
    result = s_client(endpoint, protocol, lab_certs.ca_cert)
    assert result.returncode != 0 and "CONNECTION ESTABLISHED" not in result.stdout


def test_dovecot_tls_hides_plaintext_login_until_starttls(dovecot_tls, lab_certs):
    imap = dovecot_tls.endpoint("imap")
    before = capabilities(imap)
    assert b"LOGINDISABLED" in before and b"AUTH=PLAIN" not in before
    with Conversation(imap) as c:
        c.read_until(rb"\* OK [^\r\n]*\r\n")
        assert c.ask(b"a STARTTLS", rb"(?m)^a [^\r\n]*\r\n").startswith(b"a OK")
        c.start_tls(lab_certs.ca_cert, "mail.lab.test")
        after = c.ask(b"b CAPABILITY", rb"(?m)^b OK [^\r\n]*\r\n")
        assert b"AUTH=PLAIN" in after and b"LOGINDISABLED" not in after
        logged_in = c.ask(f"c LOGIN {MAIL_USER} {MAIL_PASSWORD}".encode(), rb"(?m)^c [^\r\n]*\r\n")
        assert logged_in.startswith(b"c OK"), logged_in


def test_dovecot_plaintext_auth_variant_offers_login_before_tls(dovecot_tls_plaintext_auth):
    before = capabilities(dovecot_tls_plaintext_auth.endpoint("imap"))
    assert b"STARTTLS" in before and b"AUTH=PLAIN" in before and b"LOGINDISABLED" not in before
    pop3 = capabilities(dovecot_tls_plaintext_auth.endpoint("pop3"))
    assert b"STLS" in pop3 and b"USER" in pop3
    assert "plaintext login before TLS" in dovecot_tls_plaintext_auth.description


def test_dovecot_plain_logs_in_without_tls(dovecot_plain):
    with Conversation(dovecot_plain.endpoint("imap")) as c:
        c.read_until(rb"\* OK [^\r\n]*\r\n")
        answer = c.ask(f"a LOGIN {MAIL_USER} {MAIL_PASSWORD}".encode(), rb"(?m)^a [^\r\n]*\r\n")
        assert answer.startswith(b"a OK"), answer
        assert b"\nb OK [READ-WRITE]" in c.ask(b"b SELECT INBOX", rb"(?m)^b [^\r\n]*\r\n")

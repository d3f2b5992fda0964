"""postfix launchers: STARTTLS with a lab certificate, and an SMTP server that does not offer it."""

from __future__ import annotations

import pytest

from conftest import Conversation, handshake_verified, s_client

pytestmark = pytest.mark.servers


def ehlo(server) -> bytes:
    with Conversation(server) as smtp:
        assert smtp.read_until(rb"220 [^\r\n]*\r\n").startswith(b"220 mail.lab.test ESMTP")
        return smtp.ask(b"EHLO client.lab.test", rb"\r\n250 [^\r\n]*\r\n")


def test_postfix_offers_starttls_and_completes_it(postfix_tls, lab_certs):
    assert b"250-STARTTLS" in ehlo(postfix_tls)
    result = s_client(postfix_tls, "smtp", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = mail.lab.test" in result.stdout
    assert postfix_tls.tls and "STARTTLS offered" in postfix_tls.description


def test_postfix_plain_does_not_offer_starttls(postfix_plain, lab_certs):
    answer = ehlo(postfix_plain)
    assert b"STARTTLS" not in answer and b"250-PIPELINING" in answer
    result = s_client(postfix_plain, "smtp", lab_certs.ca_cert)
    assert result.returncode != 0 and "CONNECTION ESTABLISHED" not in result.stdout
    assert "Didn't find STARTTLS" in result.stdout
    assert not postfix_plain.tls


def test_postfix_accepts_a_message(postfix_plain):
    with Conversation(postfix_plain) as smtp:
        smtp.read_until(rb"220 [^\r\n]*\r\n")
        smtp.ask(b"EHLO client.lab.test", rb"\r\n250 [^\r\n]*\r\n")
        assert smtp.ask(b"MAIL FROM:<alice@lab.test>", rb"\r\n").startswith(b"250 ")
        assert smtp.ask(b"RCPT TO:<bob@lab.test>", rb"\r\n").startswith(b"250 ")
        assert smtp.ask(b"DATA", rb"\r\n").startswith(b"354 ")
        assert smtp.ask(b"Subject: lab\r\n\r\nhello\r\n.", rb"\r\n").startswith(b"250 2.0.0 Ok: queued")
        smtp.ask(b"QUIT", rb"\r\n")

"""The MTA launchers (postfix or exim4, whichever the machine has): STARTTLS with a lab certificate,
and an SMTP server that does not offer it."""

from __future__ import annotations

import pytest

from conftest import Conversation, handshake_verified, s_client

pytestmark = pytest.mark.servers


def ehlo(server) -> bytes:
    with Conversation(server) as smtp:
        assert smtp.read_until(rb"220 [^\r\n]*\r\n").startswith(b"220 mail.lab.test ESMTP")
        return smtp.ask(b"EHLO client.lab.test", rb"\r\n250 [^\r\n]*\r\n")


def test_mta_offers_starttls_and_completes_it(smtp_tls, lab_certs):
    assert b"250-STARTTLS" in ehlo(smtp_tls)
    result = s_client(smtp_tls, "smtp", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = mail.lab.test" in result.stdout
    assert smtp_tls.tls and "STARTTLS offered" in smtp_tls.description


def test_smtp_plain_does_not_offer_starttls(smtp_plain, lab_certs):
    answer = ehlo(smtp_plain)
    assert b"STARTTLS" not in answer and b"250-PIPELINING" in answer
    result = s_client(smtp_plain, "smtp", lab_certs.ca_cert)
    assert result.returncode != 0 and "CONNECTION ESTABLISHED" not in result.stdout
    assert "Didn't find STARTTLS" in result.stdout
    assert not smtp_plain.tls


def test_the_mta_is_the_one_installed(smtp_plain):
    """Debian's MTAs conflict: the lab uses postfix where it is installed, else exim4, and never asks for the other."""
    from tlsbench.lab.mail_servers import POSTFIX_DAEMONS
    from tlsbench.lab.processes import find_binary

    has_postfix = find_binary("postfix") is not None and (POSTFIX_DAEMONS / "master").is_file()
    assert smtp_plain.name == ("postfix" if has_postfix else "exim4")
    assert smtp_plain.description.startswith(smtp_plain.name)


def test_mta_accepts_a_message(smtp_plain):
    with Conversation(smtp_plain) as smtp:
        smtp.read_until(rb"220 [^\r\n]*\r\n")
        smtp.ask(b"EHLO client.lab.test", rb"\r\n250 [^\r\n]*\r\n")
        assert smtp.ask(b"MAIL FROM:<alice@lab.test>", rb"\r\n").startswith(b"250 ")
        assert smtp.ask(b"RCPT TO:<bob@lab.test>", rb"\r\n").startswith(b"250 ")
        assert smtp.ask(b"DATA", rb"\r\n").startswith(b"354 ")
        assert smtp.ask(b"Subject: lab\r\n\r\nhello\r\n.", rb"\r\n").startswith(b"250 ")
        smtp.ask(b"QUIT", rb"\r\n")

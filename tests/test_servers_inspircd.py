"""InspIRCd launchers: IRC STARTTLS (IRCv3 `tls`, numeric 670) and a server without it."""

from __future__ import annotations

import pytest

from conftest import Conversation, handshake_verified, s_client

pytestmark = pytest.mark.servers


def cap_ls(server) -> bytes:
    with Conversation(server) as irc:
        return irc.ask(b"CAP LS 302", rb"CAP \* LS :[^\r\n]*\r\n")


def test_inspircd_starttls(irc_tls, lab_certs):
    assert b" tls" in cap_ls(irc_tls) or b":tls" in cap_ls(irc_tls)
    result = s_client(irc_tls, "irc", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = irc.lab.test" in result.stdout


def test_inspircd_plain_has_no_starttls(irc_plain):
    caps = cap_ls(irc_plain)
    assert b"tls" not in caps.split(b"LS :", 1)[1]
    with Conversation(irc_plain) as irc:
        # Before registration this server does not answer an unknown command at all (s_client
        # would wait its fixed 8 s for a 670), so register and look at everything said meanwhile.
        irc.sock.sendall(b"STARTTLS\r\nNICK labnick\r\nUSER lab 0 * :lab\r\n")
        before = irc.read_until(rb" 001 labnick [^\r\n]*\r\n")
        assert b" 670 " not in before and b" 691 " not in before
        answer = irc.ask(b"STARTTLS", rb" 421 [^\r\n]*\r\n")
        assert b"STARTTLS :Unknown command" in answer

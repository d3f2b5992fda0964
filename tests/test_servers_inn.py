"""INN launchers: nnrpd with STARTTLS and a lab certificate, innd (transit) offering none."""

from __future__ import annotations

import pytest

from conftest import Conversation, handshake_verified, s_client

pytestmark = pytest.mark.servers


def capabilities(server) -> tuple[bytes, bytes]:
    with Conversation(server) as nntp:
        greeting = nntp.read_until(rb"\r\n")
        return greeting, nntp.ask(b"CAPABILITIES", rb"\r\n\.\r\n")


def test_nnrpd_starttls(nntp_tls, lab_certs):
    greeting, caps = capabilities(nntp_tls)
    assert greeting.startswith(b"200 news.lab.test InterNetNews NNRP server")
    assert b"\r\nSTARTTLS\r\n" in caps and b"\r\nREADER\r\n" in caps
    result = s_client(nntp_tls, "nntp", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = news.lab.test" in result.stdout


def test_innd_offers_no_starttls(nntp_plain, lab_certs):
    greeting, caps = capabilities(nntp_plain)
    assert greeting.startswith(b"200 ") and b"transit mode" in greeting
    assert b"STARTTLS" not in caps and b"\r\nIHAVE\r\n" in caps
    result = s_client(nntp_plain, "nntp", lab_certs.ca_cert)
    assert result.returncode != 0 and "CONNECTION ESTABLISHED" not in result.stdout
    assert "Didn't find STARTTLS" in result.stdout


def test_nnrpd_without_certificate_lists_starttls_but_fails_it(lab_certs):
    from conftest import need
    from tlsbench.lab.news_server import nnrpd

    with need(nnrpd) as server:
        _, caps = capabilities(server)
        assert b"\r\nSTARTTLS\r\n" in caps
        result = s_client(server, "nntp", lab_certs.ca_cert)
    assert result.returncode != 0 and "580" in result.stdout

"""vsftpd launchers: AUTH TLS with a lab certificate, and an FTP server without it."""

from __future__ import annotations

import pytest

from conftest import Conversation, handshake_verified, s_client

pytestmark = pytest.mark.servers


def feat(server) -> bytes:
    with Conversation(server) as ftp:
        assert b"tlsbench lab vsftpd" in ftp.read_until(rb"220 [^\r\n]*\r\n")
        return ftp.ask(b"FEAT", rb"(?m)^211 [^\r\n]*\r\n")


def test_vsftpd_auth_tls_completes(vsftpd_tls, lab_certs):
    assert b" AUTH TLS" in feat(vsftpd_tls)
    result = s_client(vsftpd_tls, "ftp", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = ftp.lab.test" in result.stdout


def test_vsftpd_plain_refuses_auth_tls(vsftpd_plain, lab_certs):
    assert b"AUTH TLS" not in feat(vsftpd_plain)
    with Conversation(vsftpd_plain) as ftp:
        ftp.read_until(rb"220 [^\r\n]*\r\n")
        assert ftp.ask(b"AUTH TLS", rb"\r\n")[:1] == b"5"  # 530/500: not available
    result = s_client(vsftpd_plain, "ftp", lab_certs.ca_cert)
    assert result.returncode != 0 and "CONNECTION ESTABLISHED" not in result.stdout

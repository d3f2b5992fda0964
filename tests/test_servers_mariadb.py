"""MariaDB launchers: SSL with a lab certificate, and --skip-ssl (no CLIENT_SSL flag)."""

from __future__ import annotations

import struct

import pytest

from conftest import Conversation, handshake_verified, s_client

pytestmark = pytest.mark.servers

CLIENT_SSL = 0x0800


def greeting_capabilities(server) -> int:
    """The lower capability flags of the server's initial handshake packet (protocol 10)."""
    with Conversation(server) as c:
        header = c.read_until(rb"(?s)^....")
        length = int.from_bytes(header[:3], "little")
        while len(c.buffer) < length:
            c.buffer += c.sock.recv(65536)
        payload = c.buffer[:length]
    assert payload[0] == 10, payload[:20]
    after_version = payload.index(b"\0", 1) + 1
    flags_at = after_version + 4 + 8 + 1  # connection id, auth data part 1, filler
    return struct.unpack_from("<H", payload, flags_at)[0]


def test_mariadb_ssl(mariadb_tls, lab_certs):
    assert greeting_capabilities(mariadb_tls) & CLIENT_SSL
    result = s_client(mariadb_tls, "mysql", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = db.lab.test" in result.stdout


def test_mariadb_skip_ssl(mariadb_plain, lab_certs):
    assert not greeting_capabilities(mariadb_plain) & CLIENT_SSL
    result = s_client(mariadb_plain, "mysql", lab_certs.ca_cert)
    assert result.returncode != 0 and "does not support SSL" in result.stdout

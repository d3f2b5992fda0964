"""PostgreSQL launchers: SSL on with a lab certificate, and SSL off, seen by s_client and psql."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from conftest import Conversation, handshake_verified, need_binary, s_client

pytestmark = pytest.mark.servers

SSL_REQUEST = struct.pack("!II", 8, 80877103)


def ssl_answer(server) -> bytes:
    """The one byte a server answers to an SSLRequest: b"S" (go ahead) or b"N"."""
    with Conversation(server) as c:
        c.sock.sendall(SSL_REQUEST)
        return c.read_until(rb"[SN]")


def test_postgres_ssl_on(postgres_tls, lab_certs):
    assert ssl_answer(postgres_tls) == b"S"
    result = s_client(postgres_tls, "postgres", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = db.lab.test" in result.stdout


def test_psql_connects_with_verify_full(postgres_tls, lab_certs):
    env = {**os.environ, "PGSSLROOTCERT": str(lab_certs.ca_cert), "PGCONNECT_TIMEOUT": "10"}
    done = subprocess.run([need_binary("psql"), "-X", "-A", "-t", "-c",
                           "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
                           f"host=localhost port={postgres_tls.port} user=postgres dbname=postgres "
                           "sslmode=verify-full"],
                          capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "t"


def test_postgres_ssl_off(postgres_plain, lab_certs):
    assert ssl_answer(postgres_plain) == b"N"
    result = s_client(postgres_plain, "postgres", lab_certs.ca_cert)
    assert result.returncode != 0 and "CONNECTION ESTABLISHED" not in result.stdout

"""prosody launchers: XMPP STARTTLS with a lab certificate, and a server offering none."""

from __future__ import annotations

import subprocess

import pytest

from conftest import Conversation, handshake_verified, s_client

pytestmark = pytest.mark.servers

STREAM = (b"<?xml version='1.0'?><stream:stream to='lab.test' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


def stream_features(server) -> bytes:
    with Conversation(server) as c:
        c.sock.sendall(STREAM)
        return c.read_until(rb"</stream:features>")


def test_prosody_starttls(prosody_tls, lab_certs):
    features = stream_features(prosody_tls)
    assert b"urn:ietf:params:xml:ns:xmpp-tls" in features and b"<required" in features
    result = s_client(prosody_tls, "xmpp", lab_certs.ca_cert, "-xmpphost", "lab.test")
    assert handshake_verified(result), result.stdout
    assert "CN = lab.test" in result.stdout


def test_prosody_s2s_port_speaks_starttls_to_s_client(prosody_tls, lab_certs):
    """The lab's peer for `-starttls xmpp-server`: openssl s_client itself upgrades there."""
    result = s_client(prosody_tls.endpoint("xmpp-server"), "xmpp-server", lab_certs.ca_cert, "-xmpphost", "lab.test")
    assert handshake_verified(result), result.stdout


def test_prosody_plain_offers_no_starttls(prosody_plain, lab_certs):
    features = stream_features(prosody_plain)
    assert b"xmpp-tls" not in features and b"<mechanism>PLAIN</mechanism>" in features
    # s_client waits for a <starttls/> feature that never comes: bounded here, never a handshake.
    try:
        result = s_client(prosody_plain, "xmpp", lab_certs.ca_cert, "-xmpphost", "lab.test", timeout=1)
        output = result.stdout
        assert result.returncode != 0
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
    assert "CONNECTION ESTABLISHED" not in output

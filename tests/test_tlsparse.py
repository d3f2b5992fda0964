"""The handshake-message parsers (engine/tls/tlsparse.py, dername.py, tlsfacts.py) fed bytes alone.

Real messages come from an in-memory handshake (two SSLObjects over memory BIOs, OpenSSL's
message callback on the client); Hypothesis then feeds every parser arbitrary bytes and mutated
real messages: they must finish, raise nothing, and what they return must render safely.
"""

from __future__ import annotations

import os
import ssl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsbench.engine.certs import dername

from tlsbench.engine.tls import tlsfacts

from tlsbench.engine.tls import tlsparse
from tlsbench.engine.tls.tlsmsg import decode_callback
from tlsbench.engine.tls.tlsnames import SUITES, group_name, signature_name, suite_name
from tlsbench.visible import is_hidden, visible

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def memory_handshake(certs, *, version=None, client_ca=False, ciphers=None, groups=None, rsa=False):
    """Run a handshake in memory; the WireMessages the client saw, in order."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf = certs.good_rsa if rsa else certs.good
    server.load_cert_chain(str(leaf.chain), str(leaf.key))
    if client_ca:
        server.verify_mode = ssl.CERT_REQUIRED
        server.load_verify_locations(str(certs.client_ca_cert))
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(str(certs.ca_cert))
    if client_ca:
        client.load_cert_chain(str(certs.client.cert), str(certs.client.key))
    if version:
        for ctx in (server, client):
            ctx.minimum_version = ctx.maximum_version = version
    if ciphers:
        server.set_ciphers(ciphers)
        client.set_ciphers(ciphers)
    if groups:
        server.set_ecdh_curve(groups)
    seen = []

    def cb(conn, direction, ver, content_type, msg_type, data):
        msg = decode_callback(direction, int(ver), int(content_type), bytes(data))
        if msg is not None:
            seen.append(msg)

    client._msg_callback = cb
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    s = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for obj in (c, s):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    c.write(b"x")
    s_in.write(c_out.read())
    s.read(1)  # the server sends its TLS 1.3 tickets now
    c_in.write(s_out.read())
    try:
        c.read(1)
    except ssl.SSLWantReadError:
        pass
    return seen


@pytest.fixture(scope="module")
def tls13_messages(lab_certs):
    return memory_handshake(lab_certs, client_ca=True)


@pytest.fixture(scope="module")
def tls12_messages(lab_certs):
    return memory_handshake(lab_certs, version=ssl.TLSVersion.TLSv1_2, client_ca=True,
                            ciphers="ECDHE-RSA-AES128-GCM-SHA256", rsa=True)


def received(messages, name):
    return next(m for m in messages if m.direction == "received" and m.name == name)


def test_tls13_messages_parse(tls13_messages, lab_certs):
    facts = tlsfacts.negotiated(tls13_messages)
    assert facts.version == "TLS 1.3" and facts.group == "x25519"
    assert facts.signature_algorithm == "ecdsa_secp256r1_sha256"
    assert {(e.name, e.where) for e in facts.extensions} >= {("key_share", "ServerHello"),
                                                           ("supported_versions", "ServerHello")}
    assert facts.cert_request is not None
    assert facts.cert_request.ca_names == ()  # Python's server names no CAs (s_server does: see the server tests)
    assert "rsa_pss_rsae_sha256" in facts.cert_request.signature_algorithms
    assert facts.ticket_lifetimes and all(t > 0 for t in facts.ticket_lifetimes)
    hello = tlsparse.parse_server_hello(received(tls13_messages, "ServerHello").data)
    assert hello.version == 0x0304 and suite_name(hello.cipher_suite).startswith("TLS_AES")


def test_tls12_messages_parse(tls12_messages):
    facts = tlsfacts.negotiated(tls12_messages)
    assert facts.version == "TLS 1.2" and facts.key_exchange == "ECDHE"
    assert facts.cipher_suite == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert facts.group == "x25519" and facts.signature_algorithm.startswith("rsa_")
    req = facts.cert_request
    assert req.ca_names == ()
    assert "ecdsa_sign" in req.certificate_types and req.signature_algorithms


def test_rsa_key_transport_has_no_group(lab_certs):
    facts = tlsfacts.negotiated(memory_handshake(lab_certs, version=ssl.TLSVersion.TLSv1_2,
                                                 ciphers="AES128-GCM-SHA256", rsa=True))
    assert facts.key_exchange == "RSA" and facts.group is None and facts.signature_algorithm is None


def test_names_of_numbers():
    assert group_name(0x1D) == "x25519" and group_name(0x1234) == "0x1234"
    assert signature_name(0x0804) == "rsa_pss_rsae_sha256"
    assert signature_name(0x0101) == "rsa_md5"  # TLS 1.2's hash/signature pair
    assert SUITES[0x000A].weaknesses and not SUITES[0xC02F].weaknesses
    assert SUITES[0xC02F].forward_secrecy and not SUITES[0x002F].forward_secrecy


def test_dername_matches_cryptography(lab_certs):
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(lab_certs.good.cert.read_bytes())
    assert dername.name_text(cert.subject.public_bytes()) == cert.subject.rfc4514_string()
    assert dername.name_text(b"\x30\x05junk") .startswith("#")


# --- any bytes, mutated real messages ---------------------------------------------------------------

PARSERS = (
    lambda d: tlsparse.parse_server_hello(d),
    lambda d: tlsparse.parse_server_key_exchange(d, None),
    lambda d: tlsparse.parse_server_key_exchange(d, "DHE", tls12=False),
    lambda d: tlsparse.parse_certificate_verify(d),
    lambda d: tlsparse.parse_encrypted_extensions(d),
    lambda d: tlsparse.parse_certificate_request(d, True),
    lambda d: tlsparse.parse_certificate_request(d, False),
    lambda d: tlsparse.parse_new_session_ticket(d, True),
    lambda d: tlsparse.parse_new_session_ticket(d, False),
)


def _all_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _all_strings(item)


def _check(data: bytes) -> None:
    for parse in PARSERS:
        result = parse(data)
        for text in _all_strings(result):
            shown = visible(text, keep_newlines=False)
            assert not any(is_hidden(ch) for ch in shown if ch != "\t"), shown


@SETTINGS
@given(st.integers(0, 20), st.binary(max_size=400))
def test_parsers_on_any_bytes(htype, data):
    _check(bytes([htype]) + len(data).to_bytes(3, "big") + data)
    _check(data)


@SETTINGS
@given(data=st.data())
def test_parsers_on_mutated_real_messages(tls13_messages, tls12_messages, data):
    pool = [m for m in tls13_messages + tls12_messages if m.content_type == "handshake" and m.data]
    msg = data.draw(st.sampled_from(pool)).data
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(msg) - 1), st.integers(0, 255)), max_size=6))
    raw = bytearray(msg)
    for pos, value in edits:
        raw[pos] = value
    cut = data.draw(st.integers(0, len(raw)))
    _check(bytes(raw[:cut]))
    _check(bytes(raw))


@SETTINGS
@given(st.binary(max_size=300))
def test_dername_on_any_bytes(data):
    text = dername.name_text(data)
    assert isinstance(text, str)
    shown = visible(text, keep_newlines=False)
    assert not any(is_hidden(ch) for ch in shown if ch != "\t")


@SETTINGS
@given(picks=st.lists(st.tuples(st.sampled_from(["tls13", "tls12"]), st.integers(0, 30)), max_size=5),
       data=st.data())
def test_negotiated_never_raises(tls13_messages, tls12_messages, picks, data):
    pool = tls13_messages + tls12_messages
    messages = [pool[i % len(pool)] for _, i in picks]
    messages = [m._replace(data=data.draw(st.binary(max_size=60)) if i % 2 else m.data)
                for i, m in enumerate(messages)]
    tlsfacts.negotiated(messages)

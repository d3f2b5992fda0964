"""The hand-built TLS 1.3 client (engine/tls13/): against the test responder (the hybrid
X25519MLKEM768 really decapsulated, HelloRetryRequest, a staple, a bad signature or Finished),
against real `openssl s_server -tls1_3` and `gnutls-serv` (x25519, HRR, every suite, RSA-PSS and
ECDSA, a staple read from the TLS 1.3 Certificate message), over the run's route; and from bytes
alone, properties of the parsers of the server's bytes."""

from __future__ import annotations

import os
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.plan import plan_for
from tlsbench.engine.route.opener import RouteOpener
from tlsbench.engine.spec import build_spec
from tlsbench.engine.tls13 import client as c, connect, keyshare, messages, schedule
from tlsbench.lab.tls13_responder import ResponderOptions, Tls13Responder

from conftest import need

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
HYBRID, X25519, P256, P384 = keyshare.X25519MLKEM768, keyshare.X25519, keyshare.SECP256R1, keyshare.SECP384R1
PQ = c.Offer(sni="localhost", groups=(HYBRID, X25519, P256, P384), shares=(HYBRID, X25519))
STAPLE = bytes.fromhex("3003 0a01 00".replace(" ", ""))  # OCSPResponse: successful, no body (a stand-in)


def talk(port: int, offer: c.Offer) -> connect.FirstFlight:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        return connect.exchange(sock.sendall, sock.recv, offer, time.monotonic() + 10)


def responder(lab_certs, **options) -> Tls13Responder:
    return Tls13Responder(ResponderOptions(lab_certs.good.chain, lab_certs.good.key, **options))


# --- the test responder: what only it can do (ML-KEM) -------------------------------------------------

def test_the_hybrid_share_is_decapsulated_and_the_flight_decrypted(lab_certs):
    with responder(lab_certs, ocsp=STAPLE, alpn="h2") as server:
        flight = talk(server.port, PQ._replace(alpn=("h2", "http/1.1")))
    assert flight.outcome == "finished", flight.reason
    hello = flight.server_hello
    assert hello is not None and (hello.group, hello.share_bytes) == (HYBRID, 1120)
    assert flight.decrypted and flight.hello_sizes[0] >= 1184 + 32
    ee = flight.first(c.ExtensionsRead)
    assert ee.extensions.alpn == b"h2" and ee.extensions.server_name_ack
    assert flight.certificate.entries[0].ocsp == STAPLE and len(flight.certificate.entries) == 2
    assert flight.first(c.CertificateVerifyRead) == c.CertificateVerifyRead(0x0403, None)
    assert flight.first(c.FinishedRead) == c.FinishedRead(True)
    size, offered, shared = server.options.seen[0]
    assert offered[:2] == (HYBRID, X25519) and shared == (HYBRID, X25519) and size == flight.hello_sizes[0]


def test_x25519_when_the_server_has_no_ml_kem(lab_certs):
    with responder(lab_certs, groups=(X25519,)) as server:
        flight = talk(server.port, PQ)
    assert flight.outcome == "finished" and flight.server_hello.group == X25519 and flight.retry is None


def test_a_hello_retry_request_gets_a_second_hello_with_the_asked_group(lab_certs):
    with responder(lab_certs, groups=(P256, X25519), retry=True) as server:
        flight = talk(server.port, PQ)
    assert flight.retry == c.HelloRetry(P256, False)
    assert flight.outcome == "finished" and flight.server_hello.group == P256 and len(flight.hello_sizes) == 2
    assert server.options.seen[1][2] == (P256,)  # the second hello shares only the group asked for


def test_no_staple_when_not_asked(lab_certs):
    with responder(lab_certs, ocsp=STAPLE) as server:
        flight = talk(server.port, PQ._replace(status=False))
    assert flight.outcome == "finished" and flight.certificate.entries[0].ocsp is None


@pytest.mark.parametrize("tamper", ["signature", "finished"])
def test_a_bad_signature_or_finished_is_seen(lab_certs, tamper):
    with responder(lab_certs, tamper=tamper) as server:
        flight = talk(server.port, PQ)
    verify, finished = flight.first(c.CertificateVerifyRead), flight.first(c.FinishedRead)
    if tamper == "signature":
        assert verify.problem == "the signature does not verify with the leaf's key"
    else:
        assert verify.problem is None and finished == c.FinishedRead(False)


def test_over_the_runs_route_through_a_socks_proxy(lab_certs, microsocks):
    with responder(lab_certs) as server:
        spec = build_spec(f"localhost:{server.port}", proxies=[f"socks5://127.0.0.1:{microsocks.port}"])
        opener = RouteOpener(plan_for(spec))
        route, failure = opener.resolve(CancelToken())
        assert failure is None
        flight = connect.first_flight(opener, route, PQ, CancelToken(), timeout=10)
    assert flight.outcome == "finished" and flight.server_hello.group == HYBRID


# --- real servers --------------------------------------------------------------------------------------

@pytest.mark.servers
def test_s_server_selects_x25519(tls_server):
    server = tls_server("good", tls_version="1.3")
    flight = talk(server.port, PQ)
    assert flight.outcome == "finished", flight.reason
    assert flight.server_hello.group == X25519 and flight.retry is None
    assert flight.first(c.CertificateVerifyRead) == c.CertificateVerifyRead(0x0403, None)
    assert flight.first(c.FinishedRead) == c.FinishedRead(True)


@pytest.mark.servers
def test_s_server_asks_for_its_group_with_a_hello_retry_request(tls_server):
    server = tls_server("good", tls_version="1.3", extra_args=["-groups", "secp384r1"])
    flight = talk(server.port, PQ)
    assert flight.retry == c.HelloRetry(P384, False)
    assert flight.outcome == "finished" and flight.server_hello.group == P384


@pytest.mark.servers
@pytest.mark.parametrize("suite", [0x1301, 0x1302, 0x1303])
def test_every_suite_decrypts(tls_server, suite):
    server = tls_server("good", tls_version="1.3")
    flight = talk(server.port, c.Offer(sni="localhost", suites=(suite,)))
    assert flight.outcome == "finished" and flight.server_hello.suite == suite


@pytest.mark.servers
def test_s_server_staple_read_from_the_tls13_certificate(tls_server, tmp_path):
    staple = tmp_path / "staple.der"
    staple.write_bytes(STAPLE)
    server = tls_server("good", tls_version="1.3", extra_args=["-status_file", str(staple)])
    flight = talk(server.port, PQ)
    assert flight.outcome == "finished" and flight.certificate.entries[0].ocsp == STAPLE


@pytest.mark.servers
def test_gnutls_rsa_pss_and_hello_retry(lab_certs):
    from tlsbench.lab.gnutls_server import gnutls_server

    server = need(gnutls_server, lab_certs.good_rsa, "NORMAL:-VERS-ALL:+VERS-TLS1.3")
    try:
        first = talk(server.port, PQ)
        retried = talk(server.port, PQ._replace(shares=(HYBRID,)))
    finally:
        server.stop()
    assert first.outcome == "finished" and first.server_hello.group == X25519
    assert first.first(c.CertificateVerifyRead) == c.CertificateVerifyRead(0x0804, None)
    assert retried.retry is not None and retried.retry.group in (X25519, P256, P384)
    assert retried.outcome == "finished" and retried.first(c.FinishedRead) == c.FinishedRead(True)


# --- bytes alone -------------------------------------------------------------------------------------

def test_the_key_schedule_matches_rfc8448():
    """RFC 8448 §3 (simple 1-RTT): the server handshake traffic secret from the ECDHE secret."""
    shared = bytes.fromhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
    hello_hash = bytes.fromhex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
    keys = schedule.handshake_keys(schedule.SUITES[0x1301], shared, hello_hash)
    assert keys.server_secret.hex() == "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
    assert keys.client_secret.hex() == "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"


def _started(offer: c.Offer = PQ) -> c.Tls13Client:
    client = c.Tls13Client(offer)
    client.hello()
    return client


@SETTINGS
@given(st.lists(st.binary(max_size=600), max_size=6))
def test_any_server_bytes_end_in_events_never_an_exception(chunks):
    client = _started(c.Offer(sni="x", shares=(X25519,)))
    for chunk in chunks:
        events = client.receive(chunk)
        assert all(isinstance(e, c.Event.__args__) for e in events)  # type: ignore[attr-defined]


@SETTINGS
@given(st.binary(max_size=400), st.integers(0, 255))
def test_records_framed_as_tls_with_any_payload(payload, ctype):
    client = _started(c.Offer(sni="x", shares=(X25519,)))
    record = bytes([ctype]) + b"\x03\x03" + len(payload).to_bytes(2, "big") + payload
    events = client.receive(record)
    assert not events or isinstance(events[-1], (c.Failed, c.AlertRead, c.ServerHelloRead, c.HelloRetry))


@SETTINGS
@given(st.binary(max_size=500))
def test_the_message_parsers_take_any_bytes(body):
    messages.parse_encrypted_extensions(body)
    messages.parse_certificate(body)
    messages.parse_certificate_verify(body)


@SETTINGS
@given(st.binary(max_size=300))
def test_encrypted_records_of_any_bytes_fail_cleanly(payload):
    """After a real ServerHello, any application_data record is a Failed event (it cannot decrypt)."""
    client = _started(c.Offer(sni="x", shares=(X25519,)))
    share, _ = keyshare.server_share(X25519, client.shares[X25519].share)
    from tlsbench.lab.tls13_responder import _ext, _server_hello

    sh = _server_hello(os.urandom(32), client.session_id, 0x1301, _ext(51, X25519.to_bytes(2, "big")
                                                                       + len(share).to_bytes(2, "big") + share))
    assert [type(e) for e in client.receive(b"\x16\x03\x03" + len(sh).to_bytes(2, "big") + sh)] == [c.ServerHelloRead]
    events = client.receive(b"\x17\x03\x03" + len(payload).to_bytes(2, "big") + payload)
    assert [type(e) for e in events] == [c.Failed] and client.done


def test_a_record_too_large_is_refused_before_it_is_read():
    client = _started()
    events = client.receive(b"\x16\x03\x03\xff\xff")
    assert events == [c.Failed(f"a record of 65535 bytes (at most {schedule.MAX_CIPHERTEXT} allowed)")]


def test_a_server_that_sends_nothing_times_out():
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        sock = socket.create_connection(listener.getsockname(), timeout=0.3)
        flight = connect.exchange(sock.sendall, sock.recv, PQ, time.monotonic() + 5)
        sock.close()
    finally:
        listener.close()
    assert flight.outcome == "timeout" and flight.events == ()


def _after_server_hello(client: c.Tls13Client) -> schedule.RecordProtection:
    """A real ServerHello fed to `client`; returns the server's record protection for what follows."""
    from tlsbench.lab.tls13_responder import _ext, _server_hello

    share, secret = keyshare.server_share(X25519, client.shares[X25519].share)
    sh = _server_hello(os.urandom(32), client.session_id, 0x1301,
                       _ext(51, X25519.to_bytes(2, "big") + len(share).to_bytes(2, "big") + share))
    client.receive(b"\x16\x03\x03" + len(sh).to_bytes(2, "big") + sh)
    suite = schedule.SUITES[0x1301]
    keys = schedule.handshake_keys(suite, secret, schedule.digest("sha256", b"".join(client.transcript)))
    return schedule.RecordProtection(suite, keys.server_secret)


@SETTINGS
@given(st.binary(max_size=300))
def test_a_server_hello_with_any_extensions_block(block):
    """The ServerHello's extensions (key_share, supported_versions, anything) from arbitrary bytes."""
    client = _started(c.Offer(sni="x", shares=(X25519,)))
    body = b"\x03\x03" + os.urandom(32) + bytes([32]) + client.session_id + b"\x13\x01\x00"
    body += len(block).to_bytes(2, "big") + block
    message = b"\x02" + len(body).to_bytes(3, "big") + body
    events = client.receive(b"\x16\x03\x03" + len(message).to_bytes(2, "big") + message)
    assert events and isinstance(events[-1], (c.Failed, c.ServerHelloRead, c.HelloRetry))


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from([8, 11, 13, 15, 20, 4, 2]), st.binary(max_size=200)), max_size=5),
       st.integers(0, 30), st.sampled_from([21, 22, 23, 0]))
def test_decrypted_handshake_messages_of_any_bytes(messages_, padding, inner):
    """Well-encrypted records carrying arbitrary handshake messages (and other inner types, padding)."""
    client = _started(c.Offer(sni="x", shares=(X25519,)))
    server = _after_server_hello(client)
    content = b"".join(bytes([t]) + len(b).to_bytes(3, "big") + b for t, b in messages_)
    events = client.receive(server.encrypt(inner, content, padding=padding) if content or inner else b"")
    for e in events:
        assert isinstance(e, c.Event.__args__)  # type: ignore[attr-defined]
    if events and not isinstance(events[-1], (c.Failed, c.AlertRead, c.FinishedRead)):
        assert not client.done


def test_an_ee_with_alpn_is_read_from_the_decrypted_record():
    client = _started(c.Offer(sni="x", shares=(X25519,), alpn=("h2",)))
    server = _after_server_hello(client)
    alpn = b"\x00\x10" + (5).to_bytes(2, "big") + b"\x00\x03\x02h2"
    ee = b"\x08" + (len(alpn) + 2).to_bytes(3, "big") + len(alpn).to_bytes(2, "big") + alpn
    events = client.receive(server.encrypt(22, ee, padding=3))
    assert [type(e) for e in events] == [c.ExtensionsRead] and events[0].extensions.alpn == b"h2"

"""ClientHello parsing and first-byte sniffing, on real ClientHellos from Python's ssl and on hostile bytes."""

from __future__ import annotations

import random
import ssl
import struct

from tlsbench.engine.listener.alerts import alert_from_reason, alert_name
from tlsbench.engine.listener.clienthello import hello_complete, is_grease, parse_client_hello
from tlsbench.engine.listener.sniff import sniff


def real_hello(server_hostname: str | None = "foo.test", alpn=("h2", "http/1.1"),
               maximum=ssl.TLSVersion.TLSv1_3) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def test_parses_sni_alpn_versions_from_a_real_hello():
    data = real_hello()
    hello = parse_client_hello(data)
    assert hello is not None and hello.complete
    assert hello.sni == "foo.test"
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.versions[0] == "TLS 1.3" and "TLS 1.2" in hello.versions
    assert hello.legacy_version == "TLS 1.2"
    assert hello.cipher_count > 5
    assert hello_complete(data)


def test_no_sni_for_an_ip_address_and_no_alpn():
    hello = parse_client_hello(real_hello("127.0.0.1", alpn=()))
    assert hello is not None and hello.sni is None and hello.alpn == ()


def test_tls12_only_client_lists_no_tls13():
    hello = parse_client_hello(real_hello(maximum=ssl.TLSVersion.TLSv1_2))
    assert hello is not None and "TLS 1.3" not in hello.versions


def test_every_truncation_is_survived_and_marked_incomplete():
    data = real_hello()
    for cut in range(len(data)):
        hello = parse_client_hello(data[:cut])
        assert hello is None or not hello.complete
    assert parse_client_hello(data).complete


def test_random_and_mutated_bytes_never_raise():
    rng = random.Random(1234)
    base = bytearray(real_hello())
    for _ in range(3000):
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        parse_client_hello(bytes(mutated))
        sniff(bytes(mutated))
        garbage = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        parse_client_hello(b"\x16\x03\x01" + garbage)
        sniff(garbage)


def test_grease_values_are_not_counted_as_versions():
    assert is_grease(0x0A0A) and is_grease(0xFAFA) and not is_grease(0x0304)
    versions = b"\x06\x1a\x1a\x03\x04\x03\x03"
    ext = struct.pack("!HH", 43, len(versions)) + versions
    body = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x04\x2a\x2a\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    record = b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs
    hello = parse_client_hello(record)
    assert hello.versions == ("TLS 1.3", "TLS 1.2")
    assert hello.cipher_count == 1


def test_sniff_tells_tls_http_connect_and_other_apart():
    assert sniff(real_hello()).kind == "tls"
    http = sniff(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (http.kind, http.method, http.request_line) == ("http", "GET", "GET / HTTP/1.1")
    connect = sniff(b"CONNECT example.test:443 HTTP/1.1\r\n\r\n")
    assert (connect.kind, connect.target) == ("connect", "example.test:443")
    assert sniff(b"SSH-2.0-OpenSSH_9\r\n").kind == "ssh"
    assert sniff(b"GE").decided is False
    assert sniff(b"\x16").decided is False


def test_alert_names():
    assert alert_name(48) == "unknown_ca" and alert_name(42) == "bad_certificate"
    assert alert_from_reason("TLSV1_ALERT_UNKNOWN_CA") == "unknown_ca"
    assert alert_from_reason("SSLV3_ALERT_BAD_CERTIFICATE") == "bad_certificate"
    assert alert_from_reason("WRONG_VERSION_NUMBER") is None

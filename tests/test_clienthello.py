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


# -- properties (Hypothesis), on hellos captured from real clients ------------------------------------

import os  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from test_listener_support import capture_hello, python_hello, require  # noqa: E402
from tlsbench.engine.listener import findings as listener_findings  # noqa: E402
from tlsbench.engine.listener.clienthello import HelloReader, MAX_HELLO_BODY  # noqa: E402
from tlsbench.engine.listener.events import ClientFinding, ClientHelloSeen  # noqa: E402
from tlsbench.engine.listener.sniff import describe_undecided  # noqa: E402
from tlsbench.visible import is_hidden  # noqa: E402

PROPERTY = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def captured() -> dict[str, bytes]:
    """ClientHellos as curl, openssl s_client and Python's ssl send them (captured on a bare socket)."""
    return {
        "curl": capture_hello([require("curl"), "-sk", "--max-time", "5", "https://localhost:{port}/"]),
        "s_client": capture_hello([require("openssl"), "s_client", "-connect", "127.0.0.1:{port}",
                                   "-servername", "foo.test", "-alpn", "h2,http/1.1"]),
        "s_client-no-sni": capture_hello([require("openssl"), "s_client", "-connect", "127.0.0.1:{port}",
                                          "-noservername", "-tls1_2"]),
        "python": python_hello("localhost", ["h2"]),
    }


def _summary(hello):
    return (hello.sni, hello.alpn, hello.versions, hello.cipher_count, hello.extensions, hello.complete)


def _shows_safely(text: str) -> None:
    from tlsbench.visible import visible

    shown = visible(text, keep_newlines=False)
    assert not any(is_hidden(ch) for ch in shown if ch != "\t"), shown


def _render_everything(reader: HelloReader) -> None:
    """Every event and finding the listener could make of these bytes, shown as `serve` shows them."""
    from tlsbench.commands.serve import describe

    hello = reader.hello()
    data = bytes(reader.data)
    found = list(listener_findings.hello_findings(hello, data))
    if reader.status == "partial":
        found.append(listener_findings.client_hello_cut_short(reader, "the client closed its side (FIN)", "eof"))
    if reader.status == "malformed":
        found.append(listener_findings.client_hello_malformed(reader.problem or "?", data, hello))
    for finding in found:
        _shows_safely(describe(ClientFinding(1, finding)))
        for evidence in finding.evidence:
            _shows_safely(evidence.value)
    if hello is not None:
        _shows_safely(describe(ClientHelloSeen(1, hello.sni, hello.alpn, hello.versions, hello.cipher_count,
                                               hello.legacy_version, hello.complete, length=hello.length,
                                               declared_length=hello.declared_length, problem=hello.problem)))
    _shows_safely(reader.progress())
    _shows_safely(describe_undecided(data))


def _records(message: bytes, sizes: list[int]) -> tuple[bytes, int]:
    out, pos, i = b"", 0, 0
    while pos < len(message):
        n = sizes[i % len(sizes)]
        part = message[pos:pos + n]
        out += b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part
        pos, i = pos + n, i + 1
    return out, i


@PROPERTY
@given(which=st.sampled_from(["curl", "s_client", "s_client-no-sni", "python"]),
       sizes=st.lists(st.integers(1, 16384), min_size=1, max_size=12),
       chunks=st.lists(st.integers(1, 700), min_size=1, max_size=20))
def test_any_split_into_records_and_reads_gives_the_same_hello(captured, which, sizes, chunks):
    original = captured[which]
    message = HelloReader()
    message.feed(original)
    expected = message.hello()
    data, count = _records(bytes(message.body), sizes)
    reader = HelloReader()
    pos, i = 0, 0
    while pos < len(data):
        n = chunks[i % len(chunks)]
        status = reader.feed(data[pos:pos + n])
        pos, i = pos + n, i + 1
        assert status == ("complete" if pos >= len(data) else "partial")
    got = reader.hello()
    assert _summary(got) == _summary(expected)
    assert got.records == count and got.length == len(message.body)


@PROPERTY
@given(which=st.sampled_from(["curl", "s_client", "s_client-no-sni", "python"]), cut=st.integers(0, 10_000))
def test_a_hello_cut_anywhere_is_cut_short_never_no_sni(captured, which, cut):
    data = captured[which]
    cut = cut % len(data)
    reader = HelloReader()
    assert reader.feed(data[:cut]) == "partial"
    hello = reader.hello()
    assert hello is None or not hello.complete
    assert listener_findings.hello_findings(hello, data[:cut]) == []  # nothing judged on a partial hello
    finding = listener_findings.client_hello_cut_short(reader, "the client closed its side (FIN)", "eof")
    if reader.declared is not None:
        got = len(reader.arrived())
        assert finding.title == f"The ClientHello was cut short: {got:,} of {reader.declared:,} bytes arrived"
        assert got < reader.declared
    assert "SNI" not in finding.title
    sent = parse_client_hello(data).sni
    if sent is not None and cut >= data.index(sent.encode()) + len(sent):
        assert hello.sni == sent  # the part that arrived holds the whole name: it is reported
    _render_everything(reader)


def _mutate(data: bytes, edits, cut, insert, at) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        out[pos % len(out)] = value
    out[at % (len(out) + 1):at % (len(out) + 1)] = insert
    return bytes(out[:cut]) if cut else bytes(out)


@PROPERTY
@given(which=st.sampled_from(["curl", "s_client", "s_client-no-sni", "python"]),
       edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
       cut=st.integers(0, 600), insert=st.binary(max_size=40), at=st.integers(0, 600))
@example(which="curl", edits=[(9, 0x1b), (10, 0x5b)], cut=0, insert=b"", at=0)
def test_mutated_real_hellos_are_judged_from_their_bytes(captured, which, edits, cut, insert, at):
    data = _mutate(captured[which], edits, cut, insert, at)
    reader = HelloReader()
    for i in range(0, len(data), 97):  # fed in pieces, as a socket gives them
        reader.feed(data[i:i + 97])
    assert reader.status in ("partial", "complete", "malformed")
    hello = reader.hello()
    for finding in listener_findings.hello_findings(hello, data):
        if finding.code == "no-sni-from-client":  # only when the bytes prove it
            assert hello.arrived_whole and hello.complete and 0 not in hello.extensions
        if finding.code == "client-hello-malformed":
            assert hello.problem and hello.problem in finding.title
    if reader.status == "complete":
        assert hello is None or hello.arrived_whole
        assert reader.declared <= MAX_HELLO_BODY + 4
    _render_everything(reader)


@PROPERTY
@given(st.binary(max_size=700))
def test_any_bytes_after_a_record_header(data):
    for prefix in (b"", b"\x16", b"\x16\x03\x01", b"\x16\x03\x01\x00\x40\x01"):
        reader = HelloReader()
        reader.feed(prefix + data)
        _render_everything(reader)
        _shows_safely(sniff(prefix + data).description)


def test_the_captured_hellos_parse_as_their_clients_sent_them(captured):
    curl, s_client, bare = (parse_client_hello(captured[k]) for k in ("curl", "s_client", "s_client-no-sni"))
    assert curl.complete and curl.sni == "localhost" and "h2" in curl.alpn
    assert s_client.complete and s_client.sni == "foo.test" and s_client.alpn == ("h2", "http/1.1")
    assert bare.complete and bare.sni is None and "TLS 1.3" not in bare.versions
    assert [f.code for f in listener_findings.hello_findings(bare, captured["s_client-no-sni"])] == \
        ["no-sni-from-client"]

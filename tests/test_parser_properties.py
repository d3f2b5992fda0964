"""Property tests (Hypothesis) for every parser that reads bytes or files from outside.

Each parser must finish, raise nothing but tlsbench's own errors, and what it returns must render
safely: once shown through the front-ends' one function (`visible`), no control character, escape
sequence or invisible format character (bidi controls, zero-width characters) is left.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tlsbench.engine.certs import certparse

from tlsbench.engine.tls import peekbytes

from tlsbench.engine.tls import tlsmsg
from tlsbench.errors import TlsbenchError
from tlsbench.engine.listener import clienthello
from tlsbench.visible import is_hidden, visible, visible_bytes

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
DANGEROUS = "\x1b\x07\x00\x9b\u202e\u2066\u200b\ufeff\u00ad\u2028\ud800[/]"


def assert_renders_safely(value: object) -> None:
    """Shown the way the CLI and the TUI show it, nothing hidden or controlling reaches the screen."""
    for keep_newlines in (False, True):
        shown = visible("" if value is None else str(value), keep_newlines=keep_newlines)
        bad = [ch for ch in shown if is_hidden(ch) and ch != "\t" and not (keep_newlines and ch == "\n")]
        assert not bad, f"{value!r} shows as {shown!r}"
        shown.encode("utf-8")  # a lone surrogate could not even be written to the terminal


# --- visible() itself --------------------------------------------------------------------------------

@SETTINGS
@given(st.text())
@example(DANGEROUS)
@example("gnp.\u202eexe")
def test_visible_leaves_nothing_hidden(text):
    assert_renders_safely(text)


@SETTINGS
@given(st.binary())
def test_visible_bytes_leaves_nothing_hidden(data):
    shown = visible_bytes(data)
    assert not any(is_hidden(ch) for ch in shown if ch != "\t")


# --- the ClientHello parser -------------------------------------------------------------------------

def _real_client_hello(alpn=("h2", "http/1.1"), sni="www.lab.test") -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


HELLO = _real_client_hello()


def _mutations(base: bytes):
    """A real message with a few bytes changed, cut short, or with bytes put in."""
    edits = st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), max_size=8)
    return st.builds(_apply, st.just(base), edits, st.integers(0, len(base)), st.binary(max_size=40),
                     st.integers(0, len(base)))


def _apply(base: bytes, edits, cut: int, insert: bytes, at: int) -> bytes:
    data = bytearray(base)
    for pos, value in edits:
        data[pos] = value
    data[at:at] = insert
    return bytes(data[:max(cut, 1)]) if cut < len(data) and cut % 3 == 0 else bytes(data)


def _check_hello(data: bytes) -> None:
    from tlsbench.commands.serve import describe
    from tlsbench.engine.listener.events import ClientHelloSeen

    try:
        hello = clienthello.parse_client_hello(data)
        clienthello.hello_complete(data)
    except TlsbenchError:
        return
    if hello is None:
        return
    for value in (hello.sni, *hello.alpn, *hello.versions, hello.legacy_version):
        assert_renders_safely(value)
    line = describe(ClientHelloSeen(1, hello.sni, hello.alpn, hello.versions, hello.cipher_count,
                                    hello.legacy_version, hello.complete))
    assert not any(is_hidden(ch) for ch in line if ch != "\t"), line


def test_the_real_client_hello_parses():
    hello = clienthello.parse_client_hello(HELLO)
    assert hello is not None and hello.complete
    assert (hello.sni, hello.alpn) == ("www.lab.test", ("h2", "http/1.1"))


@SETTINGS
@given(st.binary(max_size=600))
def test_client_hello_parser_on_any_bytes(data):
    _check_hello(data)


@SETTINGS
@given(_mutations(HELLO))
def test_client_hello_parser_on_mutated_hellos(data):
    _check_hello(data)


@SETTINGS
@given(st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode("utf-8", "surrogatepass")) < 200))
def test_a_hostile_sni_in_a_real_hello_is_shown_escaped(name):
    """An SNI of any bytes (escape sequences, bidi controls) spliced into a real ClientHello."""
    raw_name = name.encode("utf-8", "surrogatepass")
    marker = b"www.lab.test"
    start = HELLO.index(marker)
    grow = len(raw_name) - len(marker)

    def fix(data: bytearray, pos: int, size: int) -> None:  # a big-endian length field grows
        value = int.from_bytes(data[pos:pos + size], "big") + grow
        data[pos:pos + size] = value.to_bytes(size, "big")

    data = bytearray(HELLO)
    data[start:start + len(marker)] = raw_name
    fix(data, start - 2, 2)  # host_name length
    fix(data, start - 5, 2)  # server_name_list length
    fix(data, start - 7, 2)  # extension length
    fix(data, 3, 2)  # record length
    fix(data, 6, 3)  # handshake length
    # the extensions block length: walk to it
    pos = 9 + 2 + 32
    pos += 1 + data[pos]
    pos += 2 + int.from_bytes(data[pos:pos + 2], "big")
    pos += 1 + data[pos]
    fix(data, pos, 2)
    hello = clienthello.parse_client_hello(bytes(data))
    assert hello is not None and hello.sni == raw_name.decode("latin-1")
    _check_hello(bytes(data))


# --- the first-bytes classifier --------------------------------------------------------------------

PREFIXES = [b"", b"HTTP/1.1 ", b"HTTP/", b"SSH-2.0-", b"+OK ", b"* OK ", b"220 ", b"220-", b"421 ", b"<html",
            b"\x16\x03\x01", b"\x15\x03\x03\x00\x02", b"200 ", b'"IMPLEMENTATION" ', b"<?xml", b":irc.example ",
            b"0\x0c\x02\x01", b"E\x00\x00\x00", b"d\x00\x00\x00\n"]


@SETTINGS
@given(st.sampled_from(PREFIXES), st.binary(max_size=300))
@example(b"HTTP/1.1 ", b"\xb200 OK\r\n")  # a latin-1 superscript digit: isdigit() but not int()
@example(b"220 ", b"\x1b[2J FTP \xe2\x80\xae")
def test_first_bytes_classifier(prefix, rest):
    data = prefix + rest
    try:
        guess = peekbytes.classify(data)
        peekbytes.looks_like_tls(data)
        line = peekbytes.first_line(data)
    except TlsbenchError:
        return
    assert guess.kind in ("http", "smtp", "lmtp", "pop3", "imap", "ftp", "nntp", "sieve", "mysql", "xmpp", "ldap",
                          "irc", "postgres", "ssh", "tls", "text", "binary", "empty")
    assert guess.starttls is None or guess.starttls == guess.kind
    assert guess.http_status is None or 0 <= guess.http_status <= 999
    assert_renders_safely(guess.description)
    assert_renders_safely(line)


# --- TLS message decoding ---------------------------------------------------------------------------

@SETTINGS
@given(st.sampled_from(["read", "write"]), st.integers(0, 0xFFFF), st.sampled_from([20, 21, 22, 23, 256, 257, 0]),
       st.binary(max_size=80))
def test_tls_message_decoding(direction, version, content_type, data):
    try:
        msg = tlsmsg.decode_callback(direction, version, content_type, data)
    except TlsbenchError:
        return
    if msg is None:
        return
    assert msg.direction in ("sent", "received")
    for value in msg:
        assert_renders_safely(value)


# --- certificate fields -----------------------------------------------------------------------------

def _real_certificates() -> list[bytes]:
    """DER of real certificates: a lab leaf with SANs and an intermediate, and a hostile one."""
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    ca = trustme.CA()
    leaf = ca.issue_cert("www.lab.test", "127.0.0.1", "*.wild.lab.test")
    out = [x509.load_pem_x509_certificate(blob.bytes()).public_bytes(Encoding.DER)
           for blob in leaf.cert_chain_pems]
    out.append(x509.load_pem_x509_certificate(ca.cert_pem.bytes()).public_bytes(Encoding.DER))
    import tempfile
    from pathlib import Path

    from cryptography.x509.oid import NameOID

    from hostile_certs import self_signed  # a subject with escape sequences, markup and bidi controls

    with tempfile.TemporaryDirectory() as folder:
        files = self_signed(Path(folder), {NameOID.COMMON_NAME: "\x1b[31mevil[/]\u202egnp.exe",
                                           NameOID.ORGANIZATION_NAME: "zero\u200bwidth\ufeff"}, "evil.lab.test")
        out.append(x509.load_pem_x509_certificate(files.cert.read_bytes()).public_bytes(Encoding.DER))
    return out


CERTS = _real_certificates()


def _check_cert(der: bytes) -> None:
    try:
        info = certparse.parse_cert(der, 0, now=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
        certparse.match_name(der, "www.lab.test")
        certparse.match_name(der, "127.0.0.1")
    except TlsbenchError:
        return
    for value in info:
        assert_renders_safely(value)


def test_real_certificates_parse():
    for der in CERTS:
        info = certparse.parse_cert(der, 0)
        assert info.sha256 and info.subject is not None


@SETTINGS
@given(st.sampled_from(range(len(CERTS))).flatmap(lambda i: _mutations(CERTS[i])))
def test_certificate_parser_on_mutated_der(der):
    _check_cert(der)


@SETTINGS
@given(st.binary(max_size=400))
def test_certificate_parser_on_any_bytes(der):
    _check_cert(der)


# --- the profile TOML codec -------------------------------------------------------------------------

PROFILE = '''description = "office"
host = "portal.lab.test"
port = 443
timeout = 5.0

[proxy]
type = "socks5h"
host = "127.0.0.1"
port = 1080
user = "alice"

[tls]
sni = "override"
sni_name = "portal.internal"
alpn = ["h2", "http/1.1"]
verify = "system"

[app]
send = "EHLO me\\r\\n"
'''


def _check_profile_text(text: str) -> None:
    from tlsbench.profiles.codec import FormatError, data_to_profile, find_key_line, parse_text
    from tlsbench.profiles.describe import summary_lines

    try:
        data = parse_text(text)
        find_key_line(text, "tls", "alpn")
        profile = data_to_profile("p", data, environ={})
    except (FormatError, TlsbenchError) as exc:
        assert_renders_safely(str(exc))
        return
    for line in summary_lines(profile):
        assert_renders_safely(line)


def test_the_sample_profile_loads():
    from tlsbench.profiles.codec import data_to_profile, parse_text

    profile = data_to_profile("p", parse_text(PROFILE), environ={})
    assert profile.spec.tls.alpn == ("h2", "http/1.1") and profile.spec.app.send == "EHLO me\r\n"


@SETTINGS
@given(st.text(max_size=400))
def test_profile_codec_on_any_text(text):
    _check_profile_text(text)


@SETTINGS
@given(st.integers(0, len(PROFILE)), st.integers(0, len(PROFILE)), st.text(max_size=30))
@example(PROFILE.index("office"), PROFILE.index("office"), "\u202e\x1b[31m")
@example(PROFILE.index("portal.lab"), PROFILE.index("portal.lab"), "\u202e")
@example(PROFILE.index('"h2"') + 1, PROFILE.index('"h2"') + 3, "\\u00fc")
def test_profile_codec_on_edited_profiles(start, end, insert):
    start, end = min(start, end), max(start, end)
    _check_profile_text(PROFILE[:start] + insert + PROFILE[end:])


@SETTINGS
@given(st.dictionaries(st.sampled_from(["host", "port", "pin", "timeout", "description", "tls", "proxy", "app"]),
                       st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                                    lambda inner: st.lists(inner, max_size=3)
                                    | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)))
def test_profile_codec_on_any_values(data):
    from tlsbench.profiles.codec import FormatError, data_to_profile

    data = {k: v for k, v in data.items() if v is not None}
    try:
        data_to_profile("p", data, environ={})
    except (FormatError, TlsbenchError) as exc:
        assert_renders_safely(str(exc))


# --- SOCKS replies: the readers and the findings made from them ----------------------------------------

SOCKS5_ANSWERS = [
    b"\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50",  # no auth, success with IPv4
    b"\x05\x02\x01\x00\x05\x00\x00\x03\x05hello\x01\xbb",  # user/password, success with a name
    b"\x05\x00\x05\x00\x00\x04" + bytes(16) + b"\x00\x50",  # success with IPv6
    b"\x05\x00\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00",  # refused
    b"\x05\xff", b"\x05\x02\x01\x01", b"\x05\x01",
]
SOCKS4_ANSWERS = [b"\x00\x5a\x00\x50\x7f\x00\x00\x01", b"\x00\x5b\x00\x00\x00\x00\x00\x00"]
HEX = __import__("re").compile(r"0x([0-9a-fA-F]{2})\b")


def _socks_finding(kind: str, rx: bytes, offered: bytes, ended: str | None):
    """The finding the SOCKS hop makes from these bytes (None when they grant the tunnel)."""
    from tlsbench.engine.records.details import ProxyDetail
    from tlsbench.engine.hops import socks
    from tlsbench.engine.stream import Transcript

    class Closed:  # the stream after the exchange: nothing more comes
        transcript = None

        def recv(self, *args):
            return b""

    transcript = Transcript()
    transcript.on_send(b"\x05" + bytes([len(offered)]) + offered if kind.startswith("socks5") else b"\x04\x01")
    transcript.on_receive(rx)
    reading = socks._parse_socks4(rx) if kind.startswith("socks4") else socks._parse_socks5(rx, offered)
    for value in reading:
        assert_renders_safely(value)
    assert reading.used <= len(rx) and reading.have >= 0
    assert reading.need is None or reading.done or reading.have <= reading.need
    if reading.succeeded:
        assert reading.bound is not None
        return reading, None
    detail = socks._fill(ProxyDetail(kind, "127.0.0.1:1080", "none", "IPv4", "192.0.2.1:443"), reading, transcript,
                         kind)
    finding = socks._diagnose(kind, "127.0.0.1:1080", detail, reading, rx, None, ended, Closed(), 1.0, None,
                              offered, remote_name=False, behind="the target")
    return reading, finding


def _check_socks(kind: str, rx: bytes, offered: bytes, ended: str | None) -> None:
    try:
        reading, finding = _socks_finding(kind, rx, offered, ended)
    except TlsbenchError:
        return
    if finding is None:
        return
    for value in (finding.title, finding.explanation, finding.suggestion, *[e.value for e in finding.evidence]):
        assert_renders_safely(value)
    # A value quoted in the title or as the proxy's reply is one the proxy (or tlsbench) sent.
    reply = " ".join(e.value for e in finding.evidence if e.label == "proxy reply")
    for token in HEX.findall(f"{finding.title} {reply}"):
        assert int(token, 16) in rx or int(token, 16) in offered, (token, finding.title, reply, rx)


def _socks_bytes(samples):
    return st.one_of(st.binary(max_size=40),
                     st.sampled_from(range(len(samples))).flatmap(lambda i: _mutations(samples[i])))


@SETTINGS
@given(_socks_bytes(SOCKS5_ANSWERS), st.sampled_from([b"\x00", b"\x00\x02"]),
       st.sampled_from([None, "closed", "reset", "timeout"]))
@example(b"\x05\x02", b"\x00", "closed")  # a method not offered: no "0xff" in the words
@example(b"\x05\x00\x05\x00\x00\x01\x7f", b"\x00", "closed")  # cut short
@example(b"\x05\x00\x05\x00\x00\x03\x09a\xe2\x80\xae\x1b[2Jb\x00\x50", b"\x00", None)  # a hostile bound name
def test_socks5_reply_reader_and_its_findings(rx, offered, ended):
    _check_socks("socks5", rx, offered, ended)


@SETTINGS
@given(_socks_bytes(SOCKS4_ANSWERS), st.sampled_from([None, "closed", "reset", "timeout"]))
@example(b"\x00\x5a\x00", "closed")  # granted, then cut short: not "rejected"
@example(b"\x00\x5e\x00\x50\x7f\x00\x00\x01", None)
def test_socks4_reply_reader_and_its_findings(rx, ended):
    _check_socks("socks4", rx, b"", ended)


def test_socks_readers_name_what_the_bytes_say():
    from tlsbench.engine.hops.socks_reply import read_socks4, read_socks5

    assert read_socks5(b"\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x01\xbbTAIL").bound == ("127.0.0.1", 443)
    assert read_socks5(b"\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x01\xbbTAIL").used == 12
    cut = read_socks5(b"\x05\x00\x05\x00\x00\x01\x7f")
    assert (cut.done, cut.have, cut.need, cut.step) == (False, 5, 10, "reply")
    assert read_socks5(b"\x05\x02", b"\x00").method == 2 and read_socks5(b"\x05\x02", b"\x00").done
    assert "0x07" in read_socks5(b"\x05\x00\x05\x00\x00\x07").problem
    assert read_socks4(b"\x00\x5a\x00").done is False and read_socks4(b"\x01\x5a").not_socks


# --- HTTP CONNECT answers: the head parser, the proxy's own words, the first-bytes guess -----------------

HEADS = [b"HTTP/1.1 200 Connection established\r\n\r\n",
         b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n"
         b"Proxy-Authenticate: NTLM\r\nContent-Length: 5\r\n\r\nhello",
         b"HTTP/1.0 403 Forbidden\nX-Squid-Error: ERR_ACCESS_DENIED 0\n\n<html><title>denied</title></html>",
         b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"]


def _check_head(data: bytes) -> None:
    from tlsbench.engine.findings import proxy_http
    from tlsbench.engine.hops.http_reply import HeadTooLong, ReplyError, parse_head
    from tlsbench.engine.route.proxies import parse_proxy_url as parse_proxy

    try:
        head = parse_head(data)
    except HeadTooLong as exc:
        head = exc.partial
        if head is None:
            return
    except ReplyError as exc:
        assert_renders_safely(str(exc))
        finding = proxy_http.not_http(parse_proxy("http://127.0.0.1:3128"), data, str(exc))
        assert_renders_safely(finding.title + finding.explanation)
        return
    if head is None:
        return
    assert 100 <= head.status <= 999 and head.head_length <= len(data)
    more = parse_head(data + b"trailing bytes\r\n\r\n") if head.head_length <= len(data) else None
    assert more is None or more == head  # the end of a head does not move when more bytes arrive
    finding = proxy_http.refusal(parse_proxy("http://127.0.0.1:3128"), "192.0.2.1:443", head, data[head.head_length:])
    for value in (head.status_line, *[v for pair in head.headers for v in pair], finding.title, finding.explanation,
                  *[e.value for e in finding.evidence]):
        assert_renders_safely(value)


@SETTINGS
@given(st.one_of(st.binary(max_size=300).map(lambda b: b"HTTP/1.1 " + b),
                 st.sampled_from(range(len(HEADS))).flatmap(lambda i: _mutations(HEADS[i]))))
@example(b"HTTP/1.1 407 x\r\nA: b\n\nC\r\n\r\n")  # the first blank line ends the head, whichever its form
@example(b"HTTP/1.1 302 Found\r\nLocation: \x1b[2J[bold]\xe2\x80\xae\r\n\r\n")
def test_http_head_parser_and_refusals(data):
    _check_head(data)


@SETTINGS
@given(st.one_of(st.binary(max_size=600),
                 st.text(max_size=300).map(lambda t: f"<html><title>{t}</title><body>{t}</body></html>".encode()),
                 st.text(alphabet="<>/!-&;#[]x\x1b\u202e ", max_size=200).map(str.encode)))
@example(b"<title>\x1b[31m[bold]denied[/bold]\xe2\x80\xae</title><script>x</script>")
@example(b"<title><title></title>")
def test_proxy_refusal_wording_on_any_body(body):
    from tlsbench.engine.findings.proxy_http import QUOTE, explanation
    from tlsbench.engine.hops.http_reply import parse_head

    head = parse_head(b"HTTP/1.1 403 Forbidden\r\n\r\n")
    said = explanation(head, body)
    assert len(said) <= QUOTE + 3
    assert_renders_safely(said)


@SETTINGS
@given(st.sampled_from([b"", b"\x05", b"\x00\x5a", b"HTTP/", b"<html", b"\x16\x03", b"220 ", b"SSH-"]),
       st.binary(max_size=100))
def test_looks_like_on_any_bytes(prefix, rest):
    from tlsbench.engine.findings.network import looks_like

    words = looks_like(prefix + rest)
    assert words and "\n" not in words
    assert_renders_safely(words)
    assert (prefix + rest).decode("latin-1") not in words or not (prefix + rest)  # a fixed phrase, no peer bytes


def test_tls_record_walk_and_server_hello_version():
    from hostile_peers import extension, server_hello
    from tlsbench.engine.tls.peekbytes import server_hello_version, walk_records

    assert server_hello_version(server_hello(0x0305)) == 0x0305
    assert server_hello_version(server_hello(0x0303, extension(0x2B, b"\x03\x04"))) == 0x0304
    assert walk_records(b"\x16\x03\x03\x00\x50" + bytes(10)).partial == ("handshake", 15, 85)
    assert walk_records(b"\x16\x03\x03\xff\xff").oversized == ("handshake", 65535, 0)


@SETTINGS
@given(st.binary(max_size=200))
def test_tls_record_walk_on_any_bytes(data):
    from tlsbench.engine.tls.peekbytes import server_hello_version, walk_records

    walk = walk_records(data)
    assert walk.whole >= 0
    version = server_hello_version(data)
    assert version is None or 0 <= version <= 0xFFFF

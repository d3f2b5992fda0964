"""Verdicts from the bytes, against hostile peers and real servers: no advice to weaken TLS without a
well-formed message that shows it would help, malformed bytes named as such, and each party blamed only for
the bytes it sent. The hostile peers are scripted on loopback (hostile_peers); the runner, the rendering checks
and the catalogue of the earlier cases come from test_hostile_peers."""

from __future__ import annotations

import ssl
import struct

import pytest
from hypothesis import given, strategies as st

from hostile_peers import hold, http_head, record, server_flight, server_hello, tls_record
from test_hostile_peers import CASES, Case, _server_context, _spec, assert_renders_safely, crafted_servers, peers, \
    run_bounded  # noqa: F401 - fixtures
from tlsbench.engine.findings import weakening
from tlsbench.engine.findings.catalogue import CATALOGUE, finding
from tlsbench.engine.findings.model import Evidence
from tlsbench.engine.tls.peekbytes import server_hello as read_server_hello
from tlsbench.engine.suggestions import Change, Suggestion, cli_text

pytestmark = pytest.mark.servers

OK = b"HTTP/1.1 200 Connection established\r\n\r\n"
# A 48-byte record whose ServerHello claims 16,777,215 bytes (and a "version" 0x1011 after that).
IMPOSSIBLE_HELLO = record(22, b"\x02\xff\xff\xff\x10\x11" + bytes(range(37)))


def http_then_tls(*answers: bytes, body: bytes = b"", head: bytes = OK):
    """A CONNECT proxy that answers `head` (+ `body`: more header lines and a body), reads the ClientHello,
    then sends `answers` (or a real server's flight when none is given)."""
    def script(conn):
        http_head(conn)
        conn.sendall(head + body)
        hello = tls_record(conn)
        for answer in answers or (server_flight(hello, _server_context()),):
            conn.sendall(answer)
        hold(conn)
    return script


def impossible_hello_direct(conn):
    tls_record(conn)
    conn.sendall(IMPOSSIBLE_HELLO)
    hold(conn)


def hello_with_bad_extensions(conn):
    tls_record(conn)
    body = struct.pack(">H", 0x0303) + bytes(32) + b"\x00" + b"\xc0\x2f" + b"\x00" + b"\x00\x40" + b"\x00\x2b\x00\x02"
    conn.sendall(record(22, b"\x02" + len(body).to_bytes(3, "big") + body))
    hold(conn)


_TLS12 = []


def certificate_list_one_byte_short(conn):
    """A real TLS 1.2 flight whose Certificate message's list length is one byte short of its content."""
    if not _TLS12:
        import trustme

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        trustme.CA().issue_cert("localhost").configure_cert(ctx)
        _TLS12.append(ctx)
    flight = bytearray(server_flight(tls_record(conn), _TLS12[0]))
    at = 0
    while at + 9 <= len(flight):
        if flight[at] == 22 and flight[at + 5] == 0x0B:  # a record starting with the Certificate message
            count = int.from_bytes(flight[at + 9:at + 12], "big")
            flight[at + 9:at + 12] = (count - 1).to_bytes(3, "big")
            break
        at += 5 + int.from_bytes(flight[at + 3:at + 5], "big")
    conn.sendall(bytes(flight))
    hold(conn)


TUNNEL = {"tls": True, "insecure": True}
VERDICT_CASES = [
    Case("http-200-then-a-server-hello-of-16mb", "http", http_then_tls(IMPOSSIBLE_HELLO), "tls-malformed",
         ("malformed", "16,777,215"), (("OpenSSL reason", "EXCESSIVE_MESSAGE_SIZE"),), options=TUNNEL,
         never=("0x1011", "--tls-min", "TLS 1.0")),
    Case("tls-server-hello-of-16mb", "tls", impossible_hello_direct, "tls-malformed", ("16,777,215",),
         never=("0x1011",)),
    Case("tls-server-hello-extensions-overrun", "tls", hello_with_bad_extensions, "tls-malformed",
         ("extensions length",)),
    Case("http-200-with-13-byte-body-then-tls", "http", http_then_tls(body=b"Hello there\r\n"),
         "proxy-protocol-error", ("13 byte(s)", "200 Connection established"),
         (("TLS record at offset", "13: 16 03 03"),), options=TUNNEL, never=("--no-tls", "not serving TLS")),
    Case("http-200-then-http-in-the-tunnel", "http", http_then_tls(b"HTTP/1.1 400 Bad Request\r\n\r\n"), "not-tls",
         ("the proxy answered inside the tunnel itself",), options=TUNNEL, never=("not serving TLS directly",)),
    Case("tls-certificate-list-length-off-by-one", "tls", certificate_list_one_byte_short, "tls-malformed",
         ("malformed", "LENGTH_MISMATCH"), (("OpenSSL reason", "LENGTH_MISMATCH"),)),
    Case("tls-well-formed-server-hello-choosing-tls-1.0", "tls", lambda conn: (tls_record(conn),
                                                                               conn.sendall(server_hello(0x0301)),
                                                                               hold(conn)),
         "tls-version-mismatch", ("TLS 1.0",), (("server chose", "TLS 1.0"),), options={"insecure": True}),
    Case("http-200-declaring-13-bytes-then-tls", "http",
         http_then_tls(body=b"Content-Length: 13\r\n\r\nHello there\r\n", head=b"HTTP/1.1 200 OK\r\n"),
         "proxy-protocol-error", ("13 byte(s)",), (("TLS record at offset", "13: 16 03 03"),), options=TUNNEL,
         never=("--no-tls", "not serving TLS"), also=("proxy-connect-body",)),
    Case("http-200-declaring-a-body-then-silence", "http",
         http_then_tls(b"", body=b"Content-Length: 20\r\n\r\n<html>no tunnel</html>", head=b"HTTP/1.1 200 OK\r\n"),
         "proxy-protocol-error", ("Content-Length: 20",), (("declared body", "Content-Length: 20"),),
         options=TUNNEL, never=("--no-tls", "not serving TLS")),
]


@pytest.mark.parametrize("case", VERDICT_CASES, ids=[c.id for c in VERDICT_CASES])
def test_verdict_from_the_bytes(case: Case, peers, crafted_servers):
    result, events, _ = run_bounded(_spec(case, peers, crafted_servers))
    errors = [f for f in result.findings if f.severity == "error"]
    assert errors and errors[0].code == case.code, [(f.code, f.title) for f in result.findings]
    main = errors[0]
    said = f"{main.title} {main.explanation} {cli_text(main.suggestion)}"
    for word in case.words:
        assert word in said, f"{word!r} not in {said!r}"
    for word in case.never:
        assert word not in said, said
    for label, part in case.evidence:
        assert any(e.label == label and part in e.value for e in main.evidence), main.evidence
    assert main.origin in CATALOGUE[main.code].allowed_origins
    if weakening.weakens(main.suggestion):
        assert weakening.positive_evidence(main.evidence), main.evidence
    for code in case.also:
        assert code in result.codes(), result.codes()
    assert_renders_safely(case, result, events)


def _assert_weakening_is_evidenced(result) -> None:
    for f in result.findings:
        if weakening.weakens(f.suggestion):
            assert CATALOGUE[f.code].weakens, f.code
            assert weakening.positive_evidence(f.evidence), (f.code, cli_text(f.suggestion), f.evidence)


@pytest.mark.parametrize("case", CASES + VERDICT_CASES, ids=[c.id for c in CASES + VERDICT_CASES])
def test_no_hostile_peer_earns_advice_to_weaken_tls_without_evidence(case: Case, peers, crafted_servers):
    result, _, _ = run_bounded(_spec(case, peers, crafted_servers))
    _assert_weakening_is_evidenced(result)


def test_a_server_hello_choosing_no_real_version_gets_no_advice_to_weaken(peers, crafted_servers):
    case = next(c for c in CASES if c.id == "tls-server-hello-version-0x0305")
    result, _, _ = run_bounded(_spec(case, peers, crafted_servers))
    main = result.findings[0]
    assert main.code == "tls-version-mismatch" and not weakening.weakens(main.suggestion), cli_text(main.suggestion)
    assert "0x0305" in cli_text(main.suggestion)


# --- real servers: the weakening advice, where the peer's own message shows it ---------------------------

def test_a_tls_1_1_server_earns_the_advice_with_its_alert(tls_server, lab_certs):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    server = tls_server("good", tls_version="1.1", cipher="DEFAULT:@SECLEVEL=0")
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), timeout=5))
    main = result.findings[0]
    assert main.code == "tls-version-mismatch" and weakening.weakens(main.suggestion), result.findings
    assert any(e.label == "alert received" and "protocol_version" in e.value for e in main.evidence)
    _assert_weakening_is_evidenced(result)


@pytest.mark.parametrize("cert", ["expired", "self_signed", "wrong_host", "unknown_ca"])
def test_certificate_faults_earn_verification_off_with_their_verify_code(tls_server, lab_certs, cert):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    server = tls_server(cert)
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), timeout=5))
    assert not result.ok
    _assert_weakening_is_evidenced(result)


# --- the rule in the engine ---------------------------------------------------------------------------------

def test_the_engine_drops_weakening_advice_without_evidence():
    hint = Suggestion("Allow old versions ({0}).", (Change.of(tls_min="1.0"),))
    plain = finding("tls-version-mismatch", suggestion=hint, evidence=[Evidence("offered", "TLS 1.2 to TLS 1.3")])
    assert not weakening.weakens(plain.suggestion) and "--tls-min" not in cli_text(plain.suggestion)
    shown = finding("tls-version-mismatch", suggestion=hint,
                    evidence=[Evidence("alert received", "protocol_version (70, fatal)")])
    assert "--tls-min 1.0" in cli_text(shown.suggestion)
    nonsense = finding("tls-version-mismatch", suggestion=hint,
                       evidence=[Evidence("server chose", "0x0305 (no such TLS version exists)")])
    assert not weakening.weakens(nonsense.suggestion)


def test_a_code_not_flagged_may_not_weaken():
    with pytest.raises(ValueError, match="weakens"):
        finding("tls-alert", suggestion=Suggestion("Look anyway ({0}).", (Change.of(verify="off"),)),
                evidence=[Evidence("verify code", "10")])


def test_every_weakening_change_is_recognised():
    assert weakening.change_weakens(Change.of(verify="off"))
    assert weakening.change_weakens(Change.from_values({"tls_min": None}, was=_spec_with(tls_min="1.3")))
    assert not weakening.change_weakens(Change.from_values({"tls_max": None}, was=_spec_with(tls_max="1.1")))
    assert not weakening.change_weakens(Change.of(tls_min="1.2"))
    assert weakening.change_weakens(Change.of(ciphers="DEFAULT:@SECLEVEL=0"))


def _spec_with(**options):
    from tlsbench.engine.spec import build_spec

    return build_spec("localhost:443", **options)


# --- the strict ServerHello reader, on any bytes -------------------------------------------------------------



@given(st.binary(max_size=400))
def test_the_server_hello_reader_takes_any_bytes(data):
    read = read_server_hello(b"\x16\x03\x03" + data)
    assert read.version is None or read.problem is None


@given(version=st.sampled_from([0x0301, 0x0302, 0x0303, 0x0304]), sid=st.binary(max_size=32),
       exts=st.lists(st.tuples(st.integers(0, 0xFFFF).filter(lambda k: k != 0x2B), st.binary(max_size=40)),
                     max_size=5))
def test_a_well_formed_server_hello_is_read_whole(version, sid, exts):
    ext_bytes = b"".join(struct.pack(">HH", k, len(v)) + v for k, v in exts)
    ext_bytes += struct.pack(">HHH", 0x2B, 2, version)
    body = b"\x03\x03" + bytes(32) + bytes([len(sid)]) + sid + b"\x13\x01\x00" + struct.pack(">H", len(ext_bytes)) \
        + ext_bytes
    data = record(22, b"\x02" + len(body).to_bytes(3, "big") + body)
    assert read_server_hello(data) == (version, None, len(body))
    cut = data[:-1]  # the record unfinished: not judged yet
    assert read_server_hello(cut).problem is None and read_server_hello(cut).version is None


# --- who is blamed ---------------------------------------------------------------------------------------------

def test_an_https_proxys_own_certificate_is_the_proxys_doing(squid_https_proxy, tls_server, lab_certs):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    server = tls_server()
    result = run_probe(build_spec(f"localhost:{server.port}", proxies=[f"https://localhost:{squid_https_proxy.port}"],
                                  cafile=str(lab_certs.ca_cert), timeout=5))
    main = result.findings[0]
    assert main.code == "cert-untrusted" and main.stage == "proxy-tls"
    assert main.origin == "proxy" and main.to_dict()["origin"] == "proxy"


@pytest.fixture(scope="session")
def tls13_liar():
    from hostile_tls13 import Tls13Liar

    liar = Tls13Liar()
    yield liar
    liar.stop()


def test_a_hello_request_in_tls_1_3_is_named_as_such(peers, tls13_liar):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    address = peers.address(tls13_liar.hello_request_after_handshake).replace("127.0.0.1", "localhost")
    result = run_probe(build_spec(address, insecure=True, http=True, timeout=3))
    main = next(f for f in result.findings if f.severity == "error")
    assert main.code == "tls-malformed" and main.stage == "app", result.findings
    said = f"{main.title} {main.explanation} {cli_text(main.suggestion)}"
    assert "HelloRequest" in said and "TLS 1.3 forbids" in said and "--timeout" not in said, said
    assert any(e.label == "OpenSSL reason" and e.value == "UNEXPECTED_MESSAGE" for e in main.evidence)


# --- over-long replies are "too long", not another protocol ----------------------------------------------------

def smtp_endless_ehlo(conn):
    import time

    conn.sendall(b"220 mail.example ESMTP\r\n")
    conn.recv(1024)  # EHLO
    end = time.monotonic() + 3
    try:
        while time.monotonic() < end:
            conn.sendall(b"250-PIPELINING and more and more\r\n" * 100)
    except OSError:
        pass


def smtp_megabyte_banner(conn):
    try:
        conn.sendall(b"220 " + b"m" * (1 << 20) + b"\r\n")
    except OSError:
        pass
    hold(conn)


@pytest.mark.parametrize("script,words", [(smtp_endless_ehlo, ("too long", "EHLO")),
                                          (smtp_megabyte_banner, ("too long", "greeting"))],
                         ids=["endless-250-lines", "1mb-220-banner"])
def test_an_over_long_smtp_reply_is_too_long_not_another_protocol(peers, script, words):
    from tlsbench.engine.spec import build_spec

    spec = build_spec(peers.address(script).replace("127.0.0.1", "localhost"), starttls="smtp", insecure=True,
                      timeout=2)
    result, _, _ = run_bounded(spec)
    main = next(f for f in result.findings if f.severity == "error")
    said = f"{main.title} {main.explanation} {cli_text(main.suggestion)}"
    assert main.code == "starttls-reply-too-long", (main.code, said)
    for word in words:
        assert word in said, said
    assert "not SMTP" not in said and "did not speak" not in said and "check the port" not in said.lower(), said


# --- --diagnose: a variant that hit its own timeout did not fail -------------------------------------------------

def slow_to_start(conn):
    """A real TLS server that waits 4 s before its handshake: slower than a variant's 3 s, within 10 s."""
    import time

    time.sleep(4)
    try:
        tls = _server_context().wrap_socket(conn, server_side=True)
        tls.settimeout(5)
        tls.recv(1024)
    except (OSError, ssl.SSLError):
        return


def test_diagnose_tells_a_variant_that_timed_out_from_one_that_failed(peers):
    from tlsbench.engine.why import diagnose
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    spec = build_spec(peers.address(slow_to_start).replace("127.0.0.1", "localhost"), insecure=True, timeout=10,
                      tls_min="1.2")
    first = run_probe(spec)
    assert first.ok, first.findings
    diagnosis = diagnose(spec, first, budget=20.0, stage_timeout=3.0)
    timed = [o for o in diagnosis.outcomes if o.ran and not o.ok]
    assert timed, [o.summary() for o in diagnosis.outcomes]
    for o in timed:
        assert o.timed_out and "3 s" in o.summary() and "timeout" in o.summary(), o.summary()
        assert o.to_dict()["timed_out"] is True
    sentence = diagnosis.conclusion
    assert "fails with" not in sentence, sentence
    assert "own 3 s stage timeout" in sentence and "yours is 10 s" in sentence, sentence


def test_the_diagnose_command_says_timed_out(peers):
    import subprocess
    import sys

    address = peers.address(slow_to_start).replace("127.0.0.1", "localhost")
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", address, "-k", "--diagnose", "--timeout", "10",
                           "--diagnose-budget", "20"], capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr
    assert "timed out" in done.stdout and "fails with" not in done.stdout, done.stdout
    assert "own 3 s stage timeout (yours is 10 s)" in done.stdout, done.stdout


_EVIDENCE = st.sampled_from([Evidence("offered", "TLS 1.2 to TLS 1.3"), Evidence("server chose", "TLS 1.0"),
                             Evidence("server chose", "0x1011 (no such TLS version exists)"),
                             Evidence("alert received", "protocol_version (70, fatal)"),
                             Evidence("alert received", "handshake_failure (40, fatal)"),
                             Evidence("alert sent", "protocol_version (70, fatal)"), Evidence("verify code", "10"),
                             Evidence("OpenSSL reason", "EXCESSIVE_MESSAGE_SIZE")])


@given(low=st.sampled_from([None, "1.0", "1.1", "1.2", "1.3"]), was=st.sampled_from([None, "1.2", "1.3"]),
       verify=st.sampled_from(["system", "off"]), evidence=st.lists(_EVIDENCE, max_size=4))
def test_no_finding_weakens_without_positive_evidence(low, was, verify, evidence):
    spec = _spec_with(tls_min=was) if was else _spec_with()
    changes = (Change.from_values({"tls_min": low}, was=spec), Change.of(verify=verify))
    for code in ("tls-version-mismatch", "cert-expired"):
        made = finding(code, suggestion=Suggestion("Try {0} or {1}.", changes), evidence=evidence)
        if weakening.weakens(made.suggestion):
            assert weakening.positive_evidence(made.evidence)
            assert any(e.label != "server chose" or e.value.startswith("TLS") for e in made.evidence)

"""The hostile-peer catalogue, client side: TLS servers, SOCKS4/5 proxies and HTTP CONNECT proxies that lie
in their length fields, answer what was not asked, stall, drip, flood, cut their answer short or carry
escape sequences and markup. Scripted on loopback (`hostile_peers`), except where real software can do
it: `openssl s_server` serves the crafted certificates.

For every behaviour the probe must end within its deadline, raise nothing (no internal-error either),
name the right finding with words taken from the bytes it cites, and render safely: in the CLI
waterfall and the JSON (the functions `tlsbench probe` prints with) and in the workbench's Text (stage
details, findings, summaries, certificate fields), no control or invisible format character reaches the
screen and markup stays literal.
"""

from __future__ import annotations

import io
import os
import json
import random
import threading
import time
from typing import Callable, NamedTuple

import pytest
from rich.console import Console
from rich.text import Text

from conftest import need
from hostile_peers import (Peers, drip, extension, hold, http_head, record, reset, server_flight, server_hello,
                           socks4_request, socks5_auth, socks5_greeting, socks5_request, socks5_success, tls_record)
from tlsbench.engine.events import RunFinished
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.visible import is_hidden

TIMEOUT = 1.0  # every stage's deadline here
BOUND = 3 * TIMEOUT + 4.0  # a run has at most three stages that wait, plus short evidence reads


@pytest.fixture(scope="session")
def peers():
    registry = Peers()
    yield registry
    registry.stop()


# --- scripts: what each hostile peer does with a connection -------------------------------------------

def socks5(*answers: bytes, then: Callable | None = hold, auth: bool = False):
    """Greeting -> answers[0]; (auth sub-negotiation -> answers[1]); request -> the next answer."""
    def script(conn):
        socks5_greeting(conn)
        conn.sendall(answers[0])
        rest = list(answers[1:])
        if auth and rest:
            socks5_auth(conn)
            conn.sendall(rest.pop(0))
        if rest:
            socks5_request(conn)
            conn.sendall(rest.pop(0))
        if then is not None:
            then(conn)
    return script


def socks4(answer: bytes, then: Callable | None = hold):
    def script(conn):
        socks4_request(conn)
        conn.sendall(answer)
        if then is not None:
            then(conn)
    return script


def http(answer: bytes, then: Callable | None = None):
    def script(conn):
        http_head(conn)
        conn.sendall(answer)
        if then is not None:
            then(conn)
    return script


def tls(*answers: bytes, read_hello: bool = True, then: Callable | None = hold):
    def script(conn):
        if read_hello:
            tls_record(conn)
        for answer in answers:
            conn.sendall(answer)
        if then is not None:
            then(conn)
    return script


def socks5_drip(conn):
    socks5_greeting(conn)
    time.sleep(0.5)  # the second byte then comes half a second after the deadline, never near it
    drip(conn, b"\x05\x00", 1.0)


def socks5_garbage(conn):
    socks5_greeting(conn)
    conn.sendall(b"\x17" + random.Random(7).randbytes(65535))
    hold(conn)


def socks5_reset_after_greeting(conn):
    socks5_greeting(conn)
    reset(conn)


def http_endless_head(conn):
    http_head(conn)
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n")
    end = time.monotonic() + 3
    while time.monotonic() < end:
        conn.sendall(b"X-Endless: " + b"y" * 100 + b"\r\n")


def http_drip(conn):
    http_head(conn)
    drip(conn, b"HTTP/1.1 200 Connection established\r\n\r\n", 0.2)


def http_reset(conn):
    http_head(conn)
    reset(conn)


_SERVER_CONTEXT = None


def _server_context():
    global _SERVER_CONTEXT
    if _SERVER_CONTEXT is None:
        import ssl

        import trustme

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        trustme.CA().issue_cert("localhost").configure_cert(ctx)
        _SERVER_CONTEXT = ctx
    return _SERVER_CONTEXT


def tls_dribble(conn):
    drip(conn, server_flight(tls_record(conn), _server_context()), 0.2)


def tls_flight_then_silence(conn):
    conn.sendall(server_flight(tls_record(conn), _server_context())[:-40])
    hold(conn)


def http_streams_forever(conn):
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    end = time.monotonic() + 3
    while time.monotonic() < end:
        conn.sendall(b"stream " * 1000)


BIDI_NAME = "a\u202eexe.\x1b[2Jb[bold]".encode()
MARKUP = b"[bold]x[/bold] [link=file:///etc/passwd]y[/link] \x1b]0;owned\x07 \xe2\x80\xae"


# --- the catalogue -------------------------------------------------------------------------------------

class Case(NamedTuple):
    id: str
    route: str  # socks5 | socks4 | http | tls (a scripted server) | s_server:NAME
    script: Callable | None
    code: str | None  # the first error's code; None: the run succeeds
    words: tuple[str, ...] = ()  # in that finding's title or explanation: values taken from the bytes
    evidence: tuple[tuple[str, str], ...] = ()  # (label, part of the value)
    options: dict = {}
    also: tuple[str, ...] = ()  # other codes the result must hold (warnings)
    most: int | None = None  # findings at most (a hostile peer must not flood the findings)
    chain: int | None = None  # certificates the chain stage must show
    never: tuple[str, ...] = ()  # words the finding must not say (a value the peer did not send)
    literal: tuple[str, ...] = ()  # shown literally (as escaped text) in the waterfall and the workbench
    exact: tuple[str, ...] = ()  # kept exact somewhere in the JSON


R5 = b"\x05\x00"  # method: no authentication
GRANT = socks5_success()

CASES = [
    # SOCKS5: lying length fields
    Case("socks5-domain-length-longer-than-sent", "socks5", socks5(R5, b"\x05\x00\x00\x03\xc8abc\x00\x50"),
         "proxy-timeout", ("10 of 207 bytes",)),
    Case("socks5-domain-length-longer-then-close", "socks5", socks5(R5, b"\x05\x00\x00\x03\xc8abc\x00\x50", then=None),
         "proxy-reply-cut-short", ("10 of 207 bytes", "closed")),
    Case("socks5-domain-length-shorter-rest-in-tunnel", "socks5",
         socks5(R5, b"\x05\x00\x00\x03\x03abc\x00\x50HIDDEN-TAIL"), "not-tls", ("HIDDEN-TAIL",),
         options={"tls": True, "insecure": True}),
    # SOCKS5: answers nobody asked for
    Case("socks5-method-not-offered", "socks5", socks5(b"\x05\x02"), "proxy-auth-required",
         ("method 0x02", "did not offer"), never=("0xff", "0xFF")),
    Case("socks5-gssapi", "socks5", socks5(b"\x05\x01"), "proxy-auth-unsupported", ("GSSAPI", "0x01")),
    Case("socks5-private-method", "socks5", socks5(b"\x05\x80"), "proxy-auth-unsupported", ("0x80", "private")),
    Case("socks5-no-acceptable-with-credentials", "socks5", socks5(b"\x05\xff"), "proxy-auth-required",
         ("0x02 (username/password)", "offered too"), options={"proxy_user": "u:p"}),
    Case("socks5-auth-answered-with-version-5", "socks5", socks5(b"\x05\x02", b"\x05\x00", auth=True),
         "proxy-protocol-error", ("version byte 0x05", "RFC 1929"), options={"proxy_user": "u:p"}),
    Case("socks5-auth-failed-status", "socks5", socks5(b"\x05\x02", b"\x01\x63", auth=True), "proxy-auth-failed",
         ("0x63",), options={"proxy_user": "u:p"}),
    Case("socks5-closes-after-auth-ok", "socks5", socks5(b"\x05\x02", b"\x01\x00", auth=True, then=None),
         "proxy-closed", ("accepting the user name and password",), options={"proxy_user": "u:p"}),
    Case("socks5-success-address-type-7", "socks5", socks5(R5, b"\x05\x00\x00\x07\x7f\x00\x00\x01\x00\x50"),
         "proxy-protocol-error", ("address type 0x07",)),
    Case("socks5-reply-version-4", "socks5", socks5(R5, b"\x04\x00\x00\x01\x7f\x00\x00\x01\x00\x50"),
         "proxy-protocol-error", ("version byte 0x04",)),
    Case("socks5-undefined-reply-code", "socks5", socks5(R5, b"\x05\x42\x00\x01\x00\x00\x00\x00\x00\x00"),
         "proxy-request-failed", ("0x42", "does not define")),
    Case("socks5-socks4-reply", "socks5", socks5(b"\x00\x5a\x00\x50\x7f\x00\x00\x01"), "proxy-protocol-error",
         ("SOCKS4",)),
    Case("socks5-http-answer", "socks5", socks5(b"HTTP/1.1 400 Bad Request\r\n\r\n"), "proxy-protocol-error",
         ("HTTP server",)),
    # SOCKS5: stalls, floods, cuts
    Case("socks5-drips-one-byte-a-second", "socks5", socks5_drip, "proxy-timeout", ("1 of 2 bytes",)),
    Case("socks5-silent", "socks5", lambda conn: hold(conn), "proxy-timeout", ("stayed silent",)),
    Case("socks5-64k-of-garbage", "socks5", socks5_garbage, "proxy-protocol-error", ("binary data",),
         (("bytes received", "17 "),)),
    Case("socks5-closes-after-method", "socks5", socks5(R5, then=None), "proxy-closed",
         ("after choosing no authentication (method 0x00)",)),
    Case("socks5-reset-after-greeting", "socks5", socks5_reset_after_greeting, "proxy-closed",
         ("reset the connection",)),
    Case("socks5-success-cut-short", "socks5", socks5(R5, b"\x05\x00\x00\x01\x7f", then=None),
         "proxy-reply-cut-short", ("5 of 10 bytes", "reply code 0x00")),
    Case("socks5-refusal-cut-short", "socks5", socks5(R5, b"\x05\x05", then=None), "proxy-reply-cut-short",
         ("2 bytes", "reply code 0x05")),
    Case("socks5-success-then-tunnel-closes", "socks5", socks5(R5, GRANT, then=None), "connection-reset",
         ("through the proxy",), options={"tls": True, "insecure": True}),
    Case("socks5-bound-name-with-escapes-and-bidi", "socks5",
         socks5(R5, b"\x05\x00\x00\x03" + bytes([len(BIDI_NAME)]) + BIDI_NAME + b"\x01\xbb"), None,
         literal=("\\e[2Jb[bold]",), exact=(BIDI_NAME.decode("latin-1") + ":443",)),
    # SOCKS4
    Case("socks4-undefined-code", "socks4", socks4(b"\x00\x5e\x00\x50\x7f\x00\x00\x01"), "proxy-request-failed",
         ("0x5e", "does not define")),
    Case("socks4-version-4-reply", "socks4", socks4(b"\x04\x5a\x00\x50\x7f\x00\x00\x01"), "proxy-protocol-error",
         ("version byte 0x04",)),
    Case("socks4-refusal-cut-short", "socks4", socks4(b"\x00\x5b", then=None), "proxy-reply-cut-short",
         ("2 of 8 bytes", "0x5b")),
    Case("socks4-grant-stalls-midway", "socks4", socks4(b"\x00\x5a\x00"), "proxy-timeout", ("3 of 8 bytes",)),
    Case("socks4-identd-refusal", "socks4", socks4(b"\x00\x5c\x00\x50\x7f\x00\x00\x01"), "proxy-request-failed",
         ("0x5c", "identd")),
    # HTTP CONNECT
    Case("http-200-then-close", "http", http(b"HTTP/1.1 200 Connection established\r\n\r\n"), "connection-reset",
         ("through the proxy",), options={"tls": True, "insecure": True}),
    Case("http-407-with-1mb-challenge", "http",
         http(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\""
              + b"x" * (1 << 20) + b"\"\r\n\r\n"), "proxy-auth-required", ("407",),
         (("answer head", "longer than 16384 bytes"),)),
    Case("http-header-with-nul-and-esc", "http",
         http(b"HTTP/1.1 403 Forbidden\x1b[31m\r\nVia: 1.1 \x00evil\x1b]0;owned\x07 \xe2\x80\xae\r\n\r\n"),
         "proxy-denied", (), (("status line", "403 Forbidden\x1b[31m"),), literal=("Forbidden\\e[31m",),
         exact=("HTTP/1.1 403 Forbidden\x1b[31m",)),
    Case("http-endless-head", "http", http_endless_head, "proxy-protocol-error", ("did not end within 16384 bytes",)),
    Case("http-0.9-style", "http", http(b"<html><body>hello</body></html>\n"), "proxy-protocol-error",
         ("without an HTTP status line",)),
    Case("http-101-switching-protocols", "http",
         http(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), "proxy-protocol-error",
         ("101 Switching Protocols", "websocket")),
    Case("http-redirect", "http",
         http(b"HTTP/1.1 302 Found\r\nLocation: http://portal.example/\x1b[2J[bold]\r\nContent-Length: 0\r\n\r\n"),
         "proxy-request-failed", ("redirected", "http://portal.example/"), literal=("portal.example/\\e[2J[bold]",)),
    Case("http-100-continue-then-200", "http", http(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", hold),
         None),
    Case("http-interim-answers-without-end", "http", http(b"HTTP/1.1 100 Continue\r\n\r\n" * 12, hold),
         "proxy-protocol-error", ("interim",)),
    Case("http-200-with-a-body", "http", http(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello body\n", hold),
         None, also=("proxy-connect-body",)),
    Case("http-1.0-answer", "http", http(b"HTTP/1.0 200 Connection established\r\n\r\n", hold), None),
    Case("http-status-line-without-reason", "http", http(b"HTTP/1.1 403\r\n\r\n"), "proxy-denied",
         evidence=(("status line", "HTTP/1.1 403"),)),
    Case("http-cut-mid-head", "http", http(b"HTTP/1.1 200 Connection estab"), "proxy-reply-cut-short",
         ("29 bytes", "Connection estab")),
    Case("http-malformed-status", "http", http(b"HTTP/1.1 2OO OK\r\n\r\n", hold), "proxy-protocol-error",
         ("2OO",)),
    Case("http-2-status-line", "http", http(b"HTTP/2 200\r\n\r\n", hold), "proxy-protocol-error",
         ("another HTTP version",)),
    Case("http-drips-its-head", "http", http_drip, "proxy-timeout", ("did not end within 1 s",)),
    Case("http-reason-with-markup", "http",
         http(b"HTTP/1.1 502 [bold]Bad[/bold] \x1b[2JGateway\r\nContent-Length: 0\r\n\r\n"),
         "proxy-target-unreachable", ("502",), literal=("[bold]Bad[/bold] \\e[2JGateway",)),
    Case("http-403-with-1mb-body", "http",
         http(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 1048576\r\n\r\n" + MARKUP + b"z" * (1 << 20)),
         "proxy-denied", evidence=(("the proxy says", "[bold]x[/bold]"),), literal=("[bold]x[/bold]",)),
    Case("http-reset", "http", http_reset, "proxy-closed", ("reset",)),
    Case("http-401-to-credentials", "http", http(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"),
         "proxy-auth-failed", ("401 Unauthorized",), never=("407",), options={"proxy_user": "u:p"}),
    Case("http-403-in-its-own-words", "http", http(b"HTTP/1.1 403 Access Denied\r\nContent-Length: 0\r\n\r\n"),
         "proxy-denied", ("403 Access Denied",), never=("Forbidden",)),
    # TLS servers, scripted
    Case("tls-alert-before-server-hello", "tls", tls(record(21, b"\x02\x28"), read_hello=False), "tls-alert",
         ("handshake_failure",)),
    Case("tls-server-hello-version-0x0305", "tls", tls(server_hello(0x0305)), "tls-version-mismatch",
         ("0x0305",), (("server chose", "0x0305"),)),
    Case("tls-supported-versions-0x0305", "tls",
         tls(server_hello(0x0303, extension(0x2B, b"\x03\x05"), cipher=b"\x13\x01")), "tls-version-mismatch",
         ("0x0305",)),
    Case("tls-record-of-65535-bytes", "tls", tls(b"\x16\x03\x03\xff\xff" + b"\x00" * 65535), "tls-alert",
         ("65535 bytes",), (("record header (hex)", "16 03 03 ff ff"),)),
    Case("tls-closes-mid-record", "tls", tls(b"\x16\x03\x03\x00\x50" + b"\x02" * 10, then=None), "connection-reset",
         ("middle of a TLS handshake record", "15 of its 85 bytes")),
    Case("tls-sslv2-server-hello", "tls",
         tls(b"\x80\x0b\x04\x00\x01\x00\x02\x00\x00\x00\x03\x00\x10"), "tls-version-mismatch", ("SSL 2.0",)),
    Case("tls-dribbles-its-handshake", "tls", tls_dribble, "tls-timeout", ("still sending",)),
    Case("tls-stops-mid-handshake", "tls", tls_flight_then_silence, "tls-timeout", ("stopped answering",)),
    Case("tls-unknown-alert", "tls", tls(record(21, b"\x02\xc8")), "tls-alert", ("alert 200",)),
    Case("tls-binary-garbage", "tls", tls(bytes(range(0x80, 0x100)) * 4), "not-tls", ("binary",)),
    Case("tls-escape-banner", "tls", tls(b"220 \x1b[2J\x1b]0;owned\x07 [bold]mail[/bold] ESMTP\r\n", read_hello=False),
         "not-tls", ("SMTP",), literal=("220 \\e[2J\\e]0;owned\\x07 [bold]mail[/bold] ESMTP",)),
    Case("tls-to-http-that-streams-forever", "tls", http_streams_forever, "not-tls", ("HTTP/1.1 200 OK",)),
    Case("plain-http-that-streams-forever", "tls", http_streams_forever, None, options={"tls": False, "http": True}),
    # TLS servers: openssl s_server with crafted certificates
    Case("s_server-subject-with-escapes-and-markup", "s_server:markup", None, None,
         literal=("\\e[31m[bold]evil[/bold]",), exact=("\x1b[31m[bold]evil[/bold]",)),
    Case("s_server-bidi-spoofed-san", "s_server:bidi", None, None, options={"target": "127.0.0.1"},
         also=("cert-hostname-mismatch",), literal=("\\u202egnp.exe",), exact=("DNS:\u202egnp.exe",)),
    Case("s_server-chain-of-100", "s_server:chain100", None, None, options={"trust": "root"},
         also=("cert-expiring-soon",), most=4, chain=100),
    Case("s_server-1mb-certificate", "s_server:huge", None, "tls-alert", ("too large",),
         (("OpenSSL reason", "EXCESSIVE_MESSAGE_SIZE"),)),
    Case("s_server-extension-that-does-not-parse", "s_server:badext", None, None,
         also=("cert-extension-unparsable",)),
    Case("s_server-extension-that-does-not-parse-verified", "s_server:badext", None, "cert-extension-unparsable",
         ("subjectAltName",), options={"trust": "own"}),
    Case("s_server-certificate-that-does-not-parse", "s_server:v5", None, "cert-unparsable",
         ("does not parse",), options={"trust": "own", "no_sni": True}),
]


# --- the real servers --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def crafted_servers(tmp_path_factory):
    """openssl s_server instances serving crafted certificates, started on first use."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    import hostile_certs
    from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

    folder = tmp_path_factory.mktemp("hostile-certs")
    made = {
        "markup": lambda: hostile_certs.self_signed(
            folder, {NameOID.COMMON_NAME: "\x1b[31m[bold]evil[/bold]\u202egnp.exe",
                     NameOID.ORGANIZATION_NAME: "[link=https://evil.example]click[/link]"}, "localhost"),
        "bidi": lambda: hostile_certs.crafted(folder, "bidi", sans=("localhost", "PLACEHOLDR.test"),
                                              patch=lambda tbs: tbs.replace(b"PLACEHOLDR.test",  # same length
                                                                            "\u202egnp.exe.test".encode())),
        "chain100": lambda: hostile_certs.long_chain(folder, 100),
        "huge": lambda: hostile_certs.crafted(folder, "huge", extensions=[(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x04\x83\x10\x00\x00" + b"A" * (1 << 20)), False)]),
        "badext": lambda: hostile_certs.crafted(folder, "badext", sans=(), extensions=[(x509.UnrecognizedExtension(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x05\x82\x03ab"), False)]),
        "v5": lambda: hostile_certs.crafted(folder, "v5", patch=lambda tbs: tbs.replace(
            b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05", 1)),
    }
    running: dict = {}
    lock = threading.Lock()

    def get(name: str):
        with lock:
            if name not in running:
                files = made[name]()
                running[name] = (need(openssl_server, TlsServerOptions(cert=files),
                                      log_dir=folder / f"s_server-{name}"), files)
            return running[name]

    yield get
    for server, _ in running.values():
        server.stop()


# --- running and rendering ---------------------------------------------------------------------------

def _spec(case: Case, peers, crafted_servers):
    options = dict(case.options)
    if case.route.startswith("s_server:"):
        server, files = crafted_servers(case.route.split(":", 1)[1])
        host = options.pop("target", "localhost")
        trust = options.pop("trust", None)  # "own": the certificate itself; "root": the chain's root
        if trust is not None:
            options["cafile"] = str(files.cert if trust == "own" else files.chain)
        else:
            options.setdefault("insecure", True)
        return build_spec(f"{host}:{server.port}", timeout=TIMEOUT, **options)
    address = peers.address(case.script)
    if case.route == "tls":
        if options.get("tls", True):
            options.setdefault("insecure", True)
        return build_spec(address.replace("127.0.0.1", "localhost"), timeout=TIMEOUT, **options)
    options.setdefault("tls", False)
    if case.route == "http":
        return build_spec("localhost:443", proxies=[f"http://{address}"], timeout=TIMEOUT, **options)
    return build_spec("localhost:443", proxies=[f"{case.route}://{address}"], timeout=TIMEOUT, **options)


def run_bounded(spec):
    """The run in a thread, so a hang fails the test instead of the suite; (result, events, seconds)."""
    events: list = []
    box: dict = {}

    def go():
        try:
            box["result"] = run_probe(spec, on_event=events.append)
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(BOUND + 20)
    elapsed = time.monotonic() - started
    assert not worker.is_alive(), "the probe did not end"
    assert "error" not in box, f"the probe raised {box.get('error')!r}"
    return box["result"], events, elapsed


def _hidden(text: str, allowed: str = "\t\n") -> list[str]:  # visible() keeps tabs and newlines
    return [ch for ch in text if is_hidden(ch) and ch not in allowed]


def waterfall_text(result, events) -> str:
    from tlsbench.commands.probe_output import Waterfall

    out = io.StringIO()
    view = Waterfall(out, colour=False)
    view.emit(f"tlsbench probe {result.target}")
    for event in events:
        view(event)
    return out.getvalue()


def json_text(result) -> str:
    from tlsbench.commands.probe_output import write_json

    out = io.StringIO()
    write_json(result, out)
    return out.getvalue()


def workbench_texts(result) -> list[Text]:
    from tlsbench.tui.safe_text import data
    from tlsbench.tui.stage_text import detail_text
    from tlsbench.tui.widgets.findings_panel import finding_text

    texts = [detail_text(stage.detail, result.messages) for stage in result.stages]
    texts += [data(stage.summary) for stage in result.stages]
    texts += [finding_text(f) for f in result.findings]
    for cert in (result.chain.certificates if result.chain else ()):
        texts += [data(value) for value in cert]
    return texts


def rendered(text: Text) -> str:
    """The text as the terminal gets it: the segments Rich writes."""
    console = Console(width=160, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    return "".join(segment.text for segment in console.render(text))


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def assert_renders_safely(case: Case, result, events) -> None:
    shown = waterfall_text(result, events)
    assert not _hidden(shown), f"hidden characters in the waterfall: {_hidden(shown)[:5]}"
    out = json_text(result)
    assert out.isascii()
    data = json.loads(out)
    values = _strings(data)
    screens = [rendered(text) for text in workbench_texts(result)]
    for screen in screens:
        assert not _hidden(screen), f"hidden characters on the workbench: {screen!r}"
    workbench = "\n".join(screens)
    for literal in case.literal:
        assert literal in workbench, f"{literal!r} not shown literally on the workbench"
    for exact in case.exact:
        assert any(exact in value for value in values), f"{exact!r} not kept exact in the JSON"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_peer(case: Case, peers, crafted_servers):
    result, events, elapsed = run_bounded(_spec(case, peers, crafted_servers))
    assert elapsed < BOUND, f"took {elapsed:.1f} s with a {TIMEOUT:g} s deadline per stage"
    assert isinstance(events[-1], RunFinished)
    codes = result.codes()
    assert "internal-error" not in codes, result.findings
    errors = [f for f in result.findings if f.severity == "error"]
    if case.code is None:
        assert result.ok and not errors, [(f.code, f.title) for f in result.findings]
    else:
        assert errors and errors[0].code == case.code, [(f.code, f.title) for f in result.findings]
        said = f"{errors[0].title} {errors[0].explanation}"
        for word in case.words:
            assert word in said, f"{word!r} not in {said!r}"
        for word in case.never:
            assert word not in said and not any(word in e.value for e in errors[0].evidence), said
        for label, part in case.evidence:
            assert any(e.label == label and part in e.value for e in errors[0].evidence), errors[0].evidence
    for code in case.also:
        assert code in codes, codes
    if case.most is not None:
        assert len(codes) <= case.most, codes
    if case.chain is not None:
        assert result.chain is not None and len(result.chain.certificates) == case.chain
    assert_renders_safely(case, result, events)


def test_the_catalogue_is_big_enough():
    kinds = {c.route.split(":")[0] for c in CASES}
    assert len({c.id for c in CASES}) == len(CASES) >= 45
    assert kinds == {"socks5", "socks4", "http", "tls", "s_server"}


@pytest.mark.parametrize("case_id", ["http-header-with-nul-and-esc", "socks5-success-cut-short"])
def test_the_probe_command_itself_prints_hostile_answers_safely(case_id, peers, tmp_path):
    """The same peers through `tlsbench probe` as a process: the waterfall and --json on a real stdout."""
    import subprocess
    import sys

    case = next(c for c in CASES if c.id == case_id)
    route = f"http://{peers.address(case.script)}" if case.route == "http" else f"socks5://{peers.address(case.script)}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")},
           "TLSBENCH_CONFIG_DIR": str(tmp_path / "cfg"), "TLSBENCH_DATA_DIR": str(tmp_path / "data")}
    args = [sys.executable, "-m", "tlsbench", "probe", "localhost:443", "-x", route, "--no-tls", "--timeout", "1"]
    text = subprocess.run(args, capture_output=True, env=env, timeout=BOUND + 20, stdin=subprocess.DEVNULL)
    as_json = subprocess.run(args + ["--json"], capture_output=True, env=env, timeout=BOUND + 20,
                             stdin=subprocess.DEVNULL)
    for done in (text, as_json):
        assert done.returncode == 1 and b"Traceback" not in done.stderr, done.stderr
    shown = text.stdout.decode("utf-8")
    assert not _hidden(shown) and f"{case.code}:" in shown
    assert all(literal in shown for literal in case.literal)
    data = json.loads(as_json.stdout)
    assert data["findings"][0]["code"] == case.code and as_json.stdout.isascii()

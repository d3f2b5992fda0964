"""The app stage: a minimal HTTP/1.1 request (--http) or a line of text (--send) over the run's stream.

Its time runs from the request's first byte to the answer's last byte seen (the idle wait for
more text after a --send answer is not counted).
"""

from __future__ import annotations

import ssl
import time
from typing import TYPE_CHECKING

from tlsbench.engine.records.details import AppDetail
from tlsbench.errors import Cancelled
from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding, Severity
from tlsbench.engine.spec import ConnectionSpec, format_hostport, is_ip
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.stagetime import SLOW_FIRST_BYTE_MS, name_dominant, wire_ms
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.suggestions import Change, Peer, Suggestion, curl

if TYPE_CHECKING:
    import socket

    from tlsbench.engine.stream import Stream

MAX_ANSWER = 4096
IDLE_AFTER_FIRST = 0.5  # seconds to wait for more after the first bytes of a --send answer
BODY_WAIT = 0.5  # seconds to wait for the body of a 400 (a TLS server's complaint is in it)
USER_AGENT = "tlsbench/0.1"
# What TLS servers answer when plain HTTP reaches their TLS port (their 400's body says it).
TLS_PORT_COMPLAINTS = (
    ("nginx", b"The plain HTTP request was sent to HTTPS port"),
    ("Apache httpd", b"speaking plain HTTP to an SSL-enabled server port"),
    ("Go net/http", b"Client sent an HTTP request to an HTTPS server"),
    ("tlsbench serve", b"This port speaks TLS, but a plain HTTP request arrived"),
)
# What servers that complete the handshake without a client certificate then answer (a 400).
NO_CLIENT_CERT = (
    ("nginx", b"No required SSL certificate was sent"),
)


def authority(spec: ConnectionSpec) -> str:
    """The host asked for (and the port when it is not the default): Host in HTTP/1.1, :authority in
    HTTP/2, as curl writes them."""
    host = spec.host
    if not is_ip(host):
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    default = 443 if spec.tls.enabled else 80
    if spec.port != default:
        host = format_hostport(host, spec.port)
    elif ":" in host:
        host = f"[{host}]"
    return host


def http_request(spec: ConnectionSpec) -> bytes:
    """GET with a Host header naming the host asked for (and the port when it is not the default)."""
    return (f"GET {spec.app.path} HTTP/1.1\r\nHost: {authority(spec)}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode("ascii", "replace")


def _url_peer(spec: ConnectionSpec, *words: str) -> Peer:
    """curl asking for the same URL at the same place (pinned with --resolve)."""
    return curl(spec.host, spec.port, *words, scheme="https" if spec.tls.enabled else "http", path=spec.app.path,
                address=spec.pin)


class AppStage:
    """After connecting: a minimal HTTP/1.1 GET, or the text given, and the first bytes of the answer."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.spec = plan.spec
        self.after_tls = None
        if self.spec.starttls.protocol and not self.spec.app.http and self.spec.app.send is None:
            from tlsbench.engine.hops.starttls.after import run_after_tls

            self.after_tls = run_after_tls  # the protocol's capabilities again, over TLS

    def runs_after(self, state: RunState, failed: Step) -> bool:
        """--http3: the request goes over QUIC when QUIC connected, whatever became of TCP+TLS."""
        return state.quic is not None and state.quic.mode == "race" and state.quic.ready

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        if state.quic is not None:
            from tlsbench.engine.stages.h3app import run_http3

            return run_http3(ctx, state, state.quic, lambda: self.run_tcp(ctx, state))
        return self.run_tcp(ctx, state)

    def run_tcp(self, ctx: StageContext, state: RunState) -> StageOutcome:
        """The request (or text) over the run's stream: HTTP/1.1, or HTTP/2 when ALPN chose h2."""
        if self.after_tls is not None:
            return self.after_tls(ctx, state)
        wire = state.tls.wire if state.tls is not None else ()
        asked = any(m.direction == "received" and m.name == "CertificateRequest" for m in wire)
        tls_detail = state.tls.outcome.detail if state.tls is not None else None
        version = getattr(tls_detail, "version", None)
        chosen = getattr(tls_detail, "alpn", None)
        if chosen is not None and chosen not in self.spec.tls.alpn:
            from tlsbench.engine.stages.http2 import not_offered

            return not_offered(ctx, chosen, self.spec.tls.alpn)
        if chosen == "h2" and self.spec.app.send is None:
            from tlsbench.engine.stages.http2 import run_h2

            return run_h2(ctx, state)  # never HTTP/1.1 bytes into an HTTP/2 connection
        if not self.spec.app.http and self.spec.app.send is None:  # h2 offered, not chosen: nothing to say
            said = f"ALPN chose {chosen}" if chosen else "ALPN chose no protocol"
            return StageOutcome(ok=True, detail=AppDetail(mode="none", request=""),
                                summary=f"{said}: no HTTP/2, nothing sent (--http sends a request)")
        outcome = run_app(ctx, state.need_stream(), cert_requested=asked and not self.spec.tls.cert,
                          tls_version=version)
        if not self.spec.app.http:
            return outcome
        from tlsbench.engine.stages.http2 import misdirected

        return misdirected(ctx.spec, state, outcome)


def run_app(ctx: StageContext, stream: Stream | socket.socket, cert_requested: bool = False,
            tls_version: str | None = None) -> StageOutcome:
    """The app stage over a stream (or a connected socket, for plain TCP). `cert_requested`: the server
    asked for a client certificate during the handshake and none was given; `tls_version`: the version
    the session negotiated (for what OpenSSL refuses in it)."""
    import socket

    if isinstance(stream, socket.socket):
        from tlsbench.engine.stream import socket_stream

        stream = socket_stream(stream, ctx.cancel)
        stream.link.set_timeout(ctx.spec.timeout)
    spec = ctx.spec
    mode = "http" if spec.app.http else "send"
    request = http_request(spec) if mode == "http" else (spec.app.send or "").encode("utf-8", "surrogateescape")
    req_text = request.decode("latin-1")
    deadline = time.monotonic() + spec.timeout
    answer = bytearray()
    error = None
    tls_error: ssl.SSLError | None = None
    ttfb = None
    last_rx = 0.0
    closed = False
    ctx.begin()
    try:
        stream.send(request)
        sent_at = ctx.now_ms()
        while len(answer) < MAX_ANSWER:
            if ctx.cancel.cancelled:
                raise Cancelled("cancelled during the app stage")
            left = deadline - time.monotonic()
            if answer and mode == "send":
                left = min(left, IDLE_AFTER_FIRST)
            if left <= 0:
                break
            try:
                chunk = stream.recv(MAX_ANSWER - len(answer), left)
            except TimeoutError:
                if not answer:
                    error = "timeout"
                break
            if not chunk:
                closed = True
                break
            last_rx = ctx.now_ms()
            if ttfb is None:
                ttfb = last_rx - sent_at
            answer += chunk
            if mode == "http" and b"\r\n\r\n" in answer:
                if answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400"):
                    # A 400's body may be a TLS server's complaint: read it (bounded), it is the evidence.
                    deadline = min(deadline, time.monotonic() + BODY_WAIT)
                    if not _body_complete(bytes(answer)):
                        continue
                break
    except Cancelled:
        raise
    except ssl.SSLError as exc:  # the TLS layer refused what the server sent: not a silence
        tls_error = exc
        error = f"{type(exc).__name__}: {exc}"
    except OSError as exc:
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled during the app stage") from None
        error = f"{type(exc).__name__}: {exc}"
    ctx.end()
    if answer:
        ctx.wire_end = last_rx
    data = bytes(answer)
    status_line = None
    if data.startswith(b"HTTP/"):
        status_line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
    code = status_line.split(" ", 2)[1] if status_line and status_line.count(" ") else ""
    detail = AppDetail(mode=mode, request=req_text, status_line=status_line,
                       status=int(code) if code.isdigit() and mode == "http" else None,
                       protocol="http/1.1" if mode == "http" else "text",
                       first_bytes_text=data.decode("latin-1") if data else None,
                       first_bytes_hex=data.hex() if data else None, ttfb_ms=ttfb,
                       bytes_received=len(data), error=error)
    findings = _findings(spec, mode, data, status_line, error, closed)
    if tls_error is not None:
        from tlsbench.engine.findings.malformed import refused_after_handshake

        findings = [refused_after_handshake(spec, tls_error, tls_version, len(data))] + [
            f for f in findings if f.code != "app-no-response"]
    missing = _no_client_cert(spec, data, status_line) if cert_requested and status_line else None
    if missing is not None:
        findings = [missing]
    ok = bool(data) and not any(f.severity == "error" for f in findings)  # e.g. http-on-tls-port
    if status_line:
        summary = status_line
    elif data:
        summary = f"{len(data)} bytes received"
    else:
        summary = findings[0].title if findings else "no answer"
    if ttfb is not None and ttfb >= SLOW_FIRST_BYTE_MS:
        summary = name_dominant(summary, ttfb, wire_ms(ctx), "waiting for the server's first byte")
    return StageOutcome(ok=ok, detail=detail, summary=summary, findings=tuple(findings))


def _body_complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= min(int(value.strip()), MAX_ANSWER - len(head) - 4)
    return False  # no length: until the server closes (or the short wait ends)


def tls_port_complaint(data: bytes) -> tuple[str, str] | None:
    """(the server, its sentence) when a 400's body is a TLS server's complaint about plain HTTP."""
    body = data.partition(b"\r\n\r\n")[2]
    for server, phrase in TLS_PORT_COMPLAINTS:
        if phrase.lower() in body.lower():
            return server, phrase.decode("ascii")
    return None


def _no_client_cert(spec: ConnectionSpec, data: bytes, status_line: str) -> Finding | None:
    """client-cert-required when the server asked for a certificate in the handshake, none was given,
    and its 400 says in its own words that this is why."""
    if not data.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400")):
        return None
    body = data.partition(b"\r\n\r\n")[2]
    said = next(((server, phrase) for server, phrase in NO_CLIENT_CERT if phrase.lower() in body.lower()), None)
    if said is None:
        return None
    server, phrase = said
    from tlsbench.engine.findings.tls import curl_peer, openssl_peer

    return finding("client-cert-required", "The server requires a client certificate",
                   f"The server asked for a client certificate (CertificateRequest), completed the handshake "
                   f"without one and then refused the request: {status_line!r}, with {server}'s words "
                   f"\"{phrase.decode('ascii')}\".",
                   Suggestion("Give your client certificate and its key: {0}.",
                              (Change.of(cert="FILE", key="FILE", placeholders=("FILE",)),),
                              (openssl_peer(spec, "-cert", "FILE", "-key", "FILE"),
                               curl_peer(spec, "--cert", "FILE", "--key", "FILE"))),
                   (Evidence("CertificateRequest", "received"), Evidence("status line", status_line),
                    Evidence("the server said", phrase.decode("ascii"))), stage="app")


def _http_on_tls_port(spec: ConnectionSpec, status_line: str, server: str, sentence: str) -> Finding:
    from tlsbench.engine.findings.catalogue import finding
    from tlsbench.engine.suggestions import Change, Suggestion, curl

    return finding("http-on-tls-port", "Plain HTTP was sent to a TLS port",
                   f"The server answered {status_line!r} with {server}'s words for plain HTTP on a TLS port "
                   f"(\"{sentence}\"): the port expects a TLS ClientHello first, and the request went in clear. "
                   "The listener's own code for this is http-on-tls-port; here it is seen from the client.",
                   Suggestion("Use TLS: {0}.", (Change.of(tls=True),), (curl(spec.host, spec.port),)),
                   (Evidence("status line", status_line), Evidence("the server said", sentence)),
                   stage="app", origin="local")


def _findings(spec: ConnectionSpec, mode: str, data: bytes, status_line: str | None, error: str | None,
              closed: bool) -> list[Finding]:
    if not data:
        if error == "timeout":
            why = f"Nothing came back within {spec.timeout:g} s after the request was sent."
        elif closed:
            why = "The peer closed the connection without sending a byte."
        else:
            why = f"Reading the answer failed: {error}."
        if mode == "http":
            hint = Suggestion("Check that the service speaks HTTP on this port (or send it text of your own with "
                              "{send}); if it is only slow, raise {timeout}.", (), (_url_peer(spec, "-v"),))
        else:
            hint = Suggestion("Check that the service expects this text (many need a line end: \\r\\n at the end "
                              "of {send}) or speaks first; if it is only slow, raise {timeout}.")
        return [finding("app-no-response", "No answer to the request", why, hint,
                        [Evidence("request", "HTTP GET" if mode == "http" else "text"),
                         Evidence("bytes received", "0")])]
    ev_bytes = [Evidence("first bytes (hex)", " ".join(f"{b:02x}" for b in data[:64])),
                Evidence("first bytes (text)", data[:200].decode("latin-1"))]
    if mode != "http":
        return []
    if status_line is None:
        return [finding("http-0.9-response", "The answer has no HTTP status line",
                        "The server answered an HTTP/1.1 request without 'HTTP/1.x NNN' first: an HTTP/0.9-style "
                        "answer (just a body) or not HTTP at all. Browsers and curl refuse or misread such answers.",
                        Suggestion("Make the server send a status line and headers (curl shows such an answer only "
                                   "when told to expect HTTP/0.9).", (), (_url_peer(spec, "--http0.9"),)), ev_bytes)]
    parts = status_line.split(" ", 2)
    code = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    complaint = tls_port_complaint(data) if code == 400 and not spec.tls.enabled else None
    if complaint is not None:
        return [_http_on_tls_port(spec, status_line, *complaint)]
    if code is not None and code >= 400:
        severity: Severity = "warning" if code >= 500 else "info"
        if code == 421 and is_ip(spec.host):
            hint = Suggestion("The connection works, but the request names an IP address and the server routes by "
                              "name (421 Misdirected Request): connect by the site's name and keep the address ({0}).",
                              (Change.of(target=f"NAME:{spec.port}", pin=spec.pin or spec.host,
                                         placeholders=("NAME",)),), (_url_peer(spec, "-v"),))
        else:
            hint = Suggestion("The connection works; check the path ({path}), the name asked for (the Host header: "
                              "the host, or connect by name with {pin}) and the server's logs.", (),
                              (_url_peer(spec, "-v"),))
        return [finding("http-error-status", f"The server answered {status_line}",
                        f"The HTTP request reached the server and it answered with status {code} "
                        f"({'a server error' if code >= 500 else 'a client error: the request was refused or not found'}).",
                        hint, [Evidence("status line", status_line)], severity=severity)]
    return []

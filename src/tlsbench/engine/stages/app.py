"""The app stage: a minimal HTTP/1.1 request (--http) or a line of text (--send) over the run's stream.

Its time runs from the request's first byte to the answer's last byte seen (the idle wait for
more text after a --send answer is not counted).
"""

from __future__ import annotations

import time

from tlsbench.engine.details import AppDetail
from tlsbench.engine.errors import Cancelled
from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.spec import ConnectionSpec, format_hostport, is_ip
from tlsbench.engine.stages.context import StageContext, StageOutcome

MAX_ANSWER = 4096
IDLE_AFTER_FIRST = 0.5  # seconds to wait for more after the first bytes of a --send answer
USER_AGENT = "tlsbench/0.1"


def http_request(spec: ConnectionSpec) -> bytes:
    """GET with a Host header naming the host asked for (and the port when it is not the default)."""
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
    return (f"GET {spec.app.path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode("ascii", "replace")


def _f(code, severity, title, explanation, suggestion, evidence=()) -> Finding:
    return Finding(code=code, severity=severity, title=title, explanation=explanation, suggestion=suggestion,
                   stage="app", origin="peer", evidence=tuple(evidence))


class AppStage:
    """After connecting: a minimal HTTP/1.1 GET, or the text given, and the first bytes of the answer."""

    def __init__(self, step, plan) -> None:
        self.spec = plan.spec

    def run(self, ctx: StageContext, state) -> StageOutcome:
        return run_app(ctx, state.stream)


def run_app(ctx: StageContext, stream) -> StageOutcome:
    """The app stage over a stream (or a connected socket, for plain TCP)."""
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
                break
    except Cancelled:
        raise
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
    detail = AppDetail(mode=mode, request=req_text, status_line=status_line,
                       first_bytes_text=data.decode("latin-1") if data else None,
                       first_bytes_hex=data.hex() if data else None, ttfb_ms=ttfb,
                       bytes_received=len(data), error=error)
    findings = _findings(spec, mode, data, status_line, error, closed)
    ok = bool(data)
    if status_line:
        summary = status_line
    elif data:
        summary = f"{len(data)} bytes received"
    else:
        summary = findings[0].title if findings else "no answer"
    return StageOutcome(ok=ok, detail=detail, summary=summary, findings=tuple(findings))


def _findings(spec, mode, data, status_line, error, closed) -> list[Finding]:
    if not data:
        if error == "timeout":
            why = f"Nothing came back within {spec.timeout:g} s after the request was sent."
        elif closed:
            why = "The peer closed the connection without sending a byte."
        else:
            why = f"Reading the answer failed: {error}."
        return [_f("app-no-response", "error", "No answer to the request", why,
                   "Check that the service speaks this protocol (--http for HTTP, --send for text); "
                   "raise --timeout if it is slow.", [Evidence("request", "HTTP GET" if mode == "http" else "text"),
                                                      Evidence("bytes received", "0")])]
    ev_bytes = [Evidence("first bytes (hex)", " ".join(f"{b:02x}" for b in data[:64])),
                Evidence("first bytes (text)", data[:200].decode("latin-1"))]
    if mode != "http":
        return []
    if status_line is None:
        return [_f("http-0.9-response", "warning", "The answer has no HTTP status line",
                   "The server answered an HTTP/1.1 request without 'HTTP/1.x NNN' first: an HTTP/0.9-style "
                   "answer (just a body) or not HTTP at all. Browsers and curl refuse or misread such answers.",
                   "Make the server send a status line and headers; curl --http0.9 shows it anyway.", ev_bytes)]
    parts = status_line.split(" ", 2)
    code = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    if code is not None and code >= 400:
        severity = "warning" if code >= 500 else "info"
        return [_f("http-error-status", severity, f"The server answered {status_line}",
                   f"The HTTP request reached the server and it answered with status {code} "
                   f"({'a server error' if code >= 500 else 'a client error: the request was refused or not found'}).",
                   "The connection works; check the path, the Host header (host name / --pin) and the server's logs.",
                   [Evidence("status line", status_line)])]
    return []

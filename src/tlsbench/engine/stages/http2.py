"""The app stage's HTTP/2, when ALPN chose h2: the connection preface, SETTINGS both ways (each
acknowledged), one GET (or none, when only h2 was offered and no request asked for), the response's
status and header fields, and GOAWAY and RST_STREAM named by their error codes.

The exchange itself (h2client.py, on the h2 library) speaks the protocol over the run's stream,
bounded in time (the stage's timeout), frames, bytes and the size of a header block: a peer that
breaks HTTP/2 or passes a bound gives a finding, never an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.route.hostport import is_ip
from tlsbench.engine.stages.h2frames import H2Frame
from tlsbench.engine.suggestions import Suggestion

if TYPE_CHECKING:
    from tlsbench.engine.spec import ConnectionSpec
    from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
    from tlsbench.engine.stream import Stream

MAX_BODY = 4096  # of the response body, kept; the rest is not waited for


class Exchange(NamedTuple):
    """What the HTTP/2 exchange saw (the app stage turns it into its detail and findings)."""

    frames: tuple[H2Frame, ...]
    status: int | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    goaway: tuple[str, int, bytes] | None  # (error code, last stream, debug data)
    reset: str | None  # RST_STREAM's error code on our stream
    broken: str | None  # what h2 refused in the peer's bytes
    limit: str | None  # the bound that was passed
    error: str | None  # reading or writing failed (or "timeout")
    settings_acked: bool  # the server acknowledged our SETTINGS
    ttfb_ms: float | None
    bytes_received: int
    last_rx_ms: float | None


def exchange(ctx: StageContext, stream: Stream, request: list[tuple[str, str]] | None,
             timeout: float) -> Exchange:
    """Speak HTTP/2 over `stream`: the preface and SETTINGS, then `request` (None: no request; the
    exchange ends once both SETTINGS are acknowledged). Call between ctx.begin() and ctx.end()."""
    from tlsbench.engine.stages.h2client import H2Request, exchange_streams

    x = exchange_streams(ctx, stream, [H2Request(request)] if request is not None else [], timeout, MAX_BODY)
    mine = x.responses[0] if x.responses else None
    return Exchange(x.frames, mine.status if mine else None, mine.headers if mine else (),
                    mine.body if mine else b"", x.goaway, mine.reset if mine else None, x.broken, x.limit, x.error,
                    x.settings_acked, x.ttfb_ms, x.bytes_received, x.last_rx_ms)


def h2_findings(x: Exchange, asked: bool) -> list[Finding]:
    """What an HTTP/2 exchange says went wrong; `asked`: a request was sent."""
    out = []
    received = tuple(f for f in x.frames if f.direction == "received")
    if x.broken is not None:
        first = received[0] if received else None
        ev = [Evidence("h2 refused", x.broken)]
        if first is not None:
            ev.append(Evidence("first frame received", f"{first.type} stream {first.stream_id} "
                                                       f"{first.flags or '-'} {first.length} B"))
        out.append(finding("h2-protocol-error", "The server's HTTP/2 frames break the protocol",
                           f"After ALPN chose h2, the server's frames could not be read as HTTP/2 ({x.broken}); "
                           "tlsbench closed the connection with GOAWAY, as a browser would.",
                           "The server (or something between) does not speak HTTP/2 as RFC 9113 says; check that "
                           "it offers h2 only where HTTP/2 is served.", ev))
    if x.limit is not None:
        out.append(finding("h2-limit-exceeded", "The server's HTTP/2 answer passed a bound",
                           f"The server sent {x.limit}; tlsbench stops reading there (a browser would refuse it "
                           "too).", "Check what the server sends for this path: curl --http2 -sv shows it.",
                           [Evidence("bound", x.limit), Evidence("frames received", str(len(received)))]))
    if x.goaway is not None:
        code, last, debug = x.goaway
        unanswered = asked and x.status is None and last < 1
        if code != "NO_ERROR" or unanswered:
            ev = [Evidence("GOAWAY", code), Evidence("last stream", str(last))]
            if debug:
                ev.append(Evidence("debug data", debug[:200].decode("latin-1")))
            out.append(finding("h2-goaway", f"The server closed the HTTP/2 connection (GOAWAY {code})",
                               f"The server sent GOAWAY with error code {code}"
                               + (", before answering the request" if unanswered else "") + ".",
                               "Read the server's log for the reason; the debug data, if any, is its own words.",
                               ev, severity="error" if unanswered or code != "NO_ERROR" else "warning"))
    if x.reset is not None:
        out.append(finding("h2-stream-reset", f"The server reset the request's stream (RST_STREAM {x.reset})",
                           f"The server answered the request's stream with RST_STREAM, error code {x.reset}"
                           + ("" if x.status is None else f", after status {x.status}") + ".",
                           "REFUSED_STREAM means it may be retried; other codes are the server's refusal: "
                           "read its log.", [Evidence("RST_STREAM", x.reset), Evidence("stream", "1")]))
    return out


# --- the app stage's outcome -------------------------------------------------------------------------

def request_headers(spec: ConnectionSpec) -> list[tuple[str, str]]:
    """The GET as curl --http2 sends it: :authority as HTTP/1.1's Host, the same user-agent and accept."""
    from tlsbench.engine.stages.app import USER_AGENT, authority

    return [(":method", "GET"), (":scheme", "https"), (":authority", authority(spec)), (":path", spec.app.path),
            ("user-agent", USER_AGENT), ("accept", "*/*")]


def run_h2(ctx: StageContext, state: RunState) -> StageOutcome:
    """The app stage when ALPN chose h2: the exchange, its detail, its findings and summary."""
    from tlsbench.engine.records.details import AppDetail
    from tlsbench.engine.stages.app import _findings
    from tlsbench.engine.stages.context import StageOutcome

    spec = ctx.spec
    request = request_headers(spec) if spec.app.http else None
    ctx.begin()
    x = exchange(ctx, state.need_stream(), request, spec.timeout)
    ctx.end()
    if x.last_rx_ms is not None:
        ctx.wire_end = x.last_rx_ms
    status_line = f"HTTP/2 {x.status}" if x.status is not None else None
    shown = "\n".join(f"{k}: {v}" for k, v in request) if request else "(connection preface and SETTINGS only)"
    detail = AppDetail(mode="http" if request else "none", request=shown, status_line=status_line,
                       first_bytes_text=x.body.decode("latin-1") if x.body else None,
                       first_bytes_hex=x.body.hex() if x.body else None, ttfb_ms=x.ttfb_ms,
                       bytes_received=x.bytes_received, error=x.error, protocol="h2", status=x.status,
                       headers=x.headers, frames=x.frames)
    findings = h2_findings(x, request is not None)
    if request is not None and status_line is not None:
        findings += _findings(spec, "http", status_line.encode("ascii"), status_line, None, False)
    elif not findings and x.error is not None and (request is not None or not x.settings_acked):
        findings += _findings(spec, "http", b"", None, x.error if x.error != "closed" else None,
                              x.error == "closed")
    if status_line is not None:
        summary = status_line
    elif request is None and x.settings_acked and not findings:
        summary = "h2 negotiated: SETTINGS exchanged, no request sent (--http sends one)"
    else:
        summary = findings[0].title if findings else "h2: no answer"
    ok = not any(f.severity == "error" for f in findings) and (status_line is not None or request is None)
    return misdirected(spec, state, StageOutcome(ok=ok, detail=detail, summary=summary, findings=tuple(findings)))


def not_offered(ctx: StageContext, chosen: str, offered: tuple[str, ...]) -> StageOutcome:
    """The server chose through ALPN a protocol tlsbench did not offer: nothing is sent in it."""
    from tlsbench.engine.records.details import AppDetail
    from tlsbench.engine.stages.context import StageOutcome
    from tlsbench.visible import visible

    said = ", ".join(offered) if offered else "nothing (no ALPN extension)"
    found = finding("alpn-not-offered", f"The server chose {visible(chosen)!r}, which tlsbench did not offer",
                    f"ALPN lets the server choose only among the client's protocols (RFC 7301); it chose "
                    f"{visible(chosen)!r}, while tlsbench offered {said}. Nothing was sent in either protocol.",
                    "The server's ALPN choice is broken: fix its configuration (or whatever answers in its name).",
                    [Evidence("offered", said), Evidence("chosen", visible(chosen))])
    return StageOutcome(ok=False, detail=AppDetail(mode="none", request=""),
                        summary=found.title, findings=(found,))


def _connect_target(spec: ConnectionSpec, state: RunState) -> str | None:
    """The host the last HTTP proxy was asked to CONNECT to, when the route ends in one."""
    from tlsbench.engine.route.proxykinds import TYPES

    if not spec.proxies or not TYPES[spec.proxies[-1].kind].http:
        return None
    dests = state.route.hop_dests if state.route is not None else ()
    last = len(spec.proxies) - 1
    return dests[last] if last < len(dests) else (spec.pin or spec.host)


def misdirected(spec: ConnectionSpec, state: RunState, outcome: StageOutcome) -> StageOutcome:
    """A 421 Misdirected Request when the names tlsbench sent (the request's host, SNI, CONNECT's
    target) disagree: authority-mismatch, with the three names, in place of the plain error status."""
    detail = outcome.detail
    if getattr(detail, "status", None) != 421:
        return outcome
    tls_detail = state.tls.outcome.detail if state.tls is not None else None
    h2 = getattr(detail, "protocol", "") == "h2"
    names = [(":authority" if h2 else "Host", spec.host)]
    sni = getattr(tls_detail, "sni", None)
    if sni:
        names.append(("SNI", sni))
    target = _connect_target(spec, state)
    if target:
        names.append(("CONNECT target", target))
    # An address (a pinned one, for CONNECT) chooses no name at the server: it is shown, not compared.
    if len({n.lower().rstrip(".") for _, n in names if not is_ip(n)}) < 2:
        return outcome
    said = ", ".join(f"{label} {value!r}" for label, value in names)
    found = finding("authority-mismatch", "The server refused the request's name as misdirected (421)",
                    f"The server answered 421 Misdirected Request, and the names tlsbench sent disagree: {said}. "
                    "A server answers 421 when the connection (chosen by SNI, or by the proxy's target) is not one "
                    "that serves the name in the request.",
                    Suggestion("Send one name everywhere: drop {sni} (SNI then names the host), or connect to "
                               "that name."),
                    [Evidence(label, value) for label, value in names] + [Evidence("status", "421")])
    kept = tuple(f for f in outcome.findings if f.code != "http-error-status")
    return outcome._replace(findings=(found,) + kept)

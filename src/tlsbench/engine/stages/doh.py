"""The doh stage: DNS queries as RFC 8484 POSTs (`application/dns-message`) over HTTP/2, all at
once on the one connection to the DoH server, each on a stream of its own, each answer with its
status, content type and times on the wire.

It runs only in a DNS-over-HTTPS lookup's own plan (engine/dns/doh.py: resolve, tcp, the run's
proxies, tls with ALPN h2, then this), inside the resolve stage. The transport hands it the
queries (`queries`) before the nested plan runs and reads the answers from its detail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.records.details import DohDetail, DohQuery
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.suggestions import Suggestion, literal
from tlsbench.visible import visible

if TYPE_CHECKING:
    from tlsbench.engine.stages.h2client import H2Exchange, H2Response

MEDIA_TYPE = "application/dns-message"
MAX_ANSWER = 65535  # the most a DNS message holds (RFC 1035's two-byte length): more is not DNS


def doh_url(host: str, port: int, path: str) -> str:
    from tlsbench.engine.route.hostport import format_hostport

    return f"https://{host if port == 443 else format_hostport(host, port)}{path}"


class DohStage:
    """The queries over HTTP/2 to the DoH server the plan's spec names (its path: the URL's)."""

    def __init__(self, step: Step, plan: Plan) -> None:
        from tlsbench.engine.stages.app import USER_AGENT, authority

        spec = plan.spec
        self.spec = spec
        self.url = doh_url(spec.host, spec.port, spec.app.path)
        self.base = [(":method", "POST"), (":scheme", "https"), (":authority", authority(spec)),
                     (":path", spec.app.path), ("user-agent", USER_AGENT), ("accept", MEDIA_TYPE),
                     ("content-type", MEDIA_TYPE)]
        self.queries: tuple[bytes, ...] = ()  # set by the transport before each lookup
        self.timeout = spec.timeout
        from tlsbench.engine.stages.h2client import warm_h2

        warm_h2()  # h2's first request costs milliseconds of set-up: spent now, not inside the stage's clock

    def doing(self, state: RunState) -> str:
        count = len(self.queries)
        return f"POST {count} DNS quer{'y' if count == 1 else 'ies'} to {self.url} over HTTP/2"

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        from tlsbench.engine.stages.h2client import H2Request, exchange_streams

        tls = state.need_tls().outcome.detail
        chosen = getattr(tls, "alpn", None)
        if chosen != "h2":
            return _not_h2(self.url, chosen)
        requests = [H2Request(self.base + [("content-length", str(len(q)))], q) for q in self.queries]
        ctx.begin()
        x = exchange_streams(ctx, state.need_stream(), requests, self.timeout, MAX_ANSWER, "the DoH queries")
        ctx.end()
        if x.last_rx_ms is not None:
            ctx.wire_end = x.last_rx_ms
        now = ctx.now_ms()
        queries = tuple(_query(r, q, x, self.timeout, now) for r, q in zip(x.responses, self.queries))
        detail = DohDetail(self.url, queries, "h2", x.frames, _connection_error(x))
        broken = _connection_findings(x)
        findings = broken + _query_findings(self.url, queries, lost_too=not broken)
        answered = sum(1 for q in queries if q.error is None)
        if answered == len(queries):
            slowest = max((q.ms or 0.0 for q in queries), default=0.0)
            summary = (f"{answered} answer{'s' if answered != 1 else ''} over HTTP/2 ({MEDIA_TYPE}), "
                       f"the slowest in {slowest:.1f} ms")
        else:
            first = next(q for q in queries if q.error is not None)
            summary = f"{answered} of {len(queries)} queries answered: {first.error}"
        ok = answered == len(queries) and not any(f.severity == "error" for f in findings)
        return StageOutcome(ok, detail, summary, tuple(findings))


def media_type(value: str | None) -> str:
    """A content-type's media type, lower-case, without its parameters."""
    return (value or "").split(";", 1)[0].strip().lower()


def _query(r: H2Response, query: bytes, x: H2Exchange, timeout: float, now: float) -> DohQuery:
    """One query's record, and why it has no usable answer when it has none."""
    content_type = dict(r.headers).get("content-type")
    end = r.done_ms if r.done_ms is not None else now
    error = None
    if r.reset is not None:
        error = f"the server reset its stream (RST_STREAM {r.reset})"
    elif r.truncated:
        error = f"the answer passed {MAX_ANSWER:,} bytes, more than a DNS message can hold"
    elif r.status is not None and r.status != 200:
        error = f"HTTP status {r.status}"
    elif r.status is not None and r.ended and media_type(content_type) != MEDIA_TYPE:
        error = f"content-type {visible(content_type or '(none)')!r}, not {MEDIA_TYPE}"
    elif r.status is not None and r.ended and not r.body:
        error = "an empty answer"
    elif r.status is None and r.ended:
        error = "the stream ended without an HTTP status"
    elif not r.ended:
        if x.goaway is not None:
            error = f"the server closed the connection (GOAWAY {x.goaway[0]}) before answering"
        elif x.error == "timeout":
            error = f"timed out after {timeout:g} s"
        elif x.error == "closed":
            error = "the server closed the connection before answering"
        else:
            error = x.broken or x.limit or x.error or "no answer"
    return DohQuery(r.stream_id, r.sent_ms, max(end - r.sent_ms, 0.0), len(query), r.status, content_type,
                    r.body, error)


def _connection_error(x: H2Exchange) -> str | None:
    if x.goaway is not None and x.goaway[0] != "NO_ERROR":
        return f"GOAWAY {x.goaway[0]}"
    return x.broken or x.limit or x.error


def _connection_findings(x: H2Exchange) -> list[Finding]:
    """What the HTTP/2 connection itself did wrong (the app stage's words: they hold for DoH too)."""
    from tlsbench.engine.stages.http2 import Exchange, h2_findings

    first = x.responses[0] if x.responses else None
    answered = next((r.status for r in x.responses if r.status is not None), None)
    one = Exchange(x.frames, answered, (), b"", x.goaway, None, x.broken, x.limit, x.error, x.settings_acked,
                   x.ttfb_ms, x.bytes_received, x.last_rx_ms)
    return h2_findings(one, first is not None)


def _query_findings(url: str, queries: tuple[DohQuery, ...], lost_too: bool = True) -> list[Finding]:
    """One finding per kind of failure, naming the streams it struck (`lost_too`: also the queries
    left unanswered, when no finding about the whole connection says why already)."""
    out: list[Finding] = []
    statuses = [q for q in queries if q.error is not None and q.status not in (None, 200)]
    if statuses:
        q = statuses[0]
        out.append(finding(
            "doh-http-status", f"The DoH server answered HTTP/2 {q.status}",
            f"The POST of the DNS quer{'y' if len(statuses) == 1 else 'ies'} to {url} was answered with status "
            f"{q.status}, not 200: no DNS answer came back. A DNS-over-HTTPS server (RFC 8484) answers 200 with "
            f"{MEDIA_TYPE} at its own path, often /dns-query.",
            Suggestion(literal("Check the DoH URL's path and the server's configuration (unbound: http-endpoint; "
                               "its log says why it refused).")),
            [Evidence("status", str(q.status)), Evidence("streams", ", ".join(str(s.stream_id) for s in statuses))]
            + ([Evidence("answer (text)", q.answer[:200].decode("latin-1"))] if q.answer else [])))
    typed = [q for q in queries if q.status == 200 and q.error is not None and q.error.startswith("content-type")]
    if typed:
        q = typed[0]
        out.append(finding(
            "doh-content-type", "The DoH server's answer is not a DNS message",
            f"The server answered 200, but with content-type {visible(q.content_type or '(none)')!r}: a DoH "
            f"answer is {MEDIA_TYPE} (RFC 8484). The URL may lead to a web page rather than a DNS server.",
            Suggestion(literal("Check that the URL is the DoH server's endpoint (curl --doh-url URL refuses this "
                               "answer too).")),
            [Evidence("content-type", q.content_type or "(none)"),
             Evidence("first bytes (text)", q.answer[:200].decode("latin-1"))]))
    lost = [q for q in queries if q.error is not None and q.status is None] if lost_too else []
    if lost:
        q = lost[0]
        network = q.error is not None and q.error.startswith("timed out")
        out.append(finding(
            "doh-no-answer", f"{len(lost)} DNS quer{'y' if len(lost) == 1 else 'ies'} over HTTPS got no answer",
            f"The query on stream {q.stream_id} to {url} got no HTTP answer: {q.error}.",
            Suggestion(literal("Check the DoH server's log; if it is only slow, raise ") + "{timeout}."),
            [Evidence("stream", str(s.stream_id)) for s in lost] + [Evidence("error", q.error or "")],
            origin="network" if network else "peer"))
    return out


def _not_h2(url: str, chosen: str | None) -> StageOutcome:
    said = f"ALPN chose {visible(chosen)!r}" if chosen else "the server chose no protocol through ALPN"
    found = finding("doh-not-h2", "The DoH server did not choose HTTP/2",
                    f"tlsbench offered only h2 to {url} (DNS over HTTPS as curl and browsers speak it); {said}. "
                    "No query was sent.",
                    Suggestion(literal("Check that the server serves DoH over HTTP/2 on this port.")),
                    [Evidence("offered", "h2"), Evidence("chosen", visible(chosen) if chosen else "(none)")])
    return StageOutcome(False, DohDetail(url, (), chosen, (), "no HTTP/2"), found.title, (found,))

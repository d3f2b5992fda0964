"""An HTTP CONNECT hop: ask an HTTP (or, over TLS, HTTPS) proxy for a tunnel, curl's way.

The exchange is a sans-IO dialogue (connect_dialogue.py) driven over the stream by the STARTTLS
driver. Any 2xx opens the tunnel; bytes after the blank line already belong to it. Any other answer is
diagnosed from the status, the headers (Proxy-Authenticate, squid's X-Squid-Error) and the
first bytes of the body (the proxy's own explanation, bounded).
"""

from __future__ import annotations

from tlsbench.engine.records.details import ProxyDetail
from tlsbench.engine.findings import proxy_http
from tlsbench.engine.hops.connect_dialogue import ConnectDialogue, redacted
from tlsbench.engine.hops.http_reply import HeadTooLong, ReplyHead
from tlsbench.engine.hops.starttls.driver import Recorder, converse
from tlsbench.engine.route.hostport import format_hostport, is_ip
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stream import Stream

BODY_KEEP = 2048  # bytes of a refusal's body kept as evidence
BODY_WAIT = 0.3  # seconds to wait for more of that body


class HttpConnectHop:
    def __init__(self, step: Step, plan: Plan) -> None:
        self.step = step
        self.spec = plan.spec
        assert step.hop is not None  # a proxy step always names its hop
        self.hop = step.hop

    def run(self, ctx: StageContext, state: RunState, dest: str, port: int, behind: str) -> StageOutcome:
        hop = self.hop
        stream = state.need_stream()
        dialogue = ConnectDialogue(dest, port, hop.username, hop.password)
        requested = format_hostport(dest, port)
        detail = ProxyDetail(kind=hop.kind, proxy=hop.address,
                             auth="basic" if hop.username else "none",
                             address_type="IPv6" if ":" in dest else ("IPv4" if is_ip(dest) else "domain name"),
                             requested=requested, sent_text=redacted(dialogue.request))
        rec = Recorder(ctx)
        ctx.begin()
        try:
            converse(ctx, stream, dialogue, rec, during="HTTP CONNECT")
        finally:
            ctx.end()
        head, interim, bad, error = dialogue.head, dialogue.interim, dialogue.bad, rec.error
        rx, final = bytes(dialogue.data), dialogue.final
        detail = detail._replace(received_hex=rx[:512].hex(" ") or None,
                                 received_text=rx[:dialogue.skipped + head.head_length if head else 1024]
                                 .decode("latin-1") or None)
        after = f" (after {', '.join(interim)})" if interim else ""
        if head is not None and 200 <= head.status < 300:
            early = dialogue.early
            if early:
                stream.unread(early)
            detail = detail._replace(reply_code=head.status, reply_meaning=head.reason or "tunnel open",
                                     status_line=head.status_line)
            notes = proxy_http.connect_body(hop, head, early)
            # What follows in the tunnel is the target's, unless the bytes show the proxy's before it.
            length = (head.header("Content-Length") or "").strip()
            state.tls_review = proxy_http.bytes_after_200(hop, head.status_line,
                                                          int(length) if length.isdigit() else None)
            return StageOutcome(True, detail, f"CONNECT {requested}: {head.status_line}{after}", notes)
        body = b""
        if head is not None:
            body = final[head.head_length:] + _more_body(stream, head, len(final) - head.head_length)
            detail = detail._replace(reply_code=head.status, reply_meaning=head.reason, status_line=head.status_line,
                                     body_text=body[:BODY_KEEP].decode("latin-1") or None)
            finding = proxy_http.refusal(hop, requested, head, body, behind=behind)
        elif isinstance(bad, HeadTooLong):
            partial = bad.partial
            if partial is not None:
                detail = detail._replace(reply_code=partial.status, reply_meaning=partial.reason,
                                         status_line=partial.status_line)
            finding = proxy_http.head_too_long(hop, requested, partial, final, behind=behind)
        elif bad is not None:
            finding = proxy_http.not_http(hop, final, str(bad))
        elif isinstance(error, TimeoutError):
            finding = proxy_http.timeout(hop, self.spec.timeout, final, interim)
        else:
            finding = proxy_http.closed(hop, error, final, interim)
        detail = detail._replace(error=finding.title)
        return StageOutcome(False, detail, finding.title, (finding,))


def _more_body(stream: Stream, head: ReplyHead, have: int) -> bytes:
    """A little more of a refusal's body, for the proxy's own words (bounded in time and size)."""
    length = head.header("Content-Length")
    want = BODY_KEEP
    if length is not None and length.strip().isdigit():
        want = min(BODY_KEEP, int(length.strip()))
    out = bytearray()
    while have + len(out) < want:
        try:
            chunk = stream.recv(want - have - len(out), BODY_WAIT)
        except (OSError, TimeoutError):
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)

"""A SOCKS hop: the SOCKS4/4a/5/5h handshake over the stream the run has so far.

PySocks does the talking, behind pysocks_adapter.py (the one module that knows its names), with
its reads and writes going through the run's stream (so the same code runs behind an HTTPS proxy
or another hop); every byte is recorded, and the reply is read from those bytes, not from
PySocks's error text. PySocks is loaded when the stage is prepared, before any clock.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Callable

from tlsbench.engine.records.details import ProxyDetail
from tlsbench.engine.findings import network
from tlsbench.errors import Cancelled
from tlsbench.engine.hops import pysocks_adapter
from tlsbench.engine.hops.socks_reply import SocksReading, methods_offered, read_socks4, read_socks5
from tlsbench.engine.spec import format_hostport
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stream import Stream, Transcript

if TYPE_CHECKING:
    from tlsbench.engine.findings.model import Finding

# Reads a reply from the bytes received so far.
ReadReply = Callable[[bytes], SocksReading]

SOCKS4_REPLIES = {
    0x5A: "request granted",
    0x5B: "request rejected or failed",
    0x5C: "rejected: the proxy could not reach identd on the client",
    0x5D: "rejected: identd reports a different user id",
}
SOCKS5_REPLIES = {
    0x00: "succeeded",
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by the proxy's rules",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused by the target",
    0x06: "TTL expired (the target did not answer in time)",
    0x07: "command not supported",
    0x08: "address type not supported",
}
SOCKS5_METHODS = {0x00: "no authentication", 0x01: "GSSAPI", 0x02: "username/password", 0x03: "CHAP",
                  0xFF: "no acceptable methods"}
PEEK_SECONDS = 0.3  # how long to wait for more of a non-SOCKS answer, for the evidence


def address_type(dest: str) -> str:
    try:
        return "IPv%d" % ipaddress.ip_address(dest).version
    except ValueError:
        return "domain name"


class SocksHop:
    """One SOCKS hop: PySocks' negotiator for the kind, run over the stream the run has so far."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.step = step
        self.spec = plan.spec
        assert step.hop is not None  # a proxy step always names its hop
        self.hop = step.hop
        self.client = pysocks_adapter.prepare()

    def run(self, ctx: StageContext, state: RunState, dest: str, port: int, behind: str) -> StageOutcome:
        hop = self.hop
        kind = hop.kind
        stream = state.need_stream()
        where = hop.address
        if kind.startswith("socks4"):
            auth = "userid" if hop.username else "none"
        else:
            auth = "username/password" if hop.username and hop.password else "none"
        detail = ProxyDetail(kind=kind, proxy=where, auth=auth, address_type=address_type(dest),
                             requested=format_hostport(dest, port))
        notes = (network.socks4_password_ignored(),) if kind.startswith("socks4") and hop.password else ()
        talk = self.client.negotiation(hop.declared.socks, hop.host, hop.port, remote_dns=hop.remote_dns,
                                       username=hop.username, password=hop.password)
        error: BaseException | None = None
        ctx.begin()
        try:
            talk.run(stream, dest, port)
        except Cancelled:
            raise
        except Exception as exc:  # judged below from the recorded bytes
            error = exc
        finally:
            ctx.end()
        bound = talk.bound
        if talk.leftover and error is None:
            stream.unread(talk.leftover)  # already the tunnel's: the target spoke first
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled")
        transcript = stream.transcript
        offered = methods_offered(transcript.sent_chunks[0] if transcript and transcript.sent_chunks else b"")
        read = (lambda data: read_socks4(data)) if kind.startswith("socks4") else (
            lambda data: read_socks5(data, offered or b"\x00"))
        rx = bytes(transcript.received) if transcript else b""
        reading = read(rx)
        ended = _ended(error) or ("closed" if talk.closed else None)
        if error is not None and not reading.done and not reading.not_socks and ended is None:
            # PySocks stops at a refusal's code; the rest of the reply says whether it came whole.
            ended = _read_rest(stream, reading, read)
            rx = bytes(transcript.received) if transcript else rx
            reading = read(rx)
        detail = _fill(detail, reading, transcript, kind)
        if error is None and reading.succeeded:
            if bound:
                host = bound[0].decode("latin-1") if isinstance(bound[0], bytes) else str(bound[0])
                detail = detail._replace(bound_address=format_hostport(host, bound[1]))
            summary = f"{kind} {detail.requested} ({detail.address_type}): {detail.reply_meaning}"
            return StageOutcome(True, detail, summary, notes)
        finding = _diagnose(kind, where, detail, reading, rx, error, ended, stream, self.spec.timeout,
                            hop.username, offered, remote_name=detail.address_type == "domain name", behind=behind)
        detail = detail._replace(error=finding.title, received_hex=(finding_rx(finding) or detail.received_hex))
        return StageOutcome(False, detail, finding.title, (finding,) + notes)


def finding_rx(finding: Finding) -> str | None:
    return next((e.value for e in finding.evidence if e.label == "bytes received"), None)


def _parse_socks5(rx: bytes, offered: bytes = b"\x00") -> SocksReading:
    return read_socks5(rx, offered)


def _parse_socks4(rx: bytes) -> SocksReading:
    return read_socks4(rx)


def _ended(error: BaseException | None) -> str | None:
    """How the exchange ended, from the error PySocks let through: timeout, reset, closed, or None
    (a SOCKS error about what the proxy said, with the connection still open)."""
    if error is None:
        return None
    if isinstance(error, TimeoutError) or (isinstance(error, OSError) and network.classify(error) == "timeout"):
        return "timeout"
    cause = getattr(error, "socket_err", None) or error
    if isinstance(cause, OSError) and not pysocks_adapter.is_protocol_error(cause):
        return "reset" if network.classify(cause) == "reset" else "closed"
    if "closed unexpectedly" in str(error).lower():
        return "closed"
    return None


def _read_rest(stream: Stream, reading: SocksReading, read: ReadReply) -> str | None:
    """Read the rest of a reply PySocks stopped reading at its code (bounded by the stage's deadline,
    and by what the reply needs); returns how the connection ended, if it did."""
    for _ in range(64):
        if reading.done or reading.not_socks:
            return None
        want = (reading.need - reading.have) if reading.need else 1
        try:
            data = stream.recv(max(want, 1))
        except (TimeoutError, OSError) as exc:
            return _ended(exc) or "closed"
        if not data:
            return "closed"
        if stream.transcript is None:
            return None
        reading = read(bytes(stream.transcript.received))
    return None


def _fill(detail: ProxyDetail, reading: SocksReading, transcript: Transcript | None, kind: str) -> ProxyDetail:
    code = None if reading.not_socks else reading.reply
    sent = []
    for chunk in (transcript.sent_chunks if transcript else ()):
        if not chunk:
            continue
        # The SOCKS5 username/password sub-negotiation starts with 0x01: never record the password.
        sent.append("01 <credentials redacted>" if kind.startswith("socks5") and chunk[0] == 1 else chunk.hex(" "))
    method = None if reading.not_socks else reading.method
    return detail._replace(reply_code=code, reply_meaning=reply_meaning(kind, code) if code is not None else None,
                           auth_method=(SOCKS5_METHODS.get(method) or f"0x{method:02x} ({method_name(method)})")
                           if method is not None else None,
                           sent_hex=" | ".join(sent) or None,
                           received_hex=(bytes(transcript.received).hex(" ") or None) if transcript else None)


def reply_meaning(kind: str, code: int) -> str:
    v4 = kind.startswith("socks4")
    known = (SOCKS4_REPLIES if v4 else SOCKS5_REPLIES).get(code)
    return known or f"0x{code:02x}, a code {'SOCKS4' if v4 else 'SOCKS5'} does not define"


def method_name(method: int) -> str:
    return SOCKS5_METHODS.get(method) or ("a private method" if 0x80 <= method <= 0xFE else "an unassigned method")


def _diagnose(kind: str, where: str, detail: ProxyDetail, reading: SocksReading, rx: bytes,
              error: BaseException | None, ended: str | None, stream: Stream, timeout: float, user: str | None,
              offered: bytes, *, remote_name: bool, behind: str) -> Finding:
    if reading.not_socks:
        return network.proxy_protocol_error(kind, where, rx + _peek(stream))
    if reading.problem:
        return network.proxy_reply_malformed(kind, where, reading.problem, rx)
    method = reading.method
    if method is not None and (method == 0xFF or method not in offered or method not in (0x00, 0x02)):
        if method in (0xFF, 0x02):
            return network.proxy_auth_required(where, user, method, offered)
        return network.proxy_method_unsupported(where, method, method_name(method), offered, rx)
    if reading.auth_status not in (None, 0):
        return network.proxy_auth_failed(where, user, reading.auth_status)
    code = reading.reply
    if reading.done and code is not None and not reading.succeeded:
        return network.proxy_reply_failed(kind, where, detail.requested, code, detail.reply_meaning or "",
                                          remote_name, behind=behind)
    what = reading.message
    if ended == "timeout":
        return network.proxy_timeout(kind, where, timeout, rx, waiting_for=what, have=reading.have,
                                     need=reading.need, chose=method_name(method) if method is not None else None)
    if reading.have and not reading.done:
        began = f"reply code 0x{code:02x} ({detail.reply_meaning})" if code is not None else None
        return network.proxy_reply_cut_short(kind, where, what, reading.have, reading.need,
                                             "reset" if ended == "reset" else "closed", rx, began=began)
    cause = getattr(error, "socket_err", None) or error
    closed_by = cause if isinstance(cause, OSError) and not pysocks_adapter.is_protocol_error(cause) else None
    after = None
    if reading.step == "reply" and reading.auth_status == 0:
        after = "accepting the user name and password"
    elif method is not None:
        after = f"choosing {method_name(method)} (method 0x{method:02x})"
    return network.proxy_closed(kind, where, closed_by, after=after, waiting_for=what, received=rx)


def _peek(stream: Stream) -> bytes:
    """A little more of a non-SOCKS answer, for the evidence (bounded in time and size)."""
    try:
        return stream.recv(256, PEEK_SECONDS)
    except (OSError, TimeoutError):
        return b""

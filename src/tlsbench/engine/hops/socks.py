"""A SOCKS hop: the SOCKS4/4a/5/5h handshake over the stream the run has so far.

PySocks does the talking, but only its negotiator is called (not `socksocket.connect()`,
which flattens every reply into "Socket error: ..."), so TCP-to-proxy and the handshake are
timed apart. Its reads and writes go through the run's stream (so the same code runs behind an
HTTPS proxy or another hop), every byte is recorded, and the reply is read from those bytes, not
from PySocks's error text. PySocks is imported when the stage is prepared, before any clock.
"""

from __future__ import annotations

import ipaddress
import socket

from tlsbench.engine.details import ProxyDetail
from tlsbench.engine.diagnosis import network
from tlsbench.engine.errors import Cancelled
from tlsbench.engine.spec import format_hostport
from tlsbench.engine.stages.context import StageContext, StageOutcome

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
SOCKS5_METHODS = {0x00: "no authentication", 0x02: "username/password", 0xFF: "no acceptable methods"}
PEEK_SECONDS = 0.3  # how long to wait for more of a non-SOCKS answer, for the evidence


class _StreamFile:
    """What PySocks gets from `makefile()`: writes gathered until flush, reads from the stream.

    PySocks reads a reply a few bytes at a time (2, 3, 1, 4, 2); each read here takes whatever the
    stream has, and serves the rest from a buffer, so a reply costs one receive, as it does any
    client. What is left after the negotiation (the target's first bytes, in the same segment) is
    given back to the stream."""

    def __init__(self, stream, buffer: bytearray) -> None:
        self._stream = stream
        self._out = bytearray()
        self._in = buffer

    def write(self, data: bytes) -> int:
        self._out += data
        return len(data)

    def flush(self) -> None:
        if self._out:
            data, self._out = bytes(self._out), bytearray()
            self._stream.send(data)

    def read(self, size: int = -1) -> bytes:
        want = size if size and size > 0 else 65536
        if not self._in:
            self._in += self._stream.recv(65536)
        out = bytes(self._in[:want])
        del self._in[:want]
        return out

    def close(self) -> None:
        self.flush()


def _stream_socket_class():
    """A PySocks socket whose negotiators talk through a tlsbench stream (a socket, a tunnel,
    TLS to an HTTPS proxy), so SOCKS works at any depth of a chain."""
    import socks  # PySocks: imported before the clock, by the stage's preparation

    class StreamSocket(socks.socksocket):
        stream = None
        unread: bytearray

        def makefile(self, *args, **kwargs):  # type: ignore[override]
            return _StreamFile(self.stream, self.unread)

    return socks, StreamSocket


def address_type(dest: str) -> str:
    try:
        return "IPv%d" % ipaddress.ip_address(dest).version
    except ValueError:
        return "domain name"


class SocksHop:
    """One SOCKS hop: PySocks' negotiator for the kind, run over the stream the run has so far."""

    def __init__(self, step, plan) -> None:
        self.step = step
        self.spec = plan.spec
        self.hop = step.hop
        self.socks, self.socket_class = _stream_socket_class()

    def _placeholder(self):
        """PySocks keeps its settings on a socket object; the bytes go through the stream. One per
        run (a prepared plan may run many times), made before the clock starts."""
        hop = self.hop
        ss = self.socket_class(socket.AF_INET, socket.SOCK_STREAM)
        ss.set_proxy(self.socks.SOCKS4 if hop.kind.startswith("socks4") else self.socks.SOCKS5,
                     hop.host, hop.port, rdns=hop.remote_dns, username=hop.username, password=hop.password)
        return ss

    def run(self, ctx: StageContext, state, dest: str, port: int, behind: str) -> StageOutcome:
        hop = self.hop
        kind = hop.kind
        stream = state.stream
        where = hop.address
        if kind.startswith("socks4"):
            auth = "userid" if hop.username else "none"
        else:
            auth = "username/password" if hop.username and hop.password else "none"
        detail = ProxyDetail(kind=kind, proxy=where, auth=auth, address_type=address_type(dest),
                             requested=format_hostport(dest, port))
        notes = (network.socks4_password_ignored(),) if kind.startswith("socks4") and hop.password else ()
        ss = self._placeholder()
        ss.stream = stream
        ss.unread = bytearray()
        error: BaseException | None = None
        ctx.begin()
        try:
            ss._proxy_negotiators[ss.proxy[0]](ss, dest, port)
        except Cancelled:
            raise
        except Exception as exc:  # judged below from the recorded bytes
            error = exc
        finally:
            ctx.end()
            bound = ss.get_proxy_sockname()
            ss.stream = None
            ss.close()
        if ss.unread and error is None:
            stream.unread(bytes(ss.unread))  # already the tunnel's: the target spoke first
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled")
        transcript = stream.transcript
        rx = bytes(transcript.received) if transcript else b""
        parsed = (_parse_socks4 if kind.startswith("socks4") else _parse_socks5)(rx)
        detail = _fill(detail, parsed, transcript, kind)
        if error is None and parsed.get("ok"):
            if bound:
                host = bound[0].decode("latin-1") if isinstance(bound[0], bytes) else str(bound[0])
                detail = detail._replace(bound_address=format_hostport(host, bound[1]))
            summary = f"{kind} {detail.requested} ({detail.address_type}): {detail.reply_meaning}"
            return StageOutcome(True, detail, summary, notes)
        finding = _diagnose(kind, where, detail, parsed, rx, error, stream, self.spec.timeout, hop.username,
                            remote_name=detail.address_type == "domain name", behind=behind)
        detail = detail._replace(error=finding.title, received_hex=(finding_rx(finding) or detail.received_hex))
        return StageOutcome(False, detail, finding.title, (finding,) + notes)


def finding_rx(finding) -> str | None:
    return next((e.value for e in finding.evidence if e.label == "bytes received"), None)


def _parse_socks5(rx: bytes) -> dict:
    out: dict = {}
    if not rx:
        return out
    if rx[0] != 5:
        return {"bad": True}
    if len(rx) < 2:
        return out
    out["method"] = rx[1]
    off = 2
    if rx[1] == 0x02:
        if len(rx) < 4:
            return out
        if rx[2] != 1:
            return {**out, "bad": True}
        out["auth_status"] = rx[3]
        off = 4
    elif rx[1] not in (0x00, 0xFF):
        return {**out, "bad": True}
    if len(rx) >= off + 2:
        if rx[off] != 5:
            return {**out, "bad": True}
        out["reply"] = rx[off + 1]
        out["ok"] = rx[off + 1] == 0
        if len(rx) >= off + 4 and out["ok"] and rx[off + 3] not in (1, 3, 4):
            return {**out, "ok": False, "bad": True}  # an address type SOCKS5 does not have
    return out


def _parse_socks4(rx: bytes) -> dict:
    if not rx:
        return {}
    if rx[0] != 0 or (len(rx) >= 2 and rx[1] not in SOCKS4_REPLIES):
        return {"bad": True}
    if len(rx) < 2:
        return {}
    return {"reply": rx[1], "ok": rx[1] == 0x5A and len(rx) >= 8}


def _fill(detail: ProxyDetail, parsed: dict, transcript, kind: str) -> ProxyDetail:
    table = SOCKS4_REPLIES if kind.startswith("socks4") else SOCKS5_REPLIES
    code = parsed.get("reply")
    sent = []
    for chunk in (transcript.sent_chunks if transcript else ()):
        if not chunk:
            continue
        # The SOCKS5 username/password sub-negotiation starts with 0x01: never record the password.
        sent.append("01 <credentials redacted>" if kind.startswith("socks5") and chunk[0] == 1 else chunk.hex(" "))
    method = parsed.get("method")
    return detail._replace(reply_code=code, reply_meaning=table.get(code, "unknown code") if code is not None else None,
                   auth_method=SOCKS5_METHODS.get(method, f"0x{method:02x}") if method is not None else None,
                   sent_hex=" | ".join(sent) or None,
                   received_hex=(bytes(transcript.received).hex(" ") or None) if transcript else None)


def _diagnose(kind, where, detail, parsed, rx, error, stream, timeout, user, *, remote_name, behind):
    if parsed.get("bad"):
        return network.proxy_protocol_error(kind, where, rx + _peek(stream))
    if parsed.get("method") == 0xFF or (parsed.get("method") == 0x02 and detail.auth == "none"):
        return network.proxy_auth_required(where, user)
    if parsed.get("auth_status") not in (None, 0):
        return network.proxy_auth_failed(where, user, parsed["auth_status"])
    code = parsed.get("reply")
    if code is not None and not parsed.get("ok"):
        return network.proxy_reply_failed(kind, where, detail.requested, code, detail.reply_meaning or "",
                                          remote_name, behind=behind)
    if isinstance(error, TimeoutError) or (isinstance(error, OSError) and network.classify(error) == "timeout"):
        return network.proxy_timeout(kind, where, timeout, rx)
    cause = getattr(error, "socket_err", None) or error
    if isinstance(cause, OSError) and not isinstance(cause, _proxy_error_types()):
        return network.proxy_closed(kind, where, cause)
    return network.proxy_closed(kind, where, None)


def _proxy_error_types() -> tuple[type, ...]:
    import socks

    return (socks.ProxyError,)


def _peek(stream) -> bytes:
    """A little more of a non-SOCKS answer, for the evidence (bounded in time and size)."""
    try:
        return stream.recv(256, PEEK_SECONDS)
    except (OSError, TimeoutError):
        return b""

"""The proxy stage: the SOCKS handshake over the TCP connection the tcp stage already opened.

PySocks does the talking, but only its negotiator is called (not `socksocket.connect()`,
which flattens every reply into "Socket error: ..."), so TCP-to-proxy and the handshake are
timed apart. Every byte PySocks reads or writes is recorded, and the reply is read from those
bytes, not from PySocks's error text. PySocks is imported here only, when a proxy is used.
"""

from __future__ import annotations

import ipaddress
import socket
import threading

from tlsbench.engine.details import ProxyDetail
from tlsbench.engine.diagnosis import network
from tlsbench.engine.errors import Cancelled
from tlsbench.engine.spec import format_hostport
from tlsbench.engine.stages.context import StageContext, StageOutcome
from tlsbench.engine.stages.resolve import Route

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


class Transcript:
    """Bytes PySocks wrote (one chunk per flush) and read, in order."""

    def __init__(self) -> None:
        self.sent: list[bytearray] = [bytearray()]
        self.received = bytearray()


class _Tap:
    """Wraps the file objects PySocks makes from the socket, recording what passes."""

    def __init__(self, inner, transcript: Transcript) -> None:
        self._inner, self._t = inner, transcript

    def write(self, data: bytes) -> int:
        self._t.sent[-1] += data
        return self._inner.write(data)

    def flush(self) -> None:
        self._t.sent.append(bytearray())
        self._inner.flush()

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        if data:
            self._t.received += data
        return data

    def close(self) -> None:
        self._inner.close()


def _tapped_socket_class():
    import socks  # PySocks: imported only when a proxy is used

    class TappedSocket(socks.socksocket):
        transcript: Transcript

        def makefile(self, *args, **kwargs):
            return _Tap(super().makefile(*args, **kwargs), self.transcript)

    return socks, TappedSocket


class _Deadline:
    """One timeout for the whole negotiation: PySocks reads and writes several times, and the
    socket's own timeout applies to each; at the deadline the socket is shut down under it."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._done = False
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def address_type(dest: str) -> str:
    try:
        return "IPv%d" % ipaddress.ip_address(dest).version
    except ValueError:
        return "domain name"


def run_proxy(ctx: StageContext, sock: socket.socket, route: Route) -> tuple[StageOutcome, socket.socket | None]:
    spec = ctx.spec
    proxy = spec.proxy
    assert proxy is not None and route.proxy_dest is not None
    kind, dest, port = proxy.kind, route.proxy_dest, route.proxy_dest_port
    where = format_hostport(proxy.host, proxy.port)
    if kind.startswith("socks4"):
        auth = "userid" if proxy.username else "none"
    else:
        auth = "username/password" if proxy.username and proxy.password else "none"
    detail = ProxyDetail(kind=kind, proxy=where, auth=auth, address_type=address_type(dest),
                         requested=format_hostport(dest, port))
    notes = (network.socks4_password_ignored(),) if kind.startswith("socks4") and proxy.password else ()

    socks, tapped = _tapped_socket_class()
    family = sock.family
    ss = tapped(family, socket.SOCK_STREAM, 0, fileno=sock.detach())
    ss.transcript = transcript = Transcript()
    # rdns exactly by kind: 4a/5h send the name; 4/5 were given an address by the resolve stage.
    ss.set_proxy(socks.SOCKS4 if kind.startswith("socks4") else socks.SOCKS5, proxy.host, proxy.port,
                 rdns=proxy.remote_dns, username=proxy.username, password=proxy.password)
    ss.settimeout(spec.timeout)
    ctx.cancel.attach(ss)
    error: BaseException | None = None
    with _Deadline(ss, spec.timeout) as deadline:
        try:
            ss._proxy_negotiators[ss.proxy[0]](ss, dest, port)
        except Exception as exc:  # judged below from the recorded bytes
            error = exc
    if deadline.expired and not ctx.cancel.cancelled:
        error = TimeoutError(f"the proxy negotiation took longer than {spec.timeout:g} s")
    bound = ss.get_proxy_sockname()
    plain = socket.socket(family, socket.SOCK_STREAM, 0, fileno=ss.detach())
    ctx.cancel.attach(plain)
    if ctx.cancel.cancelled:
        plain.close()
        raise Cancelled("cancelled")

    rx = bytes(transcript.received)
    parsed = (_parse_socks4 if kind.startswith("socks4") else _parse_socks5)(rx)
    detail = _fill(detail, parsed, transcript, kind)
    if error is None and parsed.get("ok"):
        plain.settimeout(spec.timeout)
        if bound:
            host = bound[0].decode("latin-1") if isinstance(bound[0], bytes) else str(bound[0])
            detail = detail._replace(bound_address=format_hostport(host, bound[1]))
        summary = f"{kind} {detail.requested} ({detail.address_type}): {detail.reply_meaning}"
        return StageOutcome(True, detail, summary, notes), plain

    finding = _diagnose(kind, where, detail, parsed, rx, error, plain, spec.timeout, proxy.username,
                        remote_name=detail.address_type == "domain name")
    plain.close()
    detail = detail._replace(error=finding.title, received_hex=(finding_rx(finding) or detail.received_hex))
    return StageOutcome(False, detail, finding.title, (finding,) + notes), None


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


def _fill(detail: ProxyDetail, parsed: dict, transcript: Transcript, kind: str) -> ProxyDetail:
    table = SOCKS4_REPLIES if kind.startswith("socks4") else SOCKS5_REPLIES
    code = parsed.get("reply")
    sent = []
    for chunk in transcript.sent:
        if not chunk:
            continue
        # The SOCKS5 username/password sub-negotiation starts with 0x01: never record the password.
        sent.append("01 <credentials redacted>" if kind.startswith("socks5") and chunk[0] == 1 else chunk.hex(" "))
    method = parsed.get("method")
    return detail._replace(reply_code=code, reply_meaning=table.get(code, "unknown code") if code is not None else None,
                   auth_method=SOCKS5_METHODS.get(method, f"0x{method:02x}") if method is not None else None,
                   sent_hex=" | ".join(sent) or None,
                   received_hex=bytes(transcript.received).hex(" ") or None)


def _diagnose(kind, where, detail, parsed, rx, error, plain, timeout, user, *, remote_name):
    if parsed.get("bad"):
        return network.proxy_protocol_error(kind, where, rx + _peek(plain))
    if parsed.get("method") == 0xFF or (parsed.get("method") == 0x02 and detail.auth == "none"):
        return network.proxy_auth_required(where, user)
    if parsed.get("auth_status") not in (None, 0):
        return network.proxy_auth_failed(where, user, parsed["auth_status"])
    code = parsed.get("reply")
    if code is not None and not parsed.get("ok"):
        return network.proxy_reply_failed(kind, where, detail.requested, code, detail.reply_meaning or "",
                                          remote_name)
    if isinstance(error, TimeoutError) or (isinstance(error, OSError) and network.classify(error) == "timeout"):
        return network.proxy_timeout(kind, where, timeout, rx)
    cause = getattr(error, "socket_err", None) or error
    if isinstance(cause, OSError) and not isinstance(cause, _proxy_error_types()):
        return network.proxy_closed(kind, where, cause)
    return network.proxy_closed(kind, where, None)


def _proxy_error_types() -> tuple[type, ...]:
    import socks

    return (socks.ProxyError,)


def _peek(sock: socket.socket) -> bytes:
    """A little more of a non-SOCKS answer, for the evidence (bounded in time and size)."""
    try:
        sock.settimeout(PEEK_SECONDS)
        return sock.recv(256)
    except OSError:
        return b""

"""DNS over UDP, with TCP for the answers that came back truncated (RFC 1035, RFC 7766).

All of a lookup's queries leave at once on one connected UDP socket (a refused port then shows as
ECONNREFUSED, from the ICMP error); answers are matched to queries by their ID. A truncated
answer (the TC bit) is asked again over one TCP connection, each message with its two-byte length
prefix. Every wait is bounded by the call's timeout and checks the run's cancel token; nothing here
raises for the network: what went wrong is in each Answer, and in findings the caller may keep.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from typing import TYPE_CHECKING, Callable, Sequence

from tlsbench.engine.dns.servers import DnsServer
from tlsbench.engine.dns.transport import Answer, Exchanged
from tlsbench.errors import Cancelled

if TYPE_CHECKING:
    from tlsbench.engine.stages.context import StageContext

MAX_UDP = 65535  # the largest datagram; EDNS asks for far less (1232)
POLL = 0.05  # seconds between looks at the cancel token
STRAY_LIMIT = 64  # datagrams that match no query before the rest are ignored


def message_id(message: bytes) -> int | None:
    return int.from_bytes(message[:2], "big") if len(message) >= 2 else None


def truncated(message: bytes) -> bool:
    return len(message) >= 3 and bool(message[2] & 0x02)


def failure_words(exc: BaseException, timeout: float) -> tuple[str, str]:
    """(kind, words) of a network error: kind "timeout" | "refused" | "unreachable" | "failed"."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout", f"no answer within {timeout:g} s"
    if type(exc).__module__ == "ssl":  # an SSLError's errno is OpenSSL's, not the OS's
        reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
        return "failed", f"TLS: {reason}"
    code = getattr(exc, "errno", None)
    name = errno.errorcode.get(code, "") if isinstance(code, int) else ""
    words = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if code == errno.ECONNREFUSED:
        return "refused", f"{name}: {words} (nothing listens on that port)"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN):
        return "unreachable", f"{name}: {words}"
    return "failed", f"{name + ': ' if name else ''}{words}"


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class UdpTransport:
    """Plain DNS to one server: UDP, TCP for truncated answers."""

    scheme = "udp"

    def __init__(self, server: DnsServer) -> None:
        self.target = server
        self.server = server.text
        self.failure: str | None = None  # the kind of the last failure ("timeout", "refused", ...), for findings
        self.over_tcp: frozenset[int] = frozenset()  # the queries (by position) answered over TCP

    def exchange(self, queries: Sequence[bytes], ctx: StageContext, timeout: float) -> Exchanged:
        self.failure, self.over_tcp = None, frozenset()
        deadline = time.monotonic() + timeout
        got: dict[int, tuple[bytes, float]] = {}
        sent: list[float] = []
        error: str | None = None
        started = time.monotonic()
        ctx.begin()
        try:
            with socket.socket(_family(self.target.host), socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.connect((self.target.host, self.target.port))
                for q in queries:
                    sent.append(ctx.now_ms())
                    sock.send(q)
                error = self._receive(sock, queries, got, deadline, ctx, timeout)
            again = [i for i, (data, _) in got.items() if truncated(data)]
            if again:
                self.over_tcp = frozenset(again)
                tcp_got, tcp_error = stream_exchange(
                    lambda: socket.create_connection((self.target.host, self.target.port),
                                                     timeout=max(0.01, deadline - time.monotonic())),
                    [queries[i] for i in again], deadline, ctx, timeout)
                for j, i in enumerate(again):
                    if j in tcp_got:
                        got[i] = tcp_got[j]
                    else:
                        got.pop(i)
                        error = error or tcp_error
        except Cancelled:
            raise
        except OSError as exc:
            self.failure, error = failure_words(exc, timeout)
        finally:
            ctx.end()
        return Exchanged(tuple(_answer(q, i, got, sent, started, ctx, error) for i, q in enumerate(queries)))

    def _receive(self, sock: socket.socket, queries: Sequence[bytes], got: dict[int, tuple[bytes, float]],
                 deadline: float, ctx: StageContext, timeout: float) -> str | None:
        wanted = {message_id(q): i for i, q in enumerate(queries)}
        strays = 0
        while len(got) < len(queries):
            if ctx.cancel.cancelled:
                raise Cancelled("cancelled")
            left = deadline - time.monotonic()
            if left <= 0:
                self.failure = "timeout"
                return f"no answer within {timeout:g} s"
            ready, _, _ = select.select([sock], [], [], min(POLL, left))
            if not ready:
                continue
            try:
                data = sock.recv(MAX_UDP)
            except BlockingIOError:
                continue
            except OSError as exc:
                self.failure, words = failure_words(exc, timeout)
                return words
            at = ctx.now_ms()
            i = wanted.get(message_id(data))
            if i is not None and i not in got and len(data) >= 12 and data[2] & 0x80:
                got[i] = (data, at)
            else:
                strays += 1  # an old answer, another query's, or not DNS: the caller does not see it
                if strays > STRAY_LIMIT:
                    self.failure = "failed"
                    return f"{strays} datagrams that answer no query"
        return None


def _answer(query: bytes, i: int, got: dict[int, tuple[bytes, float]], sent: list[float], started: float,
            ctx: StageContext, error: str | None) -> Answer:
    at = sent[i] if i < len(sent) else (started - ctx.started) * 1000.0
    if i in got:
        data, when = got[i]
        return Answer(query, data, at, when - at)
    return Answer(query, None, at, ctx.now_ms() - at, error or "no answer")


def read_exact(recv: Callable[[int], bytes], size: int, deadline: float, ctx: StageContext) -> bytes:
    """`size` bytes from a stream whose recv times out every POLL seconds; EOFError when it closes."""
    out = bytearray()
    while len(out) < size:
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled")
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out")
        try:
            chunk = recv(size - len(out))
        except (socket.timeout, TimeoutError):
            continue
        if not chunk:
            raise EOFError("the server closed the connection")
        out += chunk
    return bytes(out)


def stream_exchange(connect: Callable[[], socket.socket], queries: Sequence[bytes], deadline: float,
                    ctx: StageContext, timeout: float, sent: list[float] | None = None,
                    ) -> tuple[dict[int, tuple[bytes, float]], str | None]:
    """Queries over one stream (TCP, or TLS when `connect` gives a TLS socket), each with its two-byte
    length; answers matched by ID, in whatever order they come. ({position: (answer, at_ms)}, error);
    `sent` gets the time they were sent (ms since the run began), once connected."""
    got: dict[int, tuple[bytes, float]] = {}
    wanted = {message_id(q): i for i, q in enumerate(queries)}
    try:
        sock = connect()
    except (OSError, EOFError) as exc:
        return got, failure_words(exc, timeout)[1]
    try:
        sock.settimeout(POLL)
        if sent is not None:
            sent.append(ctx.now_ms())
        sock.sendall(b"".join(len(q).to_bytes(2, "big") + q for q in queries))
        while len(got) < len(queries):
            size = int.from_bytes(read_exact(sock.recv, 2, deadline, ctx), "big")
            data = read_exact(sock.recv, size, deadline, ctx)
            i = wanted.get(message_id(data))
            if i is not None and i not in got:
                got[i] = (data, ctx.now_ms())
        return got, None
    except EOFError as exc:
        return got, str(exc)
    except OSError as exc:
        return got, failure_words(exc, timeout)[1]
    finally:
        sock.close()

"""The tcp stage: connect to the target (or the first proxy) within the timeout.

A name with several addresses is connected to as RFC 8305 ("happy eyeballs v2") says: the
addresses interleaved by family, starting with the family the resolver listed first; one attempt
starts, and the next one ATTEMPT_DELAY (250 ms) later, or at once when an attempt fails; earlier
attempts go on meanwhile, the first to connect wins and the others are closed. Every attempt is
recorded with its start, its duration and its result; the stage timeout bounds them all.
`--local-port` and `--interface` bind the socket before it connects; `--haproxy-protocol` sends a
PROXY protocol v1 header as soon as it has.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from typing import TYPE_CHECKING

from tlsbench.engine.records.details import ConnectTry, TcpDetail
from tlsbench.engine.findings import backlog, network
from tlsbench.errors import Cancelled
from tlsbench.engine.route.sockinfo import family_name, tcp_info
from tlsbench.engine.spec import LocalSpec, format_hostport, is_ip
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stream import Link, SocketStream

if TYPE_CHECKING:
    from tlsbench.engine.stages.resolve import Address, Route

ATTEMPT_DELAY = 0.25  # RFC 8305's Connection Attempt Delay: seconds before the next address starts
_POLL = 0.05  # seconds between looks at the cancel token while connecting


class BindError(Exception):
    """The local side could not be bound as asked; `errno` and the ports tried say why."""

    def __init__(self, exc: OSError, tried: list[int], what: str) -> None:
        super().__init__(str(exc))
        self.exc, self.tried, self.what = exc, tried, what


class _Attempt:
    def __init__(self, family: int, sockaddr: tuple, sock: socket.socket, started_ms: float) -> None:
        self.family, self.sockaddr, self.sock, self.started_ms = family, sockaddr, sock, started_ms


def _bind(sock: socket.socket, family: int, local: LocalSpec) -> None:
    """Bind to the asked interface and/or the first free port of the asked range."""
    if local.interface is None and local.port_range is None:
        return
    host = ""
    if local.interface is not None:
        if is_ip(local.interface):
            host = local.interface
        else:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, local.interface.encode())
            except OSError as exc:
                raise BindError(exc, [], f"interface {local.interface}") from None
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if local.port_range is None:
        if host:
            try:
                sock.bind((host, 0))
            except OSError as exc:
                raise BindError(exc, [], f"address {host}") from None
        return
    low, high = local.port_range
    tried: list[int] = []
    last: OSError | None = None
    for port in range(low, high + 1):
        tried.append(port)
        try:
            sock.bind((host, port))
            return
        except OSError as exc:
            last = exc
            if exc.errno != errno.EADDRINUSE:
                break
    assert last is not None
    raise BindError(last, tried, f"local port {low}" + (f"-{high}" if high != low else ""))


def interleave(addresses: tuple[Address, ...]) -> list[Address]:
    """RFC 8305 section 4: the addresses alternating by family, starting with the family of the first
    address the resolver gave (IPv6 first when getaddrinfo put it first), each family in its order."""
    lanes: dict[int, list[Address]] = {}
    for family, sockaddr in addresses:
        lanes.setdefault(family, []).append((family, sockaddr))
    out: list[Address] = []
    queues = list(lanes.values())
    while any(queues):
        for lane in queues:
            if lane:
                out.append(lane.pop(0))
    return out


class TcpStage:
    def __init__(self, step: Step, plan: Plan) -> None:
        self.spec = plan.spec
        self.step = step

    def doing(self, state: RunState) -> str:
        route = state.need_route()
        who = "the proxy " if route.role == "proxy" else ""
        return f"connecting to {who}{format_hostport(route.name, route.port)}"

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        route = state.need_route()
        spec = self.spec
        queue = interleave(route.addresses)
        both = len({family for family, _ in queue}) > 1
        deadline = time.monotonic() + spec.timeout
        tries: list[ConnectTry] = []
        live: list[_Attempt] = []
        last_exc: BaseException | None = None
        bind_error: BindError | None = None

        def start() -> bool:
            """Start the next address's attempt; False when it failed at once (or could not be bound)."""
            nonlocal last_exc, bind_error
            family, sockaddr = queue.pop(0)
            sock = socket.socket(family, socket.SOCK_STREAM)
            # As curl does: without it, a request written right after the handshake's last
            # message waits for the peer's delayed ACK (Nagle), ~40 ms on Linux.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                _bind(sock, family, spec.local)
            except BindError as exc:
                sock.close()
                bind_error = exc
                tries.append(ConnectTry(sockaddr[0], family_name(family), ctx.now_ms(), 0.0,
                                        f"not tried: cannot bind {exc.what}", network.errno_name(exc.exc)))
                return False
            sock.setblocking(False)
            ctx.begin()
            attempt = _Attempt(family, sockaddr, sock, ctx.now_ms())
            code = sock.connect_ex(sockaddr)
            if code in (0, errno.EINPROGRESS, errno.EAGAIN):
                live.append(attempt)
                return True
            sock.close()
            last_exc = _os_error(code)
            tries.append(ConnectTry(sockaddr[0], family_name(family), attempt.started_ms,
                                    ctx.now_ms() - attempt.started_ms, _strerror(code), errno.errorcode.get(code)))
            return False

        # RFC 8305 section 5: one attempt at a time, the next ATTEMPT_DELAY after the one before or
        # as soon as an attempt fails; earlier attempts go on meanwhile, and the first to connect wins.
        next_at = time.monotonic()
        winner: _Attempt | None = None
        try:
            while winner is None:
                if ctx.cancel.cancelled:
                    raise Cancelled("cancelled")
                now = time.monotonic()
                if now >= deadline:
                    break
                if queue and now >= next_at:
                    next_at = now + ATTEMPT_DELAY if start() else now
                    continue
                if not live:
                    if not queue:
                        break  # every address failed
                    continue
                wait = min(_POLL, deadline - now, *((next_at - now,) if queue else ()))
                _, ready, _ = select.select([], [a.sock for a in live], [], max(0.0, wait))
                for sock in ready:
                    attempt = next(a for a in live if a.sock is sock)
                    live.remove(attempt)
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    took = ctx.now_ms() - attempt.started_ms
                    fam = family_name(attempt.family)
                    if code == 0 and winner is None:
                        ctx.end()
                        winner = attempt
                        tries.append(ConnectTry(attempt.sockaddr[0], fam, attempt.started_ms, took, "connected",
                                                None, won=True))
                        continue
                    sock.close()
                    if code == 0:  # connected in the same instant as the winner: closed unused
                        tries.append(ConnectTry(attempt.sockaddr[0], fam, attempt.started_ms, took,
                                                "abandoned: another address connected first", None))
                        continue
                    last_exc = _os_error(code)
                    tries.append(ConnectTry(attempt.sockaddr[0], fam, attempt.started_ms, took, _strerror(code),
                                            errno.errorcode.get(code)))
                    next_at = time.monotonic()  # a failure starts the next address at once
        finally:
            for attempt in live:
                attempt.sock.close()
                tries.append(ConnectTry(attempt.sockaddr[0], family_name(attempt.family), attempt.started_ms,
                                        ctx.now_ms() - attempt.started_ms,
                                        "abandoned: another address connected first" if winner is not None
                                        else "no answer (stage timeout used up)", None))
        for family, sockaddr in queue:
            tries.append(ConnectTry(sockaddr[0], family_name(family), ctx.now_ms(), 0.0,
                                    "not tried" + (" (stage timeout used up)" if winner is None else ""), None))
        tries.sort(key=lambda t: t.started_ms)
        if winner is None:
            ctx.end()
            if last_exc is None and bind_error is None or any(t.result.startswith("no answer") for t in tries):
                last_exc = TimeoutError("timed out")
            return self._failed(route, tries, last_exc, bind_error, both)
        sock = winner.sock
        sock.setblocking(True)
        local, peer = sock.getsockname(), sock.getpeername()
        connect_ms = next(t.duration_ms for t in reversed(tries) if t.result == "connected")
        state.tcp_connect_ms = connect_ms  # the tls stage tells a queued connection by it
        slow_syn = backlog.syn_retransmitted(connect_ms, tcp_info(sock), role=route.role, port=peer[1],
                                             where=format_hostport(peer[0], peer[1]))
        state.link = Link(sock, ctx.cancel)
        state.stream = SocketStream(state.link)
        if spec.local.haproxy_protocol:
            state.stream.send(proxy_header(winner.family, local, peer))  # before anything else, as curl does
        detail = TcpDetail(role=route.role, peer_address=peer[0], peer_port=peer[1], local_address=local[0],
                           local_port=local[1], family=family_name(winner.family),
                           attempts=tuple(_attempt_words(t) for t in tries), tries=tuple(tries),
                           happy_eyeballs=both, local_bind=_bind_words(spec.local))
        who = "proxy " if route.role == "proxy" else ""
        summary = f"{format_hostport(local[0], local[1])} -> {who}{format_hostport(peer[0], peer[1])}"
        if len(tries) > 1:
            summary += f" ({len(tries)} attempts, {family_name(winner.family)} won)" if both else \
                f" ({len(tries)} attempts)"
        if slow_syn is not None:
            from tlsbench.engine.stages.stagetime import name_dominant, wire_ms

            summary = name_dominant(summary, connect_ms, wire_ms(ctx), "in a connect whose SYN was sent again")
        if spec.local.haproxy_protocol:
            summary += "; PROXY header sent"
        return StageOutcome(True, detail, summary, (slow_syn,) if slow_syn is not None else ())

    def _failed(self, route: Route, tries: list[ConnectTry], exc: BaseException | None, bind_error: BindError | None,
                both: bool) -> StageOutcome:
        spec = self.spec
        first = route.addresses[0]
        where = format_hostport(route.name, route.port) if route.role == "proxy" else format_hostport(
            first[1][0], route.port)
        tried = list(dict.fromkeys(t.address for t in tries if not t.result.startswith("not tried")))
        if route.role == "target" and len(tried) > 1:  # the finding names every address that failed
            where = f"{format_hostport(route.name, route.port)} ({' and '.join(tried)})"
        attempts = tuple(_attempt_words(t) for t in tries)
        if bind_error is not None and exc is None:
            finding = network.local_bind_failed(bind_error.exc, bind_error.tried, bind_error.what)
            exc = bind_error.exc
        else:
            if exc is None:
                exc = TimeoutError("timed out")
            finding = network.tcp_failed(route.role, where, exc, spec.timeout, attempts)
        detail = TcpDetail(role=route.role, peer_address=first[1][0], peer_port=route.port,
                           family=family_name(first[0]), attempts=attempts, error=network.os_words(exc),
                           errno_name=network.errno_name(exc), tries=tuple(tries), happy_eyeballs=both,
                           local_bind=_bind_words(spec.local))
        return StageOutcome(False, detail, f"{where}: {network.os_words(exc)}", (finding,))


def proxy_header(family: int, local: tuple, peer: tuple) -> bytes:
    """curl's --haproxy-protocol: a PROXY protocol v1 line naming the connection's two ends."""
    proto = "TCP6" if family == socket.AF_INET6 else "TCP4"
    return f"PROXY {proto} {local[0]} {peer[0]} {local[1]} {peer[1]}\r\n".encode("ascii")


def _strerror(code: int) -> str:
    return os.strerror(code) if code else "ok"


def _os_error(code: int) -> OSError:
    return OSError(code, _strerror(code))


def _attempt_words(t: ConnectTry) -> str:
    """'127.0.0.1: connected in 0.1 ms', '::1: ECONNREFUSED (Connection refused) after 0.1 ms'."""
    if t.result == "connected":
        return f"{t.address}: connected in {t.duration_ms:.1f} ms" + (" (won)" if t.won else "")
    if t.errno_name:
        return f"{t.address}: {t.errno_name} ({t.result}) after {t.duration_ms:.1f} ms"
    return f"{t.address}: {t.result}"


def _bind_words(local: LocalSpec) -> str | None:
    parts = []
    if local.interface:
        parts.append(f"interface {local.interface}")
    if local.port_range:
        low, high = local.port_range
        parts.append(f"port {low}" + (f"-{high}" if high != low else ""))
    return ", ".join(parts) or None

"""The tcp stage: connect to the target (or the proxy), each address in order, within the timeout.

Records every attempt, the local address and ephemeral port the OS picked, and the peer.
"""

from __future__ import annotations

import socket
import time

from tlsbench.engine.details import TcpDetail
from tlsbench.engine.diagnosis import network
from tlsbench.engine.errors import Cancelled
from tlsbench.engine.sockinfo import family_name
from tlsbench.engine.spec import format_hostport
from tlsbench.engine.stages.context import StageContext, StageOutcome
from tlsbench.engine.stages.resolve import Route


def run_tcp(ctx: StageContext, route: Route) -> tuple[StageOutcome, socket.socket | None]:
    timeout = ctx.spec.timeout
    deadline = time.monotonic() + timeout
    attempts: list[str] = []
    last_exc: BaseException | None = None
    first = route.addresses[0][1]
    for family, sockaddr in route.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            attempts.append(f"{sockaddr[0]}: not tried (stage timeout used up)")
            continue
        sock = socket.socket(family, socket.SOCK_STREAM)
        ctx.cancel.attach(sock)
        try:
            sock.settimeout(remaining)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            if ctx.cancel.cancelled:
                raise Cancelled("cancelled") from None
            last_exc = exc
            attempts.append(f"{sockaddr[0]}: {network.errno_name(exc) or type(exc).__name__} "
                            f"({network.os_words(exc)})")
            continue
        if ctx.cancel.cancelled:
            sock.close()
            raise Cancelled("cancelled")
        sock.settimeout(timeout)
        local, peer = sock.getsockname(), sock.getpeername()
        attempts.append(f"{sockaddr[0]}: connected")
        detail = TcpDetail(role=route.role, peer_address=peer[0], peer_port=peer[1], local_address=local[0],
                           local_port=local[1], family=family_name(family), attempts=tuple(attempts))
        who = "proxy " if route.role == "proxy" else ""
        summary = f"{format_hostport(local[0], local[1])} -> {who}{format_hostport(peer[0], peer[1])}"
        return StageOutcome(True, detail, summary), sock

    assert last_exc is not None or attempts
    exc = last_exc or TimeoutError("timed out")
    where = format_hostport(first[0], route.port)
    if route.role == "proxy":
        where = f"{format_hostport(route.name, route.port)}"
    finding = network.tcp_failed(route.role, where, exc, timeout, tuple(attempts))
    detail = TcpDetail(role=route.role, peer_address=first[0], peer_port=route.port,
                       family=family_name(route.addresses[0][0]), attempts=tuple(attempts),
                       error=network.os_words(exc), errno_name=network.errno_name(exc))
    return StageOutcome(False, detail, f"{where}: {network.os_words(exc)}", (finding,)), None

"""The resolve stage: DNS for the target, or for the proxy (and the target when tlsbench resolves it).

getaddrinfo has no timeout, so it runs in a daemon thread that the stage waits on for
`spec.timeout` (a lookup left behind finishes on its own). `--pin` replaces DNS for the target.
"""


from typing import NamedTuple

import socket
import threading

from tlsbench.engine.details import ResolveDetail
from tlsbench.engine.diagnosis import network
from tlsbench.engine.errors import Cancelled
from tlsbench.engine.sockinfo import family_name
from tlsbench.engine.spec import ConnectionSpec, is_ip
from tlsbench.engine.stages.context import StageContext, StageOutcome

Address = tuple[int, tuple]  # (family, sockaddr) as getaddrinfo gives them


class Route(NamedTuple):
    """What the later stages need: where tcp connects, and what the proxy is asked for."""

    role: str  # "target" | "proxy": who the tcp stage connects to
    name: str  # host name of that peer
    port: int
    addresses: tuple[Address, ...]
    proxy_dest: str | None = None  # the name or address the proxy is asked for
    proxy_dest_port: int = 0


def lookup(name: str, port: int, family: int, timeout: float, ctx: StageContext) -> list[Address]:
    """getaddrinfo in a daemon thread; raises gaierror, TimeoutError or Cancelled."""
    box: dict = {}

    def work() -> None:
        try:
            # An ASCII name as bytes: a str would load the idna codec just to encode it unchanged.
            host = name.encode("ascii") if name.isascii() else name
            box["ok"] = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        except Exception as exc:  # handed to the waiting thread
            box["err"] = exc

    thread = threading.Thread(target=work, name=f"resolve {name}", daemon=True)
    thread.start()
    waited = 0.0
    while thread.is_alive() and waited < timeout:
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled")
        step = min(0.05, timeout - waited)
        thread.join(step)
        waited += step
    if ctx.cancel.cancelled:
        raise Cancelled("cancelled")
    if "err" in box:
        raise box["err"]
    if "ok" not in box:
        raise TimeoutError(f"lookup of {name} timed out")
    seen: list[Address] = []
    for fam, _type, _proto, _canon, sockaddr in box["ok"]:
        if (fam, sockaddr) not in seen:
            seen.append((fam, sockaddr))
    return seen


def _fail(detail: ResolveDetail, name: str, role: str, exc: BaseException, timeout: float) -> StageOutcome:
    if isinstance(exc, Cancelled):
        raise exc
    if isinstance(exc, TimeoutError):
        finding = network.dns_timeout(name, timeout)
        error = f"timed out after {timeout:g} s"
    else:
        finding = network.dns_failed(name, role, exc)
        error = f"{network.errno_name(exc) or type(exc).__name__}: {network.os_words(exc)}"
    return StageOutcome(False, _with(detail, error=error), f"{name}: {error}", (finding,))


def _with(detail: ResolveDetail, **changes) -> ResolveDetail:
    return detail._replace(**changes)


def run_resolve(ctx: StageContext) -> tuple[StageOutcome, Route | None]:
    spec: ConnectionSpec = ctx.spec
    proxy = spec.proxy
    if proxy is None:
        return _resolve_direct(ctx)
    detail = ResolveDetail(name=proxy.host, role="proxy")
    try:
        addrs = lookup(proxy.host, proxy.port, socket.AF_UNSPEC, spec.timeout, ctx)
    except Exception as exc:
        return _fail(detail, proxy.host, "proxy", exc, spec.timeout), None
    detail = _with(detail, addresses=tuple(a[1][0] for a in addrs), chosen=addrs[0][1][0],
                   family=family_name(addrs[0][0]))
    summary = f"proxy {proxy.host} -> {addrs[0][1][0]}"


    if spec.pin:
        dest = spec.pin
        detail = _with(detail, pinned=True, target_chosen=dest)
        summary += f"; target pinned to {dest}"
    elif is_ip(spec.host):
        dest = spec.host
        detail = _with(detail, target_chosen=dest)
    elif proxy.remote_dns:
        dest = spec.host
        detail = _with(detail, skipped_reason=f"the proxy resolves {spec.host} ({proxy.kind})")
        summary += f"; {spec.host} resolved by the proxy"
    else:
        # socks4 and socks5 send an address: tlsbench resolves the target itself.
        family = socket.AF_INET if proxy.kind == "socks4" else socket.AF_UNSPEC
        try:
            targets = lookup(spec.host, spec.port, socket.AF_UNSPEC, spec.timeout, ctx)
        except Exception as exc:
            return _fail(detail, spec.host, "target", exc, spec.timeout), None
        listed = tuple(a[1][0] for a in targets)
        usable = [a for a in targets if family == socket.AF_UNSPEC or a[0] == family]
        detail = _with(detail, target_addresses=listed)
        if not usable:
            finding = network.dns_no_ipv4(spec.host, list(listed))
            return StageOutcome(False, _with(detail, error="no IPv4 address for SOCKS4"),
                                f"{spec.host}: no IPv4 address for SOCKS4", (finding,)), None
        dest = usable[0][1][0]
        detail = _with(detail, target_chosen=dest)
        summary += f"; target {spec.host} -> {dest}"
    route = Route("proxy", proxy.host, proxy.port, tuple(addrs), proxy_dest=dest, proxy_dest_port=spec.port)
    return StageOutcome(True, detail, summary), route


def _resolve_direct(ctx: StageContext) -> tuple[StageOutcome, Route | None]:
    spec = ctx.spec
    detail = ResolveDetail(name=spec.host, role="target")
    name = spec.pin or spec.host
    try:
        addrs = lookup(name, spec.port, socket.AF_UNSPEC, spec.timeout, ctx)
    except Exception as exc:
        return _fail(detail, name, "target", exc, spec.timeout), None
    chosen = addrs[0][1][0]
    detail = _with(detail, addresses=tuple(a[1][0] for a in addrs), chosen=chosen,
                   family=family_name(addrs[0][0]), pinned=bool(spec.pin))
    if spec.pin:
        summary = f"{spec.host} pinned to {chosen} (no DNS)"
    elif is_ip(spec.host):
        summary = f"{chosen} ({detail.family}, an address: no DNS needed)"
    else:
        more = f", {len(addrs)} addresses" if len(addrs) > 1 else ""
        summary = f"{spec.host} -> {chosen} ({detail.family}{more})"
    return StageOutcome(True, detail, summary), Route("target", spec.host, spec.port, tuple(addrs))

"""The resolve stage: DNS for the target, or for the proxy (and the target when tlsbench resolves it).

getaddrinfo has no timeout, so it runs in a daemon thread that the stage waits on for
`spec.timeout` (a lookup left behind finishes on its own). `--pin` replaces DNS for the target.
"""


from typing import NamedTuple

import socket

from tlsbench.engine.records.details import ResolveDetail
from tlsbench.engine.findings import network
from tlsbench.errors import Cancelled
from tlsbench.engine.route.lookup_threads import in_thread
from tlsbench.engine.route.sockinfo import family_name
from tlsbench.engine.spec import ConnectionSpec, format_hostport, is_ip
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome

Address = tuple[int, tuple]  # (family, sockaddr) as getaddrinfo gives them


class Route(NamedTuple):
    """What the later stages need: where tcp connects, and what the proxy is asked for."""

    role: str  # "target" | "proxy": who the tcp stage connects to
    name: str  # host name of that peer
    port: int
    addresses: tuple[Address, ...]
    proxy_dest: str | None = None  # the name or address the last proxy is asked for
    proxy_dest_port: int = 0
    hop_dests: tuple[str, ...] = ()  # per hop: the name or address it is asked to connect to


_warmed = False


def _warm_resolver() -> None:
    """The first getaddrinfo of a process sets up the C library's resolver (about 3 ms here, even for
    an address): done while the run is prepared, so that no stage clock holds it."""
    global _warmed
    if not _warmed:
        socket.getaddrinfo(b"127.0.0.1", 0, socket.AF_UNSPEC, socket.SOCK_STREAM, socket.IPPROTO_TCP,
                           socket.AI_NUMERICHOST)
        _warmed = True


def lookup(name: str, port: int, family: int, timeout: float, ctx: StageContext) -> list[Address]:
    """getaddrinfo in a daemon thread; raises gaierror, TimeoutError or Cancelled.

    An address needs no lookup and cannot hang: it is converted at once (AI_NUMERICHOST), without a
    thread — the stage then costs microseconds, as it should.
    """
    ctx.begin()
    try:
        return _lookup(name, port, family, timeout, ctx)
    finally:
        ctx.end()


def _lookup(name: str, port: int, family: int, timeout: float, ctx: StageContext) -> list[Address]:
    if is_ip(name):
        # As bytes, like the warm-up: a str would load the idna codec (~1.5 ms) inside the clock.
        found = socket.getaddrinfo(name.encode("ascii"), port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP,
                                   socket.AI_NUMERICHOST)
        return list(dict.fromkeys((fam, sockaddr) for fam, _t, _p, _c, sockaddr in found))
    box: dict = {}

    def work() -> None:
        try:
            # An ASCII name as bytes: a str would load the idna codec just to encode it unchanged.
            host = name.encode("ascii") if name.isascii() else name
            box["ok"] = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        except Exception as exc:  # handed to the waiting thread
            box["err"] = exc

    done = in_thread(work)  # a kept daemon thread: starting one per lookup cost more than the lookup
    waited = 0.0
    while not done.is_set() and waited < timeout:
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled")
        step = min(0.05, timeout - waited)
        done.wait(step)
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
        finding = network.dns_timeout(name, timeout, role)
        error = f"timed out after {timeout:g} s"
    else:
        finding = network.dns_failed(name, role, exc)
        error = f"{network.errno_name(exc) or type(exc).__name__}: {network.os_words(exc)}"
    return StageOutcome(False, detail._replace(error=error), f"{name}: {error}", (finding,))


def _family(spec: ConnectionSpec) -> int:
    return {4: socket.AF_INET, 6: socket.AF_INET6}.get(spec.local.family or 0, socket.AF_UNSPEC)


class ResolveStage:
    """DNS for whatever tlsbench itself must resolve: the first hop (or the target), and each
    name a SOCKS4/SOCKS5 hop must be given as an address (those proxies do not resolve names)."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.spec: ConnectionSpec = plan.spec
        _warm_resolver()

    def doing(self, state: RunState) -> str:
        spec = self.spec
        first = spec.proxies[0] if spec.proxies else None
        return f"looking up {first.host if first else (spec.pin or spec.host)}"

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        # The clock runs inside lookup() only: the lookups are the stage's exchange, the wording is not.
        outcome, route = (self._chain(ctx) if self.spec.proxies else self._direct(ctx))
        state.route = route
        return outcome

    def _direct(self, ctx: StageContext) -> tuple[StageOutcome, Route | None]:
        spec = self.spec
        detail = ResolveDetail(name=spec.host, role="target")
        name = spec.pin or spec.host
        try:
            addrs = lookup(name, spec.port, _family(spec), spec.timeout, ctx)
        except Exception as exc:
            return _fail(detail, name, "target", exc, spec.timeout), None
        chosen = addrs[0][1][0]
        detail = detail._replace(addresses=tuple(a[1][0] for a in addrs), chosen=chosen,
                       family=family_name(addrs[0][0]), pinned=bool(spec.pin))
        if spec.pin:
            summary = f"{spec.host} pinned to {chosen} (no DNS)"
        elif is_ip(spec.host):
            summary = f"{chosen} ({detail.family}, an address: no DNS needed)"
        else:
            families = sorted({family_name(a[0]) for a in addrs})
            more = f", {len(addrs)} addresses" if len(addrs) > 1 else ""
            summary = f"{spec.host} -> {chosen} ({'/'.join(families) if len(families) > 1 else detail.family}{more})"
        return StageOutcome(True, detail, summary), Route("target", spec.host, spec.port, tuple(addrs))

    def _chain(self, ctx: StageContext) -> tuple[StageOutcome, Route | None]:
        spec = self.spec
        first = spec.proxies[0]
        detail = ResolveDetail(name=first.host, role="proxy")
        try:
            addrs = lookup(first.host, first.port, _family(spec), spec.timeout, ctx)
        except Exception as exc:
            return _fail(detail, first.host, "proxy", exc, spec.timeout), None
        detail = detail._replace(addresses=tuple(a[1][0] for a in addrs), chosen=addrs[0][1][0],
                       family=family_name(addrs[0][0]))
        summary = f"proxy {first.host} -> {addrs[0][1][0]}"
        dests: list[str] = []
        for i, hop in enumerate(spec.proxies):
            last = i + 1 == len(spec.proxies)
            name = (spec.pin or spec.host) if last else spec.proxies[i + 1].host
            port = spec.port if last else spec.proxies[i + 1].port
            if is_ip(name) or hop.remote_dns:
                dests.append(name)
                if last:
                    if spec.pin:
                        detail = detail._replace(pinned=True, target_chosen=name)
                        summary += f"; target pinned to {name}"
                    elif is_ip(name):
                        detail = detail._replace(target_chosen=name)
                    else:
                        detail = detail._replace(skipped_reason=f"the proxy resolves {name} ({hop.kind})")
                        summary += f"; {name} resolved by the proxy"
                continue
            # socks4 and socks5 send an address: tlsbench resolves the name itself.
            family = socket.AF_INET if not hop.declared.ipv6 else _family(spec)
            try:
                found = lookup(name, port, socket.AF_UNSPEC, spec.timeout, ctx)
            except Exception as exc:
                return _fail(detail, name, "target" if last else "proxy", exc, spec.timeout), None
            listed = tuple(a[1][0] for a in found)
            usable = [a for a in found if family == socket.AF_UNSPEC or a[0] == family]
            if last:
                detail = detail._replace(target_addresses=listed)
            if not usable:
                finding = network.dns_no_ipv4(name, list(listed))
                return StageOutcome(False, detail._replace(error="no IPv4 address for SOCKS4"),
                                    f"{name}: no IPv4 address for SOCKS4", (finding,)), None
            dest = usable[0][1][0]
            dests.append(dest)
            if last:
                detail = detail._replace(target_chosen=dest)
            summary += f"; {'target' if last else 'next proxy'} {name} -> {dest}"
        detail = detail._replace(hop_requests=tuple(format_hostport(d, p) for d, p in zip(
            dests, [h.port for h in spec.proxies[1:]] + [spec.port])))
        route = Route("proxy", first.host, first.port, tuple(addrs), proxy_dest=dests[-1],
                      proxy_dest_port=spec.port, hop_dests=tuple(dests))
        return StageOutcome(True, detail, summary), route

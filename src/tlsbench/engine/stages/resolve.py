"""The resolve stage: DNS for the target, or for the proxy (and the target when tlsbench resolves it).

getaddrinfo has no timeout, so it runs in a daemon thread that the stage waits on for
`spec.timeout` (a lookup left behind finishes on its own). `--pin` replaces DNS for the target.
Beside it, tlsbench's own queries (engine/dns/resolver.py) add the detail - or, with
`--dns-servers`/`--doh-url`, decide the addresses in its place.
"""


from typing import Callable, NamedTuple

import socket
import time

from tlsbench.engine.dns.resolver import OwnLookup, Outcome, system_resolver
from tlsbench.engine.dns.text import summary_words
from tlsbench.engine.records.details import DnsResolver, ResolveDetail
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


def lookup(name: str, port: int, family: int, timeout: float, ctx: StageContext,
           beside: Callable[[], None] | None = None) -> list[Address]:
    """getaddrinfo in a daemon thread; raises gaierror, TimeoutError or Cancelled.

    An address needs no lookup and cannot hang: it is converted at once (AI_NUMERICHOST), without a
    thread — the stage then costs microseconds, as it should. `beside` runs while getaddrinfo works
    (tlsbench's own queries for the detail), whether or not getaddrinfo succeeds.
    """
    ctx.begin()
    try:
        return _lookup(name, port, family, timeout, ctx, beside)
    finally:
        ctx.end()


def _lookup(name: str, port: int, family: int, timeout: float, ctx: StageContext,
            beside: Callable[[], None] | None = None) -> list[Address]:
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
    began = time.monotonic()
    if beside is not None:
        beside()
    waited = time.monotonic() - began
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
    outcome = getattr(exc, "dns_outcome", None)
    if outcome is not None:  # what the resolv.conf server said, beside the system resolver's failure
        from tlsbench.engine.dns.resolver import evidence_of

        finding = finding._replace(evidence=finding.evidence + evidence_of(outcome.deciding))
    return StageOutcome(False, detail._replace(error=error), f"{name}: {error}{summary_words(detail)}", (finding,))


def _family(spec: ConnectionSpec) -> int:
    return {4: socket.AF_INET, 6: socket.AF_INET6}.get(spec.local.family or 0, socket.AF_UNSPEC)


class ResolveStage:
    """DNS for whatever tlsbench itself must resolve: the first hop (or the target), and each
    name a SOCKS4/SOCKS5 hop must be given as an address (those proxies do not resolve names)."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.spec: ConnectionSpec = plan.spec
        _warm_resolver()
        # tlsbench's own lookups, prepared here (files read, transports and messages made): by name.
        self.own: dict[str, OwnLookup] = {}
        self.resolver: DnsResolver | None = None
        spec = self.spec
        decides = spec.dns.decides
        names = self._names()
        self.primary = names[0] if names else None  # the name the detail's chain and HTTPS record are for
        if decides and names:
            source = "--doh-url" if spec.dns.doh_url else "--dns-servers"
            self.resolver = DnsResolver("servers", decides, source)
            self.own = {n: OwnLookup(n, spec, decides, True) for n in names}
        elif names:
            self.resolver, server = system_resolver(names[0])
            if server is not None:
                self.own[names[0]] = OwnLookup(names[0], spec, (server,), False)

    def _names(self) -> list[str]:
        """The names tlsbench resolves itself, the first hop's (or the target's) first."""
        spec = self.spec
        if not spec.proxies:
            return [] if spec.pin or is_ip(spec.host) else [spec.host]
        names = [] if is_ip(spec.proxies[0].host) else [spec.proxies[0].host]
        for i, hop in enumerate(spec.proxies):
            last = i + 1 == len(spec.proxies)
            name = (spec.pin or spec.host) if last else spec.proxies[i + 1].host
            if not (is_ip(name) or hop.remote_dns) and name not in names:
                names.append(name)
        return names

    def doing(self, state: RunState) -> str:
        spec = self.spec
        first = spec.proxies[0] if spec.proxies else None
        asked = f" at {', '.join(spec.dns.decides)}" if self.own and spec.dns.decides else ""
        return f"looking up {first.host if first else (spec.pin or spec.host)}{asked}"

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        # The clock runs inside lookup() only: the lookups are the stage's exchange, the wording is not.
        outcome, route = (self._chain(ctx) if self.spec.proxies else self._direct(ctx))
        state.route = route
        if isinstance(outcome.detail, ResolveDetail):
            state.https_record = outcome.detail.https  # --http3 weighs what it advertises
        return outcome

    def _resolve(self, name: str, port: int, family: int, ctx: StageContext,
                 detail: ResolveDetail) -> tuple[list[Address], ResolveDetail, tuple, str | None]:
        """One name: (addresses, the detail with tlsbench's own queries, findings, error words).
        Raises what getaddrinfo raises when the system resolver decides."""
        own = self.own.get(name)
        primary = name == self.primary and not detail.queries
        if self.spec.dns.decides and own is not None:
            found = own.run(ctx)
            detail = _with_found(detail, found, self.resolver if primary else None, primary)
            if found.error:
                return [], detail._replace(error=found.error), found.findings, found.error
            from tlsbench.engine.dns.resolver import addresses_of

            return list(addresses_of(found.addresses, port)), detail, found.findings, None
        box: list[Outcome] = []
        try:
            addrs = lookup(name, port, family, self.spec.timeout, ctx,
                           beside=(lambda: box.append(own.run(ctx))) if own is not None else None)
        except Exception as exc:
            if box:
                detail = _with_found(detail, box[0], self.resolver if primary else None, primary)
            elif primary and self.resolver is not None:
                detail = detail._replace(resolver=self.resolver)
            setattr(exc, "dns_outcome", box[0] if box else None)
            raise _Failed(exc, detail) from exc
        findings: tuple = ()
        if box:
            from tlsbench.engine.dns.resolver import disagreement

            found = box[0]
            detail = _with_found(detail, found, self.resolver if primary else None, primary)
            differ = disagreement(name, tuple(dict.fromkeys(a[1][0] for a in addrs)), found.deciding,
                                  self.spec.local.family)
            findings = found.findings + ((differ,) if differ else ())
        elif primary and self.resolver is not None:
            detail = detail._replace(resolver=self.resolver)
        return addrs, detail, findings, None

    def _direct(self, ctx: StageContext) -> tuple[StageOutcome, Route | None]:
        spec = self.spec
        detail = ResolveDetail(name=spec.host, role="target")
        name = spec.pin or spec.host
        try:
            addrs, detail, findings, error = self._resolve(name, spec.port, _family(spec), ctx, detail)
        except _Failed as failed:
            return _fail(failed.detail, name, "target", failed.error, spec.timeout), None
        if error:
            return StageOutcome(False, detail, f"{name}: {error}", tuple(findings)), None
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
            summary += summary_words(detail)
        return (StageOutcome(True, detail, summary, tuple(findings)),
                Route("target", spec.host, spec.port, tuple(addrs)))

    def _chain(self, ctx: StageContext) -> tuple[StageOutcome, Route | None]:
        spec = self.spec
        first = spec.proxies[0]
        detail = ResolveDetail(name=first.host, role="proxy")
        found_all: list = []
        try:
            addrs, detail, findings, error = self._resolve(first.host, first.port, _family(spec), ctx, detail)
        except _Failed as failed:
            return _fail(failed.detail, first.host, "proxy", failed.error, spec.timeout), None
        found_all += findings
        if error:
            return StageOutcome(False, detail, f"{first.host}: {error}", tuple(found_all)), None
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
            role = "target" if last else "proxy"
            try:
                found, detail, more, error = self._resolve(name, port, socket.AF_UNSPEC, ctx, detail)
            except _Failed as failed:
                return _fail(failed.detail, name, role, failed.error, spec.timeout), None
            found_all += more
            if error:
                return StageOutcome(False, detail, f"{name}: {error}", tuple(found_all)), None
            listed = tuple(a[1][0] for a in found)
            usable = [a for a in found if family == socket.AF_UNSPEC or a[0] == family]
            if last:
                detail = detail._replace(target_addresses=listed)
            if not usable:
                finding = network.dns_no_ipv4(name, list(listed))
                return StageOutcome(False, detail._replace(error="no IPv4 address for SOCKS4"),
                                    f"{name}: no IPv4 address for SOCKS4", (*found_all, finding)), None
            dest = usable[0][1][0]
            dests.append(dest)
            if last:
                detail = detail._replace(target_chosen=dest)
            summary += f"; {'target' if last else 'next proxy'} {name} -> {dest}"
        detail = detail._replace(hop_requests=tuple(format_hostport(d, p) for d, p in zip(
            dests, [h.port for h in spec.proxies[1:]] + [spec.port])))
        route = Route("proxy", first.host, first.port, tuple(addrs), proxy_dest=dests[-1],
                      proxy_dest_port=spec.port, hop_dests=tuple(dests))
        return StageOutcome(True, detail, summary + summary_words(detail), tuple(found_all)), route


class _Failed(Exception):
    """getaddrinfo failed (or timed out); the detail gathered beside it goes with it."""

    def __init__(self, error: BaseException, detail: ResolveDetail) -> None:
        super().__init__(str(error))
        self.error, self.detail = error, detail


def _with_found(detail: ResolveDetail, found: Outcome, resolver: DnsResolver | None, primary: bool) -> ResolveDetail:
    """The detail with one lookup's queries added (and, for the first name, its chain and HTTPS record)."""
    queries = tuple(q for f in found.founds for q in f.queries)
    connection = tuple(r for f in found.founds for r in f.connection)
    detail = detail._replace(queries=detail.queries + queries, connection=detail.connection + connection)
    if resolver is not None:
        detail = detail._replace(resolver=resolver)
    if primary and found.deciding is not None:
        chain = found.deciding.chain
        detail = detail._replace(cname_chain=chain if len(chain) > 1 else (), https=found.deciding.https)
    return detail

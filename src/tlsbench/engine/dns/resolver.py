"""Which resolver answers a name, and tlsbench's own lookup of it, as the resolve stage uses them.

Two ways, chosen by the spec:

* **system** (the default): getaddrinfo decides, as for every program on the machine. Beside it,
  tlsbench asks the first server of /etc/resolv.conf itself, for the detail (the queries, their
  times, the CNAME chain, the HTTPS record) - unless nsswitch.conf reads /etc/hosts first and the
  name is there (the detail then says so, and nothing is sent), or resolv.conf names no server.
  That detail never fails the stage and is bounded (DETAIL_TIMEOUT).
* **servers** (`--dns-servers`, `--doh-url`): the servers are asked in order, the first that
  answers decides; getaddrinfo is not used for the name.

`OwnLookup` is made in the stage's `__init__` (before any clock): the files are read, the
transports made and the messages built there; dnspython is imported only when a lookup will happen.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, NamedTuple

from tlsbench.engine.dns.servers import DNS_PORT, format_hostport, hosts_addresses, hosts_sources, parse_resolv_conf
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.details import DnsResolver
from tlsbench.engine.spec import ConnectionSpec

if TYPE_CHECKING:
    from tlsbench.engine.dns.lookup import Found
    from tlsbench.engine.stages.context import StageContext

# The C library's files (module names, so that a test can point them at files of its own).
RESOLV_CONF = "/etc/resolv.conf"
HOSTS = "/etc/hosts"
NSSWITCH = "/etc/nsswitch.conf"
RESOLV_PORT = DNS_PORT  # resolv.conf cannot name a port; a test's server listens on another
DETAIL_TIMEOUT = 2.0  # seconds the detail beside getaddrinfo may take, at most


def _read(path: str) -> str | None:
    from tlsbench.engine.dns.servers import MAX_FILE

    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_FILE).decode("utf-8", "replace")
    except OSError:
        return None


def system_resolver(name: str) -> tuple[DnsResolver, str | None]:
    """Where the system's answer for `name` comes from, and the resolv.conf server to ask for the
    detail (None: no query; the resolver's note says why)."""
    sources = hosts_sources(_read(NSSWITCH) or "")
    shown = " ".join(sources)
    # systemd-resolved's "resolve" asks DNS too (its stub is the server resolv.conf names)
    first_dns = next((i for i, source in enumerate(sources) if source in ("dns", "resolve")), None)
    if first_dns is None:
        return DnsResolver("system", (), NSSWITCH, f"nsswitch.conf's hosts line ({shown}) does not use DNS"), None
    before_dns = sources[:first_dns]
    if "files" in before_dns:
        found = hosts_addresses(_read(HOSTS) or "", name)
        if found:
            return DnsResolver("system", (), HOSTS, f"answered by {HOSTS} ({', '.join(found)}; nsswitch.conf: "
                               f"hosts: {shown}): no DNS query"), None
    text = _read(RESOLV_CONF)
    conf = parse_resolv_conf(text or "")
    if not conf.nameservers:
        why = "cannot be read" if text is None else "names no nameserver"
        return DnsResolver("system", (), RESOLV_CONF, f"{RESOLV_CONF} {why}: no detail"), None
    server = format_hostport(conf.nameservers[0], RESOLV_PORT)
    note = None
    if conf.search and name.rstrip(".").count(".") < conf.ndots:
        note = f"asked as written; the system resolver may try it with {', '.join(conf.search)} first"
    return DnsResolver("system", (server,), RESOLV_CONF, note), server


class Outcome(NamedTuple):
    """What tlsbench's own lookup decided (servers) or adds (system)."""

    founds: tuple[Found, ...]  # one per server asked, in order
    deciding: Found | None  # the one whose answer counts (servers), or the detail's (system)
    addresses: tuple[str, ...]  # servers: the addresses, IPv6 first; () when none
    findings: tuple[Finding, ...]
    error: str | None  # servers: why there are no addresses


class OwnLookup:
    """tlsbench's own lookup of one name, prepared before any clock."""

    def __init__(self, name: str, spec: ConnectionSpec, servers: tuple[str, ...], decides: bool) -> None:
        from tlsbench.engine.dns.factory import make_transport
        from tlsbench.engine.dns.lookup import Questions

        self.name, self.decides = name, decides
        self.family = spec.local.family
        self.transports = [make_transport(s, spec) for s in servers]
        self.questions = Questions(name)
        if decides:
            # Each server gets its share of the stage's timeout, at least a second.
            self.timeout = max(1.0, spec.timeout / max(1, len(servers))) if len(servers) > 1 else spec.timeout
        else:
            self.timeout = min(DETAIL_TIMEOUT, spec.timeout)

    def run(self, ctx: StageContext) -> Outcome:
        from tlsbench.engine.dns.lookup import ask

        founds: list[Found] = []
        for transport in self.transports:
            found = ask(transport, self.questions, ctx, self.timeout)
            founds.append(found)
            if _settled(found):
                break
        return self._judge(tuple(founds))

    def _judge(self, founds: tuple[Found, ...]) -> Outcome:
        from tlsbench.engine.findings import dns as words

        last = founds[-1] if founds else None
        deciding = next((f for f in founds if _settled(f)), None)
        findings: list[Finding] = []
        if not self.decides:
            if deciding is not None and deciding.https is not None and "h3" in deciding.https.alpn:
                findings.append(words.https_h3(self.name, deciding.https.name, deciding.https.alpn,
                                               deciding.https.port))
            return Outcome(founds, deciding or last, (), tuple(findings), None)
        for found in founds:
            if found is not deciding:
                findings += _failures(found, self.name, decides=deciding is None)
        if deciding is None:
            why = "; ".join(f"{f.server}: {_why(f)}" for f in founds) or "no server to ask"
            return Outcome(founds, last, (), tuple(findings), f"no DNS server answered ({why})")
        f = deciding
        findings += f.findings  # its connection's own (a DoH run's), when it has one
        findings += [words.answer_malformed(f.server, m.qtype, m.problem, m.data, decides=False) for m in f.malformed]
        if f.https is not None and "h3" in f.https.alpn:
            findings.append(words.https_h3(self.name, f.https.name, f.https.alpn, f.https.port))
        for q in f.queries:
            if q.type != "HTTPS" and q.rcode not in (None, "NOERROR", "NXDOMAIN"):
                findings.append(words.server_error(f.server, self.name, q.rcode, _rcode_value(q.rcode), q.type,
                                                   decides=False))
        if f.loop or f.too_long:
            from tlsbench.engine.dns.lookup import MAX_CHAIN

            findings.insert(0, words.cname_chain(f.server, f.chain, f.loop, MAX_CHAIN))
            return Outcome(founds, f, (), tuple(findings), "the CNAME chain " + ("loops" if f.loop else "is too long"))
        if any(q.rcode == "NXDOMAIN" for q in f.queries if q.type != "HTTPS"):
            findings.insert(0, words.nxdomain(f.server, self.name, f.chain[-1]))
            return Outcome(founds, f, (), tuple(findings), f"NXDOMAIN from {f.server}")
        wanted = {4: f.v4, 6: f.v6}.get(self.family or 0, f.addresses)
        if not wanted:
            findings.insert(0, words.no_address(f.server, self.name, f.chain[-1], self.family, f.addresses))
            what = f"no IPv{self.family} address" if self.family else "no address"
            return Outcome(founds, f, (), tuple(findings), f"{what} from {f.server}")
        return Outcome(founds, f, wanted, tuple(findings), None)


def _settled(found: Found) -> bool:
    """The server gave an answer that counts for the addresses: NOERROR or NXDOMAIN to A or AAAA."""
    return any(q.rcode in ("NOERROR", "NXDOMAIN") for q in found.queries if q.type != "HTTPS")


def _rcode_value(text: str) -> int:
    import dns.rcode

    try:
        return int(dns.rcode.from_text(text))
    except Exception:
        return -1


def _why(found: Found) -> str:
    rcodes = sorted({q.rcode for q in found.queries if q.rcode and q.type != "HTTPS"})
    if rcodes:
        return "answered " + ", ".join(rcodes)
    errors = [q.error for q in found.queries if q.error]
    return errors[0] if errors else "no answer"


def _failures(found: Found, name: str, decides: bool) -> list[Finding]:
    """Why a server gave no answer that counts: its transport's findings, or its rcode, or its silence."""
    from tlsbench.engine.findings import dns as words

    if found.findings:
        return list(found.findings)
    for q in found.queries:
        if q.type != "HTTPS" and q.rcode is not None:
            return [words.server_error(found.server, name, q.rcode, _rcode_value(q.rcode),
                                       ",".join(x.type for x in found.queries if x.rcode == q.rcode), decides)]
    if found.malformed:
        m = found.malformed[0]
        return [words.answer_malformed(found.server, m.qtype, m.problem, m.data, decides)]
    kind = found.failure or "failed"  # a transport that does not say (its Answer.error does)
    return [words.server_unreachable(found.server, kind, _why(found), decides)]


def addresses_of(found: tuple[str, ...], port: int) -> tuple[tuple[int, tuple], ...]:
    """(family, sockaddr) pairs as getaddrinfo gives them, for the tcp stage."""
    return tuple((socket.AF_INET6, (a, port, 0, 0)) if ":" in a else (socket.AF_INET, (a, port)) for a in found)


def disagreement(name: str, system: tuple[str, ...], found: Found | None, family: int | None) -> Finding | None:
    """The system resolver's addresses against the resolv.conf server's, when that server answered the
    queries of the families asked for (otherwise there is nothing whole to compare) and the two have
    no address in common."""
    if found is None:
        return None
    rcodes = {q.type: q.rcode for q in found.queries}
    needed = {4: ("A",), 6: ("AAAA",)}.get(family or 0, ("A", "AAAA"))  # the queries the system's answer covers
    if any(rcodes.get(t) not in ("NOERROR", "NXDOMAIN") for t in needed):
        return None
    ours = {4: found.v4, 6: found.v6}.get(family or 0, found.addresses)
    if set(ours) & set(system) or not system:
        return None  # one address in common: load balancers hand out varying subsets, that is no disagreement
    from tlsbench.engine.findings import dns as words

    return words.resolvers_disagree(name, system, found.server, ours)


def evidence_of(found: Found | None) -> tuple[Evidence, ...]:
    """What the resolv.conf server said, as evidence beside a failed getaddrinfo."""
    if found is None:
        return ()
    said = [f"{q.type} {q.rcode or q.error}" for q in found.queries if q.type != "HTTPS"]
    return (Evidence(f"{found.server} ({RESOLV_CONF})", "; ".join(said)),) if said else ()

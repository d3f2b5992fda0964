"""One lookup of tlsbench's own: the A, AAAA and HTTPS queries for a name (dnspython builds and
parses the messages), sent in one transport call, and what their answers say.

    queries = Questions("www.lab.test")          # before any clock: the messages are built here
    found = ask(transport, queries, ctx, timeout) # a Found: each query, the CNAME chain, the addresses

Everything read from an answer is bounded: the records kept per query (MAX_ANSWERS), the CNAME
chain (MAX_CHAIN names; a loop is caught), the message size (65,535 bytes, the most a transport can
carry). An answer that does not parse, or answers another question, is reported, never raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.svcbbase as svcb

from tlsbench.engine.dns.transport import Answer, DnsTransport
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.records.details import DnsQuery, DnsRecord, HttpsRecord
from tlsbench.engine.records.result import StageRecord

if TYPE_CHECKING:
    from tlsbench.engine.stages.context import StageContext

QTYPES = ("A", "AAAA", "HTTPS")
MAX_ANSWERS = 64  # records kept per query
MAX_CHAIN = 10  # names in a CNAME chain, the asked one included (unbound restarts at most 11 times)
EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: larger answers come truncated, then over TCP


class Questions:
    """The three queries for a name, built once (ids random, recursion desired, EDNS0)."""

    def __init__(self, name: str) -> None:
        self.name = name.rstrip(".") or "."
        self.messages = [dns.message.make_query(self.name + ".", qtype, use_edns=0, payload=EDNS_PAYLOAD)
                         for qtype in QTYPES]
        self.wire = [m.to_wire() for m in self.messages]


class Malformed(NamedTuple):
    qtype: str
    problem: str
    data: bytes


class Found(NamedTuple):
    """What one server's answers say about a name."""

    server: str
    queries: tuple[DnsQuery, ...]
    chain: tuple[str, ...]  # from the name asked to the one holding the addresses
    loop: bool  # the chain came back to a name already in it
    too_long: bool  # the chain passed MAX_CHAIN
    v4: tuple[str, ...]
    v6: tuple[str, ...]
    https: HttpsRecord | None
    malformed: tuple[Malformed, ...]
    connection: tuple[StageRecord, ...] = ()  # a DoT/DoH server's own connection
    findings: tuple[Finding, ...] = ()  # the transport's (its connection failed, its certificate ...)
    failure: str | None = None  # the transport's kind of failure: "timeout", "refused", "tls-verify", ...

    def query(self, qtype: str) -> DnsQuery | None:
        return next((q for q in self.queries if q.type == qtype), None)

    @property
    def answered(self) -> bool:
        """At least one query came back with an rcode."""
        return any(q.rcode is not None for q in self.queries)

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.v6 + self.v4


def ask(transport: DnsTransport, questions: Questions, ctx: StageContext, timeout: float) -> Found:
    """Send the three queries in one call; read what came back."""
    exchanged = transport.exchange(questions.wire, ctx, timeout)
    over_tcp: frozenset[int] = getattr(transport, "over_tcp", frozenset())
    queries: list[DnsQuery] = []
    parsed: dict[str, dns.message.Message] = {}
    malformed: list[Malformed] = []
    for i, (qtype, message, answer) in enumerate(zip(QTYPES, questions.messages, exchanged.answers)):
        over = "tcp" if i in over_tcp else transport.scheme
        query, reply, problem = _read(qtype, transport.server, message, answer, over)
        queries.append(query)
        if reply is not None:
            parsed[qtype] = reply
        if problem is not None and answer.answer is not None:
            malformed.append(Malformed(qtype, problem, answer.answer))
    chain, loop, too_long = _chain(questions.name, parsed)
    final = chain[-1]
    v4 = _addresses(parsed.get("A"), final, dns.rdatatype.A)
    v6 = _addresses(parsed.get("AAAA"), final, dns.rdatatype.AAAA)
    https = _https(parsed.get("HTTPS"), questions.name)
    return Found(transport.server, tuple(queries), chain, loop, too_long, v4, v6, https, tuple(malformed),
                 tuple(exchanged.connection), tuple(exchanged.findings), getattr(transport, "failure", None))


def _read(qtype: str, server: str, message: dns.message.Message, answer: Answer,
          over: str) -> tuple[DnsQuery, dns.message.Message | None, str | None]:
    query = DnsQuery(qtype, server, ms=round(answer.ms, 3), sent_ms=round(answer.sent_ms, 3), over=over,
                     error=answer.error)
    if answer.answer is None:
        return query._replace(error=answer.error or "no answer"), None, None
    try:
        reply = dns.message.from_wire(answer.answer, ignore_trailing=False)
    except (dns.exception.DNSException, ValueError, UnicodeError, IndexError) as exc:
        problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return query._replace(error=f"the answer does not parse ({problem})"), None, problem
    if not message.is_response(reply):
        problem = "it answers another question (its ID or question section differs from the query's)"
        return query._replace(error=problem), None, problem
    records: list[DnsRecord] = []
    total = 0
    for rrset in reply.answer:
        for rdata in rrset:
            total += 1
            if len(records) < MAX_ANSWERS:
                records.append(DnsRecord(rrset.name.to_text(omit_final_dot=True),
                                         dns.rdatatype.to_text(rrset.rdtype), int(rrset.ttl), rdata.to_text()))
    rcode = dns.rcode.to_text(reply.rcode())
    return query._replace(rcode=rcode, answers=tuple(records), more_answers=total - len(records),
                          error=None), reply, None


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def _chain(name: str, parsed: dict[str, dns.message.Message]) -> tuple[tuple[str, ...], bool, bool]:
    """The CNAME chain the first answer with one shows (A, then AAAA, then HTTPS): names in order."""
    chain = [name]
    for qtype in QTYPES:
        reply = parsed.get(qtype)
        if reply is None:
            continue
        cnames = {rrset.name: rrset[0].target for rrset in reply.answer
                  if rrset.rdtype == dns.rdatatype.CNAME and len(rrset)}
        if not cnames:
            continue
        current = _name(name)
        seen = {current}
        while current in cnames:
            current = cnames[current]
            chain.append(current.to_text(omit_final_dot=True))
            if current in seen:
                return tuple(chain), True, False
            if len(chain) > MAX_CHAIN:
                return tuple(chain), False, True
            seen.add(current)
        break
    return tuple(chain), False, False


def _addresses(reply: dns.message.Message | None, final: str, rdtype: int) -> tuple[str, ...]:
    """The addresses the answer gives the chain's last name (records for other names are not taken)."""
    if reply is None:
        return ()
    owner = _name(final)
    found: list[str] = []
    for rrset in reply.answer:
        if rrset.rdtype == rdtype and rrset.name == owner:
            found += [rdata.address for rdata in rrset if rdata.address not in found]
    return tuple(found[:MAX_ANSWERS])


def _https(reply: dns.message.Message | None, name: str) -> HttpsRecord | None:
    """The HTTPS record at the end of the chain the HTTPS answer shows, lowest priority first."""
    if reply is None:
        return None
    chain, _, _ = _chain(name, {"A": reply})
    owners = {_name(n) for n in chain}
    records = [(rrset.name, rdata) for rrset in reply.answer
               if rrset.rdtype == dns.rdatatype.HTTPS and rrset.name in owners for rdata in rrset]
    if not records:
        return None
    owner, best = min(records, key=lambda r: (r[1].priority == 0, r[1].priority))
    params = best.params
    alpn = params.get(svcb.ParamKey.ALPN)
    port = params.get(svcb.ParamKey.PORT)
    v4 = params.get(svcb.ParamKey.IPV4HINT)
    v6 = params.get(svcb.ParamKey.IPV6HINT)
    return HttpsRecord(
        owner.to_text(omit_final_dot=True), int(best.priority), best.target.to_text(),
        tuple(p.decode("utf-8", "backslashreplace") for p in alpn.ids) if alpn is not None else (),
        svcb.ParamKey.NO_DEFAULT_ALPN in params, int(port.port) if port is not None else None,
        svcb.ParamKey.ECH in params, tuple(v4.addresses) if v4 is not None else (),
        tuple(v6.addresses) if v6 is not None else ())

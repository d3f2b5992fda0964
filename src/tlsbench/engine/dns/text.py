"""The resolve stage's DNS detail in words: the waterfall line's tail, and the lines under it
(`probe -v`) and in the workbench's expanded row. Plain strings: network text is made visible by
whoever prints them (visible() in the CLI, safe_text in the workbench)."""

from __future__ import annotations

from typing import NamedTuple

from tlsbench.engine.records.details import DnsQuery, HttpsRecord, ResolveDetail

MAX_RECORD_LINES = 12  # per query, in text (the JSON has every record kept)


class Line(NamedTuple):
    label: str  # "" for a continuation
    text: str
    style: str = ""  # "" | "dim" | "red" | "yellow"


def resolver_words(detail: ResolveDetail) -> str:
    r = detail.resolver
    if r is None:
        return ""
    servers = ", ".join(r.servers)
    if r.kind == "servers":
        return f"tlsbench's own queries decide: {servers} ({r.source})"
    if r.servers:
        return f"system resolver (getaddrinfo decides); detail from {servers} ({r.source})"
    return f"system resolver (getaddrinfo decides); {r.note or 'no detail'}"


def https_words(https: HttpsRecord) -> str:
    parts = [f"priority {https.priority}" + (f" -> {https.target}" if https.target != "." else "")]
    if https.alpn:
        parts.append("alpn " + ",".join(https.alpn) + (" (no default)" if https.no_default_alpn else ""))
    if https.port is not None:
        parts.append(f"port {https.port}")
    if https.ech:
        parts.append("ech")
    if https.ipv4hint:
        parts.append("ipv4hint " + ",".join(https.ipv4hint))
    if https.ipv6hint:
        parts.append("ipv6hint " + ",".join(https.ipv6hint))
    return f"{https.name}: " + ", ".join(parts)


def summary_words(detail: ResolveDetail) -> str:
    """The waterfall line's tail: who decided, where the detail came from, the chain, the HTTPS hints."""
    r = detail.resolver
    if r is None:
        return ""
    if r.kind == "servers":
        answered = next((q.server for q in detail.queries if q.rcode is not None and q.type != "HTTPS"), None)
        out = f" from {answered or ', '.join(r.servers)}"
    elif r.servers:
        out = (f"; system resolver: getaddrinfo; detail from {', '.join(r.servers)} "
               f"({r.source.rsplit('/', 1)[-1] if r.source else ''})")
        rcodes = sorted({q.rcode for q in detail.queries if q.rcode and q.type != "HTTPS"})
        if not any(q.rcode for q in detail.queries):
            out += ": no answer"
        elif rcodes != ["NOERROR"]:
            out += ": " + "/".join(rcodes)
    elif r.source and "hosts" in r.source:
        out = f"; system resolver: getaddrinfo ({r.source})"
    else:
        out = "; system resolver: getaddrinfo"
    if detail.cname_chain:
        out += f"; CNAME {' > '.join(detail.cname_chain)}"
    if detail.https is not None and detail.https.alpn:
        out += f"; HTTPS {','.join(detail.https.alpn)}" + (" ech" if detail.https.ech else "")
    return out


def _query_line(q: DnsQuery, server: bool = True) -> Line:
    ms = f"{q.ms:.1f} ms" if q.ms is not None else "-"
    where = f"{q.server}  " if server else ""
    if q.rcode is None:
        return Line(q.type, f"{where}no answer ({q.error or '?'})  {ms}  {q.over}", "yellow")
    count = len(q.answers) + q.more_answers
    return Line(q.type, f"{where}{q.rcode}  {ms}  {q.over}  {count} record(s)",
                "" if q.rcode == "NOERROR" else "red")


def detail_lines(detail: ResolveDetail, narrow: bool = False) -> list[Line]:
    """Every line of the DNS detail: resolver, each query and its records, chain, HTTPS, connection.
    `narrow` (a panel, not a terminal line): a query's server is left out when the resolver line names
    the only one, and a record reads `name -> value` with its type and TTL after."""
    if detail.resolver is None:
        return []
    out = [Line("resolver", resolver_words(detail))]
    if detail.resolver.note and detail.resolver.servers:
        out.append(Line("", detail.resolver.note, "dim"))
    one_server = len({q.server for q in detail.queries}) <= 1
    for q in detail.queries:
        out.append(_query_line(q, server=not (narrow and one_server)))
        for rec in q.answers[:MAX_RECORD_LINES]:
            text = (f"  {rec.name} -> {rec.value} ({rec.type}, {rec.ttl} s)" if narrow
                    else f"  {rec.name}  {rec.ttl} s  {rec.type}  {rec.value}")
            out.append(Line("", text, "dim"))
        hidden = len(q.answers) - MAX_RECORD_LINES + q.more_answers
        if hidden > 0:
            out.append(Line("", f"  ... {hidden} more record(s)", "dim"))
    if detail.cname_chain:
        out.append(Line("cname chain", " -> ".join(detail.cname_chain)))
    if detail.https is not None:
        out.append(Line("https record", https_words(detail.https)))
    for record in detail.connection:
        out.append(Line(record.label or record.name, record.summary, "" if record.status == "ok" else "red"))
    return out

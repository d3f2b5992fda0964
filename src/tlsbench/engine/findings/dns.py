"""Findings from tlsbench's own DNS queries: what a server answered (its rcode, its records), how
its transport failed, and how its answer compares with the system resolver's.

The words come from the answer's bytes (the rcode, the records) or from the socket's errno, never
from an error message's wording. A server is named as it was asked (127.0.0.1:53, tls://h:853).
"""

from __future__ import annotations

import shlex

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding, Severity
from tlsbench.engine.suggestions import Change, Peer, Suggestion

_PIN = Change.of(pin="ADDR", placeholders=("ADDR",))


def _dig(server: str, name: str, qtype: str = "A") -> Peer:
    """dig (or kdig for DNS over TLS) asking the same server the same question."""
    from tlsbench.engine.dns.servers import parse_server

    try:
        parsed = parse_server(server)
    except Exception:  # a server named in a saved run: shown, never parsed again into advice
        return Peer("dig", f"dig {shlex.quote(name)} {qtype}")
    if parsed.scheme == "tls":
        return Peer("kdig", f"kdig +tls @{shlex.quote(parsed.host)} -p {parsed.port} {shlex.quote(name)} {qtype}")
    if parsed.scheme == "https":
        return Peer("kdig", f"kdig +https=/{parsed.url.split('/', 3)[-1]} {shlex.quote(name)} {qtype}")
    return Peer("dig", f"dig @{parsed.host} -p {parsed.port} {shlex.quote(name)} {qtype}")


def nxdomain(server: str, name: str, asked: str) -> Finding:
    """NXDOMAIN (rcode 3): the server says no such name exists (`asked`: the name in the question,
    which differs from `name` when a CNAME led there)."""
    via = f" (reached through a CNAME from {name})" if asked.rstrip(".").lower() != name.rstrip(".").lower() else ""
    return finding("dns-nxdomain", f"The DNS server {server} says {asked} does not exist",
                   f"{server} answered NXDOMAIN (rcode 3) for {asked}{via}: no such name exists in DNS as that "
                   "server sees it.",
                   Suggestion("Check the spelling, ask another server, or connect to a known address without "
                              "DNS: {0}.", (_PIN,), (_dig(server, name),)),
                   (Evidence("server", server), Evidence("rcode", "NXDOMAIN (3)"), Evidence("name", asked)))


def server_error(server: str, name: str, rcode: str, code: int, qtypes: str, decides: bool) -> Finding:
    """SERVFAIL, REFUSED, NOTIMP, FORMERR...: the server answered, with no answer."""
    severity: Severity = "error" if decides else "warning"
    why = {"SERVFAIL": "it could not get an answer itself (its upstream failed, or DNSSEC validation did)",
           "REFUSED": "its policy refuses this client or this question",
           "NOTIMP": "it does not implement this kind of query",
           "FORMERR": "it could not read the query"}.get(rcode, "it answered with an error code")
    more = "" if decides else " Other queries of the lookup were answered."
    return finding("dns-server-error", f"The DNS server {server} answered {rcode} for {name} ({qtypes})",
                   f"{server} answered {rcode} (rcode {code}): {why}.{more}",
                   Suggestion("Ask another server (--dns-servers), or check that server's logs.", (),
                              (_dig(server, name, qtypes.split(",")[0]),)),
                   (Evidence("server", server), Evidence("rcode", f"{rcode} ({code})"), Evidence("queries", qtypes)),
                   severity=severity)


def no_address(server: str, name: str, final: str, family: int | None = None, others: tuple[str, ...] = ()) -> Finding:
    via = f" (the CNAME chain ends at {final})" if final.rstrip(".").lower() != name.rstrip(".").lower() else ""
    if family and others:  # -4 or -6, and only the other family has addresses
        qtype = "A" if family == 4 else "AAAA"
        return finding("dns-no-address", f"{name} has no IPv{family} address at {server}",
                       f"{server} answered the {qtype} query with no address for {final}{via}; it has "
                       f"{', '.join(others)}, which -{family} leaves out.",
                       Suggestion("Allow both IP versions, or connect to a known address: {0}.", (_PIN,),
                                  (_dig(server, name, qtype),)),
                       (Evidence("server", server), Evidence("name", final), Evidence("other family", ", ".join(others))))
    return finding("dns-no-address", f"{name} has no address record at {server}",
                   f"{server} answered NOERROR to both the A and the AAAA query with no address for {final}{via}: "
                   "the name exists, without an IPv4 or IPv6 address.",
                   Suggestion("Check the zone's records, or connect to a known address without DNS: {0}.", (_PIN,),
                              (_dig(server, name),)),
                   (Evidence("server", server), Evidence("name", final)))


def server_unreachable(server: str, kind: str, words: str, decides: bool = True) -> Finding:
    """`kind` from plain.failure_words: "timeout" | "refused" | "unreachable" | "failed"."""
    severity: Severity = "error" if decides else "warning"
    if kind == "timeout":
        return finding("dns-server-timeout", f"The DNS server {server} did not answer",
                       f"No answer came from {server}: {words}. The server may be down, filtered, or not a DNS "
                       "server.",
                       Suggestion("Check the address and port, or ask another server (--dns-servers); {timeout} "
                                  "bounds each query."),
                       (Evidence("server", server), Evidence("waited", words)), severity=severity)
    return finding("dns-server-unreachable", f"The DNS server {server} cannot be reached",
                   f"Asking {server} failed: {words}.",
                   Suggestion("Check the address and port, or ask another server (--dns-servers)."),
                   (Evidence("server", server), Evidence("error", words)), severity=severity)


def server_cert_failed(server: str, code: int | None, message: str | None, verify: str) -> Finding:
    trust = "the CA file given (--cafile)" if verify == "cafile" else "the system's trust store"
    return finding("dns-server-cert-failed", f"The DNS-over-TLS server {server}'s certificate did not verify",
                   f"{server}'s certificate did not verify against {trust}: {message or 'no reason given'} "
                   f"(verify code {code}). DNS answers from a server that is not who it says would decide the "
                   "addresses, so the lookup stops.",
                   Suggestion("Trust the CA that issued the DNS server's certificate: {0}; check the name in "
                              "tls://NAME is one its certificate holds.",
                              (Change.of(cafile="FILE", verify="cafile", placeholders=("FILE",)),)),
                   (Evidence("server", server), Evidence("verify code", f"{code}: {message}")))


def server_tls_failed(server: str, words: str, reason: str | None) -> Finding:
    return finding("dns-server-tls-failed", f"The TLS handshake with the DNS server {server} failed",
                   f"{server} did not complete a TLS handshake: {words}. A DNS-over-TLS port (853) speaks "
                   "TLS at once; a plain DNS port does not.",
                   Suggestion("Check the port: tls:// is for DNS over TLS (853); a plain DNS server is ADDR[:PORT]."),
                   (Evidence("server", server), Evidence("TLS error", reason or words)))


def answer_malformed(server: str, qtype: str, problem: str, data: bytes, decides: bool) -> Finding:
    severity: Severity = "error" if decides else "warning"
    return finding("dns-answer-malformed", f"The DNS server {server}'s answer to the {qtype} query does not parse",
                   f"The answer from {server} ({len(data)} bytes) is not a well-formed DNS message for the question "
                   f"asked: {problem}.",
                   Suggestion("Check that the server is a DNS server; ask another one (--dns-servers)."),
                   (Evidence("server", server), Evidence("first bytes", data[:48].hex(" "))), severity=severity)


def cname_chain(server: str, chain: tuple[str, ...], loop: bool, limit: int) -> Finding:
    shown = " -> ".join(chain)
    title = "A CNAME chain loops" if loop else f"A CNAME chain is longer than {limit} names"
    why = ("it comes back to a name already in the chain" if loop else
           f"resolvers give up after a bound (tlsbench's is {limit} names)")
    return finding("dns-cname-chain", f"{title} ({chain[0]})",
                   f"{server} answered a CNAME chain that {why}: {shown}.",
                   Suggestion("Fix the CNAME records of the zone."),
                   (Evidence("server", server), Evidence("chain", shown)))


def resolvers_disagree(name: str, system: tuple[str, ...], server: str, ours: tuple[str, ...]) -> Finding:
    return finding("dns-resolvers-disagree", f"The system resolver and {server} give {name} different addresses",
                   f"getaddrinfo (the system resolver, which decided) gave {', '.join(system)}; tlsbench's own "
                   f"queries to {server} (/etc/resolv.conf) gave {', '.join(ours) or 'none'}: not one address in "
                   "common. Another source of the system's (nsswitch.conf: files, mdns, a cache) or a change "
                   "between the two lookups answered differently.",
                   Suggestion("Compare with getent, and with the server itself.", (),
                              (Peer("getent", f"getent ahosts {shlex.quote(name)}"), _dig(server, name))),
                   (Evidence("system resolver", ", ".join(system)), Evidence(server, ", ".join(ours) or "none")))


def https_h3(name: str, owner: str, alpn: tuple[str, ...], port: int | None) -> Finding:
    where = f" on port {port}" if port else ""
    return finding("dns-https-h3", f"{name}'s HTTPS record offers HTTP/3",
                   f"The HTTPS (SVCB) record of {owner} lists ALPN {', '.join(alpn)}{where}: browsers may connect "
                   "over QUIC (HTTP/3) rather than the TCP connection tlsbench tests.",
                   "",
                   (Evidence("name", owner), Evidence("alpn", ",".join(alpn))))

"""How a DNS message reaches a server and its answer comes back.

The resolve stage builds the queries (A, AAAA, HTTPS for one name) and reads the answers; a
transport only moves wire-format messages (RFC 1035): UDP (TCP on truncation, RFC 7766), TLS
(RFC 7858, two-byte length prefix on one stream), HTTPS (RFC 8484, over HTTP/2 on a connection of
tlsbench's own, run as a nested plan inside the resolve stage, following the run's proxy route).

A transport is made before any clock starts (`make_transport`, from the resolve stage's
`__init__`: contexts, CA files and a nested plan prepared there) and carries all the queries of a
lookup in one call, over one connection where it has connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol, Sequence

if TYPE_CHECKING:
    from tlsbench.engine.findings.model import Finding
    from tlsbench.engine.records.result import StageRecord
    from tlsbench.engine.stages.context import StageContext


class Answer(NamedTuple):
    """One query's fate on the wire."""

    query: bytes  # the message sent (wire format)
    answer: bytes | None  # the message received; None when none came
    sent_ms: float  # when it was sent, ms since the run began
    ms: float  # from sent to answered (or to giving up)
    error: str | None = None  # "timed out after 5 s", "connection refused", an HTTP status, ...


class Exchanged(NamedTuple):
    """What one transport call gives back."""

    answers: tuple[Answer, ...]  # one per query, in the order given
    # The transport's own connection when it is a nested run (DNS over HTTPS): its stage records
    # (each with `parent`) and the findings they raised, for the resolve stage to show.
    connection: tuple[StageRecord, ...] = ()
    findings: tuple[Finding, ...] = ()


class DnsTransport(Protocol):
    """A way to one DNS server."""

    scheme: str  # "udp" | "tls" | "https"
    server: str  # as shown and in JSON: "127.0.0.53:53", "tls://dns.lab.test:853", "https://dns.lab.test/dns-query"

    def exchange(self, queries: Sequence[bytes], ctx: StageContext, timeout: float) -> Exchanged:
        """Send every query, collect every answer; never raises for the network (errors go in the
        Answer), only `Cancelled`. Call between ctx.begin() and ctx.end()."""
        ...

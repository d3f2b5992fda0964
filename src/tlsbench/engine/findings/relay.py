"""A relay's Nagle against the client's delayed ACK, seen in the handshake's message trace.

`relay-delayed-ack` (info, tls stage): through a proxy hop, the server's flight arrives in two parts
with a pause of about a delayed-ACK timer between them, and tlsbench sent nothing in between (so the
server had nothing to wait for). A direct connection to the same server shows no such pause: a TLS
server writes a flight back to back.

Why it happens: a relay (a SOCKS or HTTP CONNECT proxy) copies what it reads as it reads it. It
passes on the first part of the flight in a small segment; when the next part comes, Nagle's
algorithm on the relay's socket holds it until that small segment is acknowledged; and the client,
having nothing to send, delays its ACK (40 ms minimum on Linux, up to 200 ms elsewhere). Every client
through this relay waits the same: curl shows it in its time_appconnect.

Pure function of the trace (no I/O): the thresholds below are the delayed-ACK timer's range.
"""

from __future__ import annotations

from typing import Sequence

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.result import TlsMessage
from tlsbench.engine.suggestions import Peer, Suggestion

# The delayed-ACK timer: Linux waits at least 40 ms (TCP_DELACK_MIN), Windows and macOS up to 200 ms;
# a little below 40 allows for the timer's tick, a little above 200 for a busy relay.
DELAYED_ACK_MIN_MS = 35.0
DELAYED_ACK_MAX_MS = 250.0
DEFAULT_MSS = 536  # the smallest segment TCP must accept, when TCP_INFO gives none


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def largest_gap(messages: Sequence[TlsMessage]) -> tuple[float, int] | None:
    """The longest pause between two received messages with nothing sent between them, as (ms,
    index of the message after the pause); None when no flight has two messages."""
    best: tuple[float, int] | None = None
    for i in range(1, len(messages)):
        before, after = messages[i - 1], messages[i]
        if before.direction != "received" or after.direction != "received":
            continue
        gap = after.at_ms - before.at_ms
        if best is None or gap > best[0]:
            best = (gap, i)
    return best


def relay_delayed_ack(messages: Sequence[TlsMessage], *, relay: str, target: str, mss: int | None = None,
                      curl: str | None = None) -> Finding | None:
    """`relay-delayed-ack` for a handshake through `relay` whose server flight paused for about a
    delayed-ACK timer after a small first part, or None. `curl`: the same connection as a curl command."""
    found = largest_gap(messages)
    if found is None:
        return None
    gap, index = found
    if not DELAYED_ACK_MIN_MS <= gap <= DELAYED_ACK_MAX_MS:
        return None
    start = index - 1
    while start > 0 and messages[start - 1].direction == "received":
        start -= 1
    before = messages[start:index]
    size = sum(m.length for m in before)
    segment = mss or DEFAULT_MSS
    if size >= segment:
        return None  # a full segment is sent at once: Nagle holds only a small one
    names = ", ".join(m.name for m in before)
    evidence = [Evidence("pause", f"{_ms(gap)}: {before[-1].name} at +{before[-1].at_ms:.3f} ms, "
                                  f"{messages[index].name} at +{messages[index].at_ms:.3f} ms (from the run's start)"),
                Evidence("before the pause", f"{names}: {size} bytes, less than one segment (MSS {segment})"),
                Evidence("sent in between", "nothing"),
                Evidence("relay", relay),
                Evidence("delayed-ACK timer", f"{DELAYED_ACK_MIN_MS:g}–{DELAYED_ACK_MAX_MS:g} ms (Linux: 40 ms at least)")]
    peers = (Peer("curl", curl),) if curl else ()
    return finding(
        "relay-delayed-ack",
        f"A {_ms(gap)} pause in the server's flight through {relay}: the relay's Nagle against this side's delayed ACK",
        f"The server's answer came in two parts {_ms(gap)} apart ({names}, then {messages[index].name}), and "
        f"tlsbench sent nothing in between, so the server was not waiting for it. Through a relay this is "
        f"the known pattern: the relay ({relay}) passed on the first {size} bytes in a small segment; Nagle's "
        "algorithm on its socket then held the next part until that segment was acknowledged, and this side, "
        "with nothing to send, delayed its ACK (40 ms at least on Linux). A server writes its flight back to "
        f"back, so connected directly, {target} should show no such pause; curl through the same relay sees "
        "the same wait (in its time_appconnect).",
        Suggestion("Nothing is wrong with the server. The relay can send at once with TCP_NODELAY on its "
                   "sockets (many proxies have a setting for it); compare with a direct connection, or with "
                   "curl -w '%{time_appconnect}' through the same proxy.", (), peers),
        evidence, origin="proxy")

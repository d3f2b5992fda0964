"""The server's listen backlog, seen from the client: a SYN that had to be sent again, a hello answered late.

Two findings, each from numbers the run already has (pure functions, no I/O):

* `tcp-syn-retransmitted` (tcp stage): the connect succeeded, but only after the SYN was sent
  more than once. Evidence, best first: TCP_INFO's `tcpi_total_retrans` read right after the
  connect (nothing but the SYN can have been retransmitted by then); where the OS gives no
  counter, a connect of at least SYN_RETRY_MS (Linux's first SYN retry comes after 1 s) on a
  path whose measured RTT is under LOW_RTT_MS: such a path answers a SYN in far less than a
  second, so the second was spent waiting for a retry.
* `accept-queue-wait` (tls stage): the connect was fast (under FAST_CONNECT_MS, so the path is
  quick and the kernel answered the SYN at once), yet the server's first TLS byte came at least
  max(QUEUE_WAIT_FLOOR_MS, QUEUE_WAIT_FACTOR x the connect time) after the ClientHello. The
  kernel completes a connection and keeps the client's bytes while it waits in the accept
  queue; the server application only reads them once it calls accept().

Why these numbers: a TLS server's own work before its ServerHello is a few milliseconds (an RSA
or ECDSA signature, a key share); 200 ms is two orders of magnitude more, and far below what a
person notices as "hanging". The factor 20 keeps long paths from firing (a connect of 30 ms
needs a 600 ms wait). The connect time stands for the path's RTT: it is one SYN / SYN-ACK round
trip. Both are said in the explanation with the numbers seen.
"""

from __future__ import annotations

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.result import TcpInfo
from tlsbench.engine.suggestions import Peer, Suggestion

SYN_RETRY_MS = 1000.0  # Linux's initial SYN retransmission timeout (TCP_TIMEOUT_INIT, RFC 6298: 1 s)
LOW_RTT_MS = 100.0  # a path this quick answers a SYN well before the first retry
FAST_CONNECT_MS = 100.0  # a connect under this is "fast": the kernel answered the SYN at once
QUEUE_WAIT_FLOOR_MS = 200.0  # the least wait for the server's first byte that counts as long
QUEUE_WAIT_FACTOR = 20.0  # ... and at least this many times the connect time


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def _ss_peer(port: int | None) -> tuple[Peer, ...]:
    if port is None:
        return (Peer("ss", "ss -ltn"), Peer("nstat", "nstat -az TcpExtListenOverflows TcpExtListenDrops"))
    return (Peer("ss", f"ss -ltn 'sport = :{port}'"),
            Peer("nstat", "nstat -az TcpExtListenOverflows TcpExtListenDrops"))


def syn_retransmitted(connect_ms: float, info: TcpInfo | None, *, where: str, role: str = "target",
                      port: int | None = None) -> Finding | None:
    """`tcp-syn-retransmitted` for a connect that succeeded after a SYN retry, or None.

    `connect_ms`: the winning attempt's connect time; `info`: TCP_INFO read right after it.
    """
    retrans = info.total_retrans if info is not None else 0
    rtt = info.rtt_ms if info is not None else None
    by_counter = retrans > 0
    by_time = (not by_counter and rtt is not None and connect_ms >= SYN_RETRY_MS and rtt < LOW_RTT_MS)
    if not (by_counter or by_time):
        return None
    who = "the proxy" if role == "proxy" else where
    if by_counter:
        sent = f"the SYN went out {retrans + 1} times"
        basis = (f"TCP_INFO counts {retrans} retransmission(s) right after the connect, when only the SYN "
                 "can have been sent again")
    else:
        sent = "the SYN was most likely sent again"
        basis = (f"the connect took {_ms(connect_ms)} (at least {SYN_RETRY_MS / 1000:g} s, the first SYN retry) "
                 f"while the path's measured RTT is {_ms(rtt or 0.0)} (under {LOW_RTT_MS:g} ms)")
    evidence = [Evidence("connect time", _ms(connect_ms))]
    if info is not None:
        evidence.append(Evidence("TCP_INFO", f"tcpi_total_retrans {info.total_retrans}, tcpi_rtt {info.rtt_ms:.3f} ms, "
                                             f"tcpi_rto {_ms(info.rto_ms)}"))
    evidence.append(Evidence("SYN retry schedule (Linux)", "1 s after the first SYN, then 3 s, 7 s, 15 s … "
                                                           "(the wait doubles each time)"))
    return finding(
        "tcp-syn-retransmitted",
        f"The connection to {who} needed a SYN retransmission ({_ms(connect_ms)})",
        f"The connection was made, but {sent}: {basis}. A SYN is sent again when no SYN-ACK came back within "
        "the retransmission timeout (1 s on Linux, then doubling). On a quick path the usual cause is the "
        "server's accept queue: it holds at most the listen backlog of connections the application has not "
        "accepted yet (Linux lets backlog + 1 wait), and while it is full the server's kernel drops new SYNs "
        "without a word. The other cause is a filter on the way (a firewall, a rate limit, a SYN-flood "
        "protection) dropping SYNs, or loss on the path.",
        Suggestion("On the server, look at the listener's queue: ss -ltn shows Recv-Q (connections waiting to be "
                   "accepted) against Send-Q (the backlog); ListenOverflows/ListenDrops count dropped SYNs. A "
                   "server that accepts too slowly needs more workers or a larger backlog (listen(), capped by "
                   "net.core.somaxconn); otherwise check the filters between here and there.",
                   (), _ss_peer(port)),
        evidence, origin="peer")


def accept_queue_wait(connect_ms: float, hello_sent_ms: float, first_byte_ms: float, *,
                      where: str, port: int | None = None, rtt_ms: float | None = None) -> Finding | None:
    """`accept-queue-wait` when a fast connect was followed by a long wait for the server's first byte.

    Times are the run's milliseconds: `hello_sent_ms` when the ClientHello went out, `first_byte_ms`
    when the server's first handshake bytes were read.
    """
    wait = first_byte_ms - hello_sent_ms
    threshold = max(QUEUE_WAIT_FLOOR_MS, QUEUE_WAIT_FACTOR * connect_ms)
    if connect_ms >= FAST_CONNECT_MS or wait < threshold:
        return None
    evidence = [Evidence("connect time", _ms(connect_ms)),
                Evidence("ClientHello to the server's first byte", _ms(wait)),
                Evidence("threshold", f"max({QUEUE_WAIT_FLOOR_MS:g} ms, {QUEUE_WAIT_FACTOR:g} x connect time) "
                                      f"= {_ms(threshold)}")]
    if rtt_ms is not None:
        evidence.append(Evidence("TCP_INFO rtt", f"{rtt_ms:.3f} ms"))
    return finding(
        "accept-queue-wait",
        f"{where} took {_ms(wait)} to answer the ClientHello after a {_ms(connect_ms)} connect",
        f"The TCP connection was made in {_ms(connect_ms)}, so the path is quick and the server's kernel "
        f"answered at once, yet the server's first TLS byte came {_ms(wait)} after the ClientHello (tlsbench "
        f"calls a wait long from max({QUEUE_WAIT_FLOOR_MS:g} ms, {QUEUE_WAIT_FACTOR:g} x the connect time)). "
        "The kernel completes a connection on its own and keeps it, with the client's first bytes, in the "
        "listener's accept queue until the application calls accept(): a server busy with other clients (one "
        "at a time, or too few workers) leaves new connections waiting there. A server slow to start a "
        "handshake (an overloaded CPU, a slow certificate or key lookup) looks the same from here.",
        Suggestion("On the server, watch the listener's queue while clients connect (ss -ltn: Recv-Q waiting "
                   "against the backlog in Send-Q); if connections wait, add workers or accept faster. tlsbench "
                   "probe --count N --concurrency C shows whether the wait grows with concurrent clients.",
                   (), _ss_peer(port)),
        evidence)

"""What a failed QUIC attempt means, from what came back on the UDP socket: nothing, an ICMP error, a
Version Negotiation packet, or a CONNECTION_CLOSE with its code (a TLS alert inside CRYPTO_ERROR
named). With --http3 the TCP attempt stands beside it, so these are warnings there; with
--http3-only they are the run's error. Alt-Svc (what the TCP response advertised) is weighed in
the app stage, which sees it."""

from __future__ import annotations

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding, Severity
from tlsbench.engine.quic.session import Failure
from tlsbench.engine.quic.wire import alert_of, error_name, version_name
from tlsbench.engine.tls.tlsmsg import ALERT_MEANINGS

_TCP_TOO = " The TCP attempt runs beside it, as a browser falls back."


def failure_finding(failure: Failure, where: str, mode: str, sent: int, timeout: float,
                    offered: tuple[str, ...]) -> Finding:
    """The finding for how the QUIC attempt to `where` (ADDR:PORT) ended without a handshake."""
    severity: Severity = "warning" if mode == "race" else "error"
    after = _TCP_TOO if mode == "race" else ""
    if failure.kind == "no-answer":
        return finding("quic-no-answer", f"No answer over UDP from {where} in {timeout:g} s",
                       f"{sent} QUIC datagram(s) went to {where}/udp (Initial packets, retransmitted) and nothing came "
                       "back, not even an ICMP error: UDP to that port is dropped on the way (a firewall or network "
                       "that passes TCP only), or the host drops it silently where nothing serves QUIC." + after,
                       "Check whether the server serves HTTP/3 on this port (its Alt-Svc header over TCP says so) "
                       "and whether UDP to it is allowed on this network.",
                       (Evidence("datagrams sent", str(sent)), Evidence("answer", "none before the deadline")),
                       severity=severity)
    if failure.kind == "stalled":
        return finding("quic-handshake-timeout", f"The QUIC handshake with {where} did not complete in {timeout:g} s",
                       f"The server answered the Initial, then the handshake did not complete: {failure.words}. "
                       f"{sent} datagram(s) went out. Packets are lost on the way (large QUIC packets dropped: a path "
                       "MTU problem), or the server stalled." + after,
                       "Compare with the TCP handshake to the same server; a path that drops large UDP datagrams "
                       "shows here and not over TCP.",
                       (Evidence("datagrams sent", str(sent)), Evidence("answer", failure.words)), severity=severity)
    if failure.kind == "icmp":
        return finding("quic-port-unreachable", f"{where} answered QUIC with ICMP port unreachable",
                       f"The host at {where} (or a router for it) answered the QUIC Initial with an ICMP port "
                       "unreachable: nothing listens on that UDP port. The server does not serve HTTP/3 here "
                       "(a TCP-only TLS server), or serves it on another port (its Alt-Svc header names it)." + after,
                       "Look at the Alt-Svc header of the HTTPS response over TCP for the port HTTP/3 is on.",
                       (Evidence("socket error", failure.words),), severity=severity)
    if failure.kind == "version-negotiation" and failure.negotiation is not None:
        theirs = ", ".join(version_name(v) for v in failure.negotiation.versions) or "none"
        return finding("quic-version-negotiation", "The server speaks no QUIC version tlsbench offers",
                       f"The server answered the Initial with a Version Negotiation packet listing {theirs}; tlsbench "
                       f"(aioquic) speaks {', '.join(offered)}. No version in common: no QUIC connection." + after,
                       "The server's QUIC stack is older or newer than the client's; a current client speaks QUICv1.",
                       (Evidence("server's versions", theirs), Evidence("offered", ", ".join(offered))),
                       severity=severity)
    closed = failure.closed
    if closed is not None:
        name = error_name(closed.code, closed.application)
        alert = alert_of(closed.code) if not closed.application else None
        meaning = f": {ALERT_MEANINGS[alert]}" if alert in ALERT_MEANINGS else ""
        evidence = [Evidence("CONNECTION_CLOSE", name), Evidence("closed by", closed.by)]
        if closed.reason:
            evidence.append(Evidence("reason phrase", closed.reason))
        if closed.by == "peer":
            words = (f"The server closed the QUIC connection during the handshake with {name}{meaning}."
                     + (f" Its reason: {closed.reason!r}." if closed.reason else ""))
        else:
            words = (f"tlsbench's QUIC stack (aioquic) closed the connection with {name}: it refused what the "
                     f"server sent" + (f" ({closed.reason})" if closed.reason else "") + ".")
        hint = ("ALPN h3 is what HTTP/3 needs: the server serves another protocol over QUIC."
                if alert == "no_application_protocol" else
                "The server may not serve this name over QUIC (SNI), or refuses the handshake's parameters: "
                "compare with the TCP handshake to the same name." if closed.by == "peer" else
                "Compare with the TCP handshake to the same name.")
        return finding("quic-handshake-failed", f"QUIC handshake closed: {name}", words + after, hint, evidence,
                       severity=severity)
    return finding("quic-failed", "The QUIC attempt failed", f"{failure.words or 'an error'} ended it." + after,
                   "", (Evidence("error", failure.words),), severity=severity,
                   origin="local" if failure.kind == "socket" else "network")

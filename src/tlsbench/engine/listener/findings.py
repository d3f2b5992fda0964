"""Findings the listener raises about what a client did (made through engine/findings/catalogue.py).

Their suggestions are for whoever runs the client, so they carry no changes to tlsbench's own
connection; their peers name the listener's real address and, for TLS, the certificate to trust.

Every title and explanation is derived from the evidence it cites: the record header's declared
length and the bytes that arrived, the request line as received, the alert's own bytes, the
deadline that ended the client. A ClientHello that did not arrive whole is "cut short", never "no
SNI": what it lacks cannot be known.
"""

from __future__ import annotations

import shlex
from typing import NamedTuple

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.listener.alerts import CERTIFICATE_REJECTED
from tlsbench.engine.listener.clienthello import ClientHello, HelloReader, extension_name, size
from tlsbench.engine.listener.deadlines import deadline_words
from tlsbench.engine.listener.sniff import Sniffed, describe_undecided
from tlsbench.engine.suggestions import Peer, Suggestion, curl, hostport, literal

FIRST_BYTES_SHOWN = 32


def first_bytes(data: bytes) -> Evidence:
    more = f" … ({size(len(data))} in all)" if len(data) > FIRST_BYTES_SHOWN else ""
    return Evidence("first bytes", data[:FIRST_BYTES_SHOWN].hex(" ") + more)


def hello_evidence(hello: ClientHello) -> Evidence:
    whole = "whole" if hello.arrived_whole else "cut short"
    records = f" in {hello.records} record{'s' if hello.records != 1 else ''}" if hello.records else ""
    return Evidence("ClientHello", f"{size(hello.length)}{records}, {whole}")


def http_on_tls_port(sniffed: Sniffed, data: bytes, port: int, host: str = "127.0.0.1",
                     cert: str | None = None) -> Finding:
    line = sniffed.request_line or ""
    url = f"https://{hostport(host, port)}/"
    trust = ("--cacert", shlex.quote(cert)) if cert else ()
    if sniffed.kind == "connect":
        title = "A proxy CONNECT request arrived on the TLS port"
        explanation = (f"The client sent 'CONNECT {sniffed.target or '?'}' in plain text where a TLS ClientHello "
                       "was expected: it treats this listener as an HTTP proxy. A TLS listener is not a proxy, "
                       "and the text arrived unencrypted.")
        suggestion = ("Point the client's proxy setting at a real proxy, or connect to this listener directly "
                      f"with {url}.")
    elif sniffed.kind == "h2":
        title = "An HTTP/2 clear-text preface arrived on the TLS port"
        explanation = ("The client opened with 'PRI * HTTP/2.0', the preface of HTTP/2 without TLS (h2c, "
                       "'prior knowledge'), where a TLS ClientHello was expected. HTTP/2 over TLS starts with "
                       "a ClientHello and picks h2 through ALPN.")
        suggestion = (f"Use {url} (curl negotiates h2 by ALPN there), or drop "
                      "--http2-prior-knowledge for this port.")
    else:
        title = f"A plain HTTP {sniffed.method or ''} request arrived on the TLS port".replace("  ", " ")
        explanation = ("The client sent an HTTP request in plain text instead of starting with a TLS ClientHello. "
                       "A TLS server can only answer with an error (OpenSSL calls it 'http request'), and the "
                       "client usually shows a reset or an empty reply. Typically the URL says http:// where it "
                       "should say https://.")
        suggestion = f"Use {url} (or talk to a plain listener for http://)."
    evidence = [Evidence("request line", line), first_bytes(data)]
    return finding("http-on-tls-port", title, explanation,
                   Suggestion(literal(suggestion), (), (curl(host, port, *trust),)), evidence)


def tls_on_plain_port(data: bytes, hello: ClientHello | None, port: int | None = None,
                      host: str = "127.0.0.1") -> Finding:
    evidence = [first_bytes(data)]
    if hello is not None:
        evidence.append(hello_evidence(hello))
        if hello.sni:
            evidence.append(Evidence("sni", hello.sni))
    peers = (curl(host, port, scheme="http"),) if port else ()
    return finding(
        "tls-on-plain-port", "A TLS ClientHello arrived on a plain listener",
        ("The client started a TLS handshake (bytes 16 03 ..) but this listener speaks plain TCP. "
         "Whatever it answers in plain text the client reads as a broken TLS record: it reports "
         "'wrong version number' or 'packet length too long'."),
        Suggestion("Use http:// (or no TLS) for this port, or start the listener with TLS.", (), peers),
        evidence)


def client_aborted_handshake(alert: str | None, detail: str, *, alert_bytes: bytes | None = None,
                             how: str | None = None, received: int = 0, sent: int = 0, port: int | None = None,
                             host: str = "127.0.0.1", cert: str | None = None) -> Finding:
    """The client ended the handshake: with an alert (named from its bytes), a reset, or a close."""
    peers: tuple[Peer, ...] = ()
    if alert in CERTIFICATE_REJECTED:
        title = f"The client rejected the certificate (alert {alert})"
        explanation = (f"The client ended the handshake with the alert '{alert}': it does not trust the "
                       "certificate this listener sent (for a self-signed one, 'unknown_ca' is expected "
                       "until the client is told to trust it).")
        suggestion = "Give the client this listener's certificate to trust."
        if port and cert:
            peers = (curl(host, port, "--cacert", shlex.quote(cert)),
                     Peer("tlsbench", f"tlsbench probe {shlex.quote(hostport(host, port))} --cafile "
                                      f"{shlex.quote(cert)}"))
    elif alert:
        title = f"The client aborted the handshake (alert {alert})"
        explanation = f"The client ended the handshake with the alert '{alert}'."
        suggestion = "Compare what the client offered (its ClientHello) with what this listener accepts."
    else:
        doing = "reset the connection" if how == "reset" else "closed the connection"
        title = f"The client {doing} during the handshake"
        after = (f" after the listener's {size(sent)} of handshake" if sent else
                 " before the listener answered")
        explanation = (f"The client {doing}{after}, without sending an alert. Some clients do that when they "
                       "reject the certificate or the protocol; a client killed mid-handshake does it too.")
        suggestion = "Look at the client's own error message; it says why it gave up."
    evidence = []
    if alert:
        raw = f" (bytes {alert_bytes.hex(' ')})" if alert_bytes else ""
        evidence.append(Evidence("alert", alert))
        if raw:
            evidence.append(Evidence("alert received", f"{alert}{raw}"))
    elif how:
        evidence.append(Evidence("ended by", "a reset (RST)" if how == "reset" else "the client's close (FIN)"))
    evidence.append(Evidence("detail", detail))
    evidence.append(Evidence("bytes", f"{received:,} in, {sent:,} out"))
    return finding("client-aborted-handshake", title, explanation, Suggestion(literal(suggestion), (), peers),
                   evidence)


def no_sni_from_client(hello: ClientHello) -> Finding:
    """Only for a ClientHello that arrived whole and parsed: its extensions prove the absence."""
    names = ", ".join(extension_name(e) for e in hello.extensions) or "none"
    return finding(
        "no-sni-from-client", "The client sent no SNI",
        (f"The ClientHello arrived whole ({size(hello.length)}) and carries no server_name "
         "extension: the client did not say which host it wants. Clients leave it out when they "
         "connect to an IP address or are told not to send it; a server hosting several names then "
         "serves its default certificate, and some refuse the handshake."),
        "Connect by host name, or have the client send one (openssl s_client -servername NAME; tlsbench: "
        "the SNI setting) when the server needs it.",
        (hello_evidence(hello), Evidence("extensions", f"{names} (no server_name)"),
         Evidence("versions offered", ", ".join(hello.versions))))


def hello_findings(hello: ClientHello | None, data: bytes) -> list[Finding]:
    """What a ClientHello that arrived whole says about the client (on a TLS port), from its bytes."""
    if hello is None or not hello.arrived_whole:
        return []  # cut short: judged by client_hello_cut_short() once the client is gone
    if hello.problem:
        return [client_hello_malformed(hello.problem, data, hello)]
    if hello.complete and not hello.sni_extension:
        return [no_sni_from_client(hello)]
    return []


def client_hello_cut_short(reader: HelloReader, ending: str, ended_by: str) -> Finding:
    """The client stopped before its ClientHello was whole: say how much came and what ended it."""
    hello = reader.hello()
    progress = reader.progress()
    known = ""
    if hello is not None and hello.sni:
        known = " The part that arrived names the server (SNI) it wants."
    elif hello is not None and not hello.sni_extension:
        known = " The server_name extension, if the client sent one, had not arrived yet."
    explanation = (f"The client began a TLS handshake, but its ClientHello was not whole when {ending}: "
                   f"{progress} arrived. Nothing can be said of what the rest would have offered.{known}")
    if ended_by in ("idle", "handshake", "total"):
        suggestion = ("A client (or a path) this slow: look for a middlebox that holds or fragments packets; "
                      "if the client is legitimately slow, raise --client-timeout or --handshake-timeout.")
    else:
        suggestion = ("The client gave up mid-hello: look at its own log. A path that drops large packets "
                      "(an MTU problem) can cut hellos larger than one packet.")
    evidence = [Evidence("ClientHello", f"cut short: {progress}"), Evidence("ended by", ending),
                first_bytes(bytes(reader.data))]
    if hello is not None and hello.sni:
        evidence.append(Evidence("sni (in the part that arrived)", hello.sni))
    return finding("client-hello-cut-short", f"The ClientHello was cut short: {progress} arrived", explanation,
                   suggestion, evidence)


def client_hello_malformed(problem: str, data: bytes, hello: ClientHello | None = None) -> Finding:
    evidence = [Evidence("problem", problem), first_bytes(data)]
    if hello is not None:
        evidence.append(hello_evidence(hello))
    return finding(
        "client-hello-malformed", f"The client's TLS handshake is malformed: {problem}",
        ("The client's first bytes start like a TLS handshake but break its rules, so no TLS "
         f"server can accept them: {problem}. A fuzzer, a scanner or a broken TLS stack sends this."),
        "Look at the client's TLS library and version; compare with a known-good client such as curl.", evidence)


def not_tls_from_client(sniffed: Sniffed, data: bytes, ending: str | None = None) -> Finding:
    """The first bytes on the TLS port are not a TLS handshake; say what they are."""
    what = sniffed.description or "bytes that are not TLS"
    advice = {
        "sslv2": ("The client speaks the SSL 2.0 record format, which no current server accepts (OpenSSL 3 "
                  "has no SSLv2). Very old clients and some scanners send it.",
                  "Upgrade the client, or configure it for TLS 1.2 or later."),
        "tls-record": ("A TLS client starts with a handshake record holding its ClientHello; this record is of "
                       "another type, as from a client that believes a session is already open, or a proxy that "
                       "passed the middle of another connection.",
                       "Check that the client connects here directly and starts a new TLS session."),
        "ssh": ("An SSH client is talking to the TLS port.", "Point the SSH client at the SSH port."),
        "zeros": ("A run of zero bytes: a broken client, a health check that sends padding, or a test tool.",
                  "Find which program connects from this address and port."),
    }.get(sniffed.kind, ("The client's first bytes are not a TLS handshake: a different protocol, a "
                         "misconfigured client, or a scanner.", "Find which program connects here and what it "
                         "expects (the first bytes often name it)."))
    ended = f" Then {ending[0].lower() + ending[1:]}." if ending else ""
    return finding("not-tls-from-client", f"The client did not start TLS: it sent {what}", f"{advice[0]}{ended}",
                   advice[1], (Evidence("what arrived", what), first_bytes(data)))


def client_timeout(deadline: str, seconds: float, received: int, data: bytes, state: str,
                   waiting: int = 0) -> Finding:
    """A deadline ended the client; what had happened by then, from the counts and the bytes."""
    s = f"{seconds:g} s"
    if deadline == "idle":
        title = (f"The client sent nothing for {s} (idle deadline)" if received == 0 else
                 f"The client went silent for {s} after {size(received)} (idle deadline)")
    elif deadline == "handshake":
        title = f"The handshake was not finished {s} after the connection (handshake deadline)"
    elif deadline == "write":
        title = f"The client read nothing for {s}: {size(waiting)} waiting for it (write deadline)"
    else:
        title = f"The connection reached its limit of {s} (total deadline)"
    explanation = (f"The listener ended this client at its {deadline} deadline ({s}). By then: {state}. "
                   "A client that holds a connection without finishing what it started ties up the server; "
                   "this is also what a slow-loris attack does.")
    evidence = [Evidence("deadline", f"{deadline}, {s}"), Evidence("state", state),
                Evidence("received", size(received))]
    if data:
        evidence.append(first_bytes(data))
    return finding("client-timeout", title, explanation,
                   "If the client is legitimately slow, raise the deadline (--client-timeout, "
                   "--handshake-timeout, --total-timeout); otherwise find what holds it.", evidence)


class EarlyEnding(NamedTuple):
    """What to say when a client ended before its first bytes said what they were."""

    reason: str  # for the `closed` event
    findings: tuple[Finding, ...]


def ending_words(how: str | None, deadline: str | None, seconds: float) -> str:
    """'the client closed its side (FIN)', 'the client went silent for 10 s (idle deadline)', ..."""
    if deadline == "idle":
        return f"the client went silent for {seconds:g} s (idle deadline)"
    if deadline is not None:
        return f"the {deadline} deadline ({seconds:g} s) came"
    return {"eof": "the client closed its side (FIN)", "reset": "the client reset the connection"}.get(how or "", "")


def early_ending(reader: HelloReader | None, first: bytes, *, tls_port: bool, how: str | None,
                 deadline: str | None, seconds: float) -> EarlyEnding:
    """The client closed, reset, or met a deadline before its first bytes were judged: from what had
    arrived (nothing, part of a ClientHello, or other bytes), the reason and the findings."""
    ending = ending_words(how, deadline, seconds)
    reason = deadline_words(deadline, seconds) if deadline else ending  # type: ignore[arg-type]
    if reader is not None:
        return EarlyEnding(f"{reason} (ClientHello cut short: {reader.progress()})",
                           (client_hello_cut_short(reader, ending, deadline or how or ""),))
    if not first:
        if deadline is not None:
            return EarlyEnding(f"{reason} (no first bytes)",
                               (client_timeout(deadline, seconds, 0, b"", "nothing arrived"),))
        words = "reset the connection" if how == "reset" else "closed"
        return EarlyEnding(f"the client {words} without sending anything", ())
    if not tls_port:
        return EarlyEnding(reason, ())  # a plain listener: whatever came is data, not a diagnosis
    what = describe_undecided(first)
    if deadline is None:
        return EarlyEnding(reason, (not_tls_from_client(Sniffed("text", True, description=what), first, ending),))
    state = f"{size(len(first))} arrived: {what}"
    return EarlyEnding(reason, (client_timeout(deadline, seconds, len(first), first, state),))

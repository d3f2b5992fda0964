"""Findings the listener raises about what a client did (made through engine/catalogue.py).

Their suggestions are for whoever runs the client, so they carry no changes to tlsbench's own
connection; their peers name the listener's real address and, for TLS, the certificate to trust.
"""

from __future__ import annotations

import shlex

from tlsbench.engine.catalogue import finding
from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.listener.alerts import CERTIFICATE_REJECTED
from tlsbench.engine.listener.sniff import Sniffed
from tlsbench.engine.suggestions import Peer, Suggestion, curl, hostport, literal


def _first_bytes(data: bytes) -> Evidence:
    return Evidence("first bytes", data[:32].hex(" "))


def http_on_tls_port(sniffed: Sniffed, data: bytes, port: int, host: str = "127.0.0.1",
                     cert: str | None = None) -> Finding:
    url = f"https://{hostport(host, port)}/"
    trust = ("--cacert", shlex.quote(cert)) if cert else ()
    if sniffed.kind == "connect":
        title = "A proxy CONNECT request arrived on the TLS port"
        explanation = (f"The client sent 'CONNECT {sniffed.target or '?'}' in plain text where a TLS ClientHello "
                       "was expected: it treats this listener as an HTTP proxy. A TLS listener is not a proxy, "
                       "and the text arrived unencrypted.")
        text = ("Point the client's proxy setting at a real proxy, or connect to this listener directly with "
                f"{url}.")
    else:
        title = "Plain HTTP arrived on the TLS port"
        explanation = ("The client sent an HTTP request in plain text instead of starting with a TLS ClientHello. "
                       "A TLS server can only answer with an error (OpenSSL calls it 'http request'), and the "
                       "client usually shows a reset or an empty reply. Typically the URL says http:// where it "
                       "should say https://.")
        text = f"Use {url} (or talk to a plain listener for http://)."
    evidence = [Evidence("request line", sniffed.request_line or ""), _first_bytes(data)]
    return finding("http-on-tls-port", title, explanation,
                   Suggestion(literal(text), (), (curl(host, port, *trust),)), evidence)


def tls_on_plain_port(data: bytes, sni: str | None, port: int | None = None, host: str = "127.0.0.1") -> Finding:
    evidence = [_first_bytes(data)]
    if sni:
        evidence.append(Evidence("sni", sni))
    peers = (curl(host, port, scheme="http"),) if port else ()
    return finding(
        "tls-on-plain-port", "A TLS ClientHello arrived on a plain listener",
        ("The client started a TLS handshake (bytes 16 03 ..) but this listener speaks plain TCP. "
         "Whatever it answers in plain text the client reads as a broken TLS record: it reports "
         "'wrong version number' or 'packet length too long'."),
        Suggestion("Use http:// (or no TLS) for this port, or start the listener with TLS.", (), peers),
        evidence)


def client_aborted_handshake(alert: str | None, detail: str, port: int | None = None, host: str = "127.0.0.1",
                             cert: str | None = None) -> Finding:
    peers: tuple[Peer, ...] = ()
    if alert in CERTIFICATE_REJECTED:
        title = f"The client rejected the certificate (alert {alert})"
        explanation = (f"The client ended the handshake with the alert '{alert}': it does not trust the "
                       "certificate this listener sent (for a self-signed one, 'unknown_ca' is expected "
                       "until the client is told to trust it).")
        text = "Give the client this listener's certificate to trust."
        if port and cert:
            peers = (curl(host, port, "--cacert", shlex.quote(cert)),
                     Peer("tlsbench", f"tlsbench probe {shlex.quote(hostport(host, port))} --cafile "
                                      f"{shlex.quote(cert)}"))
    elif alert:
        title = f"The client aborted the handshake (alert {alert})"
        explanation = f"The client ended the handshake with the alert '{alert}'."
        text = "Compare what the client offered (its ClientHello) with what this listener accepts."
    else:
        title = "The client closed the connection during the handshake"
        explanation = ("The client went away in the middle of the TLS handshake without sending an alert; "
                       "some clients do that when they reject the certificate or the protocol.")
        text = "Look at the client's own error message; it says why it gave up."
    evidence = [Evidence("alert", alert)] if alert else []
    evidence.append(Evidence("detail", detail))
    return finding("client-aborted-handshake", title, explanation, Suggestion(text, (), peers), evidence)


def no_sni_from_client(versions: tuple[str, ...]) -> Finding:
    return finding(
        "no-sni-from-client", "The client sent no SNI",
        ("The ClientHello carries no server_name: the client did not say which host it wants. "
         "Clients leave it out when they connect to an IP address or are told not to send it; "
         "a server hosting several names then serves its default certificate, and some refuse "
         "the handshake."),
        "Connect by host name, or have the client send one (openssl s_client -servername NAME; tlsbench: "
        "the SNI setting) when the server needs it.",
        (Evidence("versions offered", ", ".join(versions)),))

"""Findings the listener raises about what a client did (engine.findings.Finding objects)."""

from __future__ import annotations

from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.listener.alerts import CERTIFICATE_REJECTED
from tlsbench.engine.listener.sniff import Sniffed


def _first_bytes(data: bytes) -> Evidence:
    return Evidence("first bytes", data[:32].hex(" "))


def http_on_tls_port(sniffed: Sniffed, data: bytes, port: int) -> Finding:
    if sniffed.kind == "connect":
        title = "A proxy CONNECT request arrived on the TLS port"
        explanation = (f"The client sent 'CONNECT {sniffed.target or '?'}' in plain text where a TLS ClientHello "
                       "was expected: it treats this listener as an HTTP proxy. A TLS listener is not a proxy, "
                       "and the text arrived unencrypted.")
        suggestion = ("Point the client's proxy setting at a real proxy, or connect to this listener directly "
                      f"with https://HOST:{port}/.")
    else:
        title = "Plain HTTP arrived on the TLS port"
        explanation = ("The client sent an HTTP request in plain text instead of starting with a TLS ClientHello. "
                       "A TLS server can only answer with an error (OpenSSL calls it 'http request'), and the "
                       "client usually shows a reset or an empty reply. Typically the URL says http:// where it "
                       "should say https://.")
        suggestion = f"Use https://HOST:{port}/ (or talk to a plain listener for http://)."
    evidence = [Evidence("request line", sniffed.request_line or ""), _first_bytes(data)]
    return Finding(code="http-on-tls-port", severity="error", title=title, explanation=explanation,
                   suggestion=suggestion, stage="tls", origin="peer", evidence=tuple(evidence))


def tls_on_plain_port(data: bytes, sni: str | None) -> Finding:
    evidence = [_first_bytes(data)]
    if sni:
        evidence.append(Evidence("sni", sni))
    return Finding(
        code="tls-on-plain-port", severity="error", title="A TLS ClientHello arrived on a plain listener",
        explanation=("The client started a TLS handshake (bytes 16 03 ..) but this listener speaks plain TCP. "
                     "Whatever it answers in plain text the client reads as a broken TLS record: it reports "
                     "'wrong version number' or 'packet length too long'."),
        suggestion="Use http:// (or no TLS) for this port, or start the listener with --tls.",
        stage="tls", origin="peer", evidence=tuple(evidence))


def client_aborted_handshake(alert: str | None, detail: str) -> Finding:
    if alert in CERTIFICATE_REJECTED:
        title = f"The client rejected the certificate (alert {alert})"
        explanation = (f"The client ended the handshake with the alert '{alert}': it does not trust the "
                       "certificate this listener sent (for a self-signed one, 'unknown_ca' is expected "
                       "until the client is told to trust it).")
        suggestion = "Give the client the certificate to trust (curl --cacert FILE, tlsbench probe --cafile FILE)."
    elif alert:
        title = f"The client aborted the handshake (alert {alert})"
        explanation = f"The client ended the handshake with the alert '{alert}'."
        suggestion = "Compare what the client offered (its ClientHello) with what this listener accepts."
    else:
        title = "The client closed the connection during the handshake"
        explanation = ("The client went away in the middle of the TLS handshake without sending an alert; "
                       "some clients do that when they reject the certificate or the protocol.")
        suggestion = "Look at the client's own error message; it says why it gave up."
    evidence = [Evidence("alert", alert)] if alert else []
    evidence.append(Evidence("detail", detail))
    return Finding(code="client-aborted-handshake", severity="error", title=title, explanation=explanation,
                   suggestion=suggestion, stage="tls", origin="peer", evidence=tuple(evidence))


def no_sni_from_client(versions: tuple[str, ...]) -> Finding:
    return Finding(
        code="no-sni-from-client", severity="warning", title="The client sent no SNI",
        explanation=("The ClientHello carries no server_name: the client did not say which host it wants. "
                     "Clients leave it out when they connect to an IP address or are told not to send it; "
                     "a server hosting several names then serves its default certificate, and some refuse "
                     "the handshake."),
        suggestion="Connect by host name (or pass -servername / --sni NAME) when the server needs it.",
        stage="tls", origin="peer", evidence=(Evidence("versions offered", ", ".join(versions)),))

"""Fixed, synthetic results for snapshot tests: no clocks, no ports that change between runs."""

from __future__ import annotations

from tlsbench.engine.records.details import CertInfo, ChainDetail, ProxyDetail, ResolveDetail, TcpDetail, TlsDetail
from tlsbench.engine.findings import catalogue
from tlsbench.engine.findings.model import Evidence
from tlsbench.engine.records.result import ProbeResult, SocketInfo, StageRecord, TcpInfo, TlsMessage
from tlsbench.engine.spec import build_spec

SPEC = build_spec("www.lab.test:8443", proxies=["socks5h://127.0.0.1:1080"], alpn="h2,http/1.1")
SOCKET = SocketInfo("127.0.0.1", 40123, "127.0.0.1", 1080, "IPv4", True, (32768, 60999),
                    TcpInfo(1, 0.052, 0.021, 204.0, 0, 0, 0, 32768, 536))


def _cert(position: int, subject: str, issuer: str, is_ca: bool) -> CertInfo:
    return CertInfo(position, subject, issuer, ("DNS:www.lab.test", "DNS:lab.test") if not is_ca else (),
                    "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", 180, "0a1b2c", "EC", 256,
                    "ecdsa-with-SHA256", "AB:CD:EF:01:23:45:67:89", is_ca, False, True, "ok")


def _stages(tls: StageRecord, later: list[StageRecord]) -> tuple[StageRecord, ...]:
    return (
        StageRecord("resolve", "skipped", 0.0, 0.0, ResolveDetail("www.lab.test", "target",
                    skipped_reason="the proxy resolves the name (socks5h)"), "the proxy resolves the name"),
        StageRecord("tcp", "ok", 0.1, 0.4, TcpDetail("proxy", "127.0.0.1", 1080, "127.0.0.1", 40123, "IPv4",
                    ("127.0.0.1: connected",)), "127.0.0.1:1080 (proxy) from port 40123"),
        StageRecord("proxy", "ok", 0.5, 1.2, ProxyDetail("socks5h", "127.0.0.1:1080", "none", "domain name",
                    "www.lab.test:8443", 0, "succeeded", "0.0.0.0:0", "no authentication"),
                    "socks5h CONNECT www.lab.test:8443: succeeded"),
        tls, *later)


MESSAGES = (TlsMessage(1.8, "sent", "handshake", "ClientHello", "TLS 1.3", 512),
            TlsMessage(3.1, "received", "handshake", "ServerHello", "TLS 1.3", 122),
            TlsMessage(3.3, "received", "handshake", "Certificate", "TLS 1.3", 1034),
            TlsMessage(3.9, "sent", "handshake", "Finished", "TLS 1.3", 52))


def success() -> ProbeResult:
    tls = TlsDetail("www.lab.test", True, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, "h2", ("h2", "http/1.1"),
                    "system", True, False, 620, 2900)
    chain = ChainDetail((_cert(0, "CN=www.lab.test,O=tlsbench", "CN=tlsbench Lab Intermediate", False),
                         _cert(1, "CN=tlsbench Lab Intermediate", "CN=tlsbench Lab Root", True)),
                        True, None, None, "www.lab.test", True, "system")
    stages = _stages(StageRecord("tls", "ok", 1.7, 2.6, tls, "TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN h2"),
                     [StageRecord("chain", "ok", 4.3, 0.3, chain, "2 certificates, verified")])
    return ProbeResult(True, SPEC.target, stages, SOCKET, tls, MESSAGES, chain, (), 4.6)


def not_tls() -> ProbeResult:
    raw = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    tls = TlsDetail("www.lab.test", True, bytes_sent=512, bytes_received=len(raw), first_bytes_hex=raw.hex(),
                    first_bytes_text=raw.decode("latin-1"), error="[SSL: WRONG_VERSION_NUMBER] wrong version number",
                    error_reason="WRONG_VERSION_NUMBER")
    finding = catalogue.finding("not-tls", "The peer did not answer in TLS: it sent an HTTP response",
                                "The server on this port speaks plain HTTP, not TLS.",
                                "Connect without TLS, or use the TLS port of this service.",
                                (Evidence("first bytes", "HTTP/1.1 400 Bad Request"),))
    stages = _stages(StageRecord("tls", "failed", 1.7, 1.5, tls, "the peer answered in plain HTTP"),
                     [StageRecord("chain", "skipped", 3.2, 0.0, None, "the handshake failed"),
                      StageRecord("app", "skipped", 3.2, 0.0, None, "the handshake failed")])
    return ProbeResult(False, SPEC.target, stages, SOCKET, tls, MESSAGES[:1], None, (finding,), 3.2)


def listener_events() -> list:
    """A TLS listener's events with four clients, as `serve` reports them (fixed ports, no clocks):
    a verified curl, a curl that rejects the certificate, plain HTTP on the TLS port, s_client by IP."""
    from tlsbench.engine.listener.events import (Accepted, ClientFinding, ClientHelloSeen, Closed, DataReceived,
                                                 HandshakeDone, Listening, QueueChanged)

    hello = dict(alpn=("h2", "http/1.1"), versions=("TLS 1.3", "TLS 1.2"), cipher_count=31)
    aborted = catalogue.finding("client-aborted-handshake", "The client rejected the certificate (alert unknown_ca)",
                                "The client ended the handshake with the alert unknown_ca: it does not trust the "
                                "certificate.", "Give the client the certificate to trust.",
                                (Evidence("alert", "unknown_ca"),))
    http = catalogue.finding("http-on-tls-port", "Plain HTTP arrived on the TLS port",
                             "The client sent an HTTP request where a TLS ClientHello was expected.",
                             "Use https://127.0.0.1:47443/.", (Evidence("request line", "GET / HTTP/1.1"),))
    no_sni = catalogue.finding("no-sni-from-client", "The client sent no SNI",
                               "The ClientHello carried no server name.", "Connect by name.", ())
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:47443\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
    return [
        Listening("127.0.0.1", 47443, 4, 4, 4096, True),
        Accepted(1, "127.0.0.1", 36228, "127.0.0.1", 47443),
        ClientHelloSeen(1, "localhost", **hello),
        HandshakeDone(1, True, "TLSv1.3", "TLS_AES_256_GCM_SHA384", None, 1.9),
        Closed(1, 698, 1568, 4.2, "answered (HTTP)"),
        Accepted(2, "127.0.0.1", 36240, "127.0.0.1", 47443),
        ClientHelloSeen(2, "localhost", **hello),
        HandshakeDone(2, False, failure="TLSV1_ALERT_UNKNOWN_CA", alert="unknown_ca", duration_ms=43.1),
        ClientFinding(2, aborted),
        Closed(2, 524, 870, 49.2, "handshake failed"),
        Accepted(3, "127.0.0.1", 36250, "127.0.0.1", 47443),
        DataReceived(3, request),
        ClientFinding(3, http),
        Closed(3, 79, 186, 0.5, "plain HTTP on the TLS port: answered 400"),
        Accepted(4, "127.0.0.1", 36262, "127.0.0.1", 47443),
        ClientHelloSeen(4, None, alpn=(), versions=("TLS 1.3", "TLS 1.2"), cipher_count=60),
        ClientFinding(4, no_sni),
        HandshakeDone(4, True, "TLSv1.3", "TLS_AES_256_GCM_SHA384", None, 2.3),
        Closed(4, 600, 1400, 8.0, "client closed"),
        QueueChanged(2, 4, True),
    ]

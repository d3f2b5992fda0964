"""One DNS server, as a transport: `make_transport("127.0.0.1:53", spec)`, called from the resolve
stage's `__init__` (before any clock: TLS contexts and CA files are loaded here)."""

from __future__ import annotations

from tlsbench.engine.dns.servers import parse_server
from tlsbench.engine.dns.transport import DnsTransport
from tlsbench.engine.spec import ConnectionSpec


def make_transport(server: str, spec: ConnectionSpec) -> DnsTransport:
    """The transport for one entry of `spec.dns.decides` (or a resolv.conf address)."""
    parsed = parse_server(server)
    if parsed.scheme == "https":
        return _doh_transport(parsed.url, spec, spec.dns.doh_insecure)
    if parsed.scheme == "tls":
        from tlsbench.engine.dns.dot import TlsTransport

        return TlsTransport(parsed, spec)
    from tlsbench.engine.dns.plain import UdpTransport

    return UdpTransport(parsed)


def _doh_transport(url: str, spec: ConnectionSpec, insecure: bool) -> DnsTransport:
    """DNS over HTTPS (RFC 8484) is its own module, a nested run over HTTP/2 following the run's route;
    `--cafile` verifies the DoH server also when the target itself is --no-tls."""
    from tlsbench.engine.dns.doh import DohTransport

    return DohTransport(url, spec, insecure, cafile=spec.dns.cafile)

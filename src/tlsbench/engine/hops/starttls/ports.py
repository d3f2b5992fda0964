"""What a port usually carries: the protocols that upgrade in band (STARTTLS), and the ports that
speak TLS at once (implicit TLS). A hint only: the greeting, when there is one, decides.

The protocols' own ports come from their declarations (protocols.py); the services here are the
implicit-TLS ports with no STARTTLS protocol inside.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.protocols import DIALOGUES

# The plain-text port of each protocol (the first is the one to suggest).
STARTTLS_PORTS: dict[str, tuple[int, ...]] = {name: d.ports for name, d in DIALOGUES.items() if d.ports}
PORT_PROTOCOL: dict[int, str] = {}
for _proto, _ports in STARTTLS_PORTS.items():
    for _port in _ports:
        PORT_PROTOCOL.setdefault(_port, _proto)

# Ports whose service speaks TLS from the first byte: (the protocol inside, its usual name).
IMPLICIT_TLS_PORTS: dict[int, tuple[str | None, str]] = {
    port: (name, words) for name, d in DIALOGUES.items() for port, words in d.implicit_ports}
IMPLICIT_TLS_PORTS.update({
    443: (None, "HTTPS"), 8443: (None, "HTTPS"), 853: (None, "DNS over TLS"), 8883: (None, "MQTT over TLS"),
    5671: (None, "AMQP over TLS"), 5061: (None, "SIP over TLS"),
})
# The implicit-TLS port of each protocol, for suggestions.
IMPLICIT_PORT: dict[str, int] = {name: d.implicit_ports[0][0] for name, d in DIALOGUES.items() if d.implicit_ports}

CLIENT_FIRST = tuple(name for name, d in DIALOGUES.items() if d.client_first)  # no greeting: the client speaks first

TITLES = {name: d.title for name, d in DIALOGUES.items()}


def implicit_tls(port: int) -> tuple[str | None, str] | None:
    return IMPLICIT_TLS_PORTS.get(port)


def usual_protocol(port: int) -> str | None:
    return PORT_PROTOCOL.get(port)


def plain_port(protocol: str) -> int | None:
    ports = STARTTLS_PORTS.get(protocol)
    return ports[0] if ports else None

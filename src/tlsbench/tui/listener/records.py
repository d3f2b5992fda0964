"""What the Listener view knows about each client, folded from the listener's events (no widgets here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tlsbench.engine.listener.events import (Accepted, ClientFinding, ClientHelloSeen, Closed, DataReceived,
                                             HandshakeDone)


@dataclass
class ClientRecord:
    client_id: int
    tls_port: bool
    peer_address: str = ""
    peer_port: int = 0
    local: str = ""
    hello: ClientHelloSeen | None = None
    handshake: HandshakeDone | None = None
    data: DataReceived | None = None
    findings: list[ClientFinding] = field(default_factory=list)
    closed: Closed | None = None

    def apply(self, event) -> None:
        if isinstance(event, Accepted):
            self.peer_address, self.peer_port = event.peer_address, event.peer_port
            self.local = f"{event.local_address}:{event.local_port}"
        elif isinstance(event, ClientHelloSeen):
            self.hello = event
        elif isinstance(event, HandshakeDone):
            self.handshake = event
        elif isinstance(event, DataReceived):
            self.data = event
        elif isinstance(event, ClientFinding):
            self.findings.append(event)
        elif isinstance(event, Closed):
            self.closed = event

    @property
    def codes(self) -> list[str]:
        return [f.finding.code for f in self.findings]

    @property
    def sni(self) -> str:
        if self.hello is None:
            return ""
        if self.hello.sni is None and self.hello.cut_short:
            return "(not reached)"  # the hello was cut short before its extensions
        return self.hello.sni if self.hello.sni is not None else "(none)"

    @property
    def protocol(self) -> str:
        if "http-on-tls-port" in self.codes:
            return "HTTP on TLS port"
        if "tls-on-plain-port" in self.codes:
            return "TLS on plain port"
        if self.handshake is not None and self.handshake.ok:
            return self.handshake.version or "TLS"
        return "TLS" if self.tls_port else "plain"

    @property
    def result(self) -> str:
        hs = self.handshake
        if hs is not None and not hs.ok:
            return f"handshake failed ({hs.alert})" if hs.alert else "handshake failed"
        if self.closed is not None:
            return f"closed: {self.closed.reason}"
        if hs is not None:
            return "handshake ok"
        return "connected"

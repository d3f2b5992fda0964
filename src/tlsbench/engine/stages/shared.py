"""The types the stages and the diagnosis share: a stage's outcome, and who a handshake was with and
what came of it.

They live apart from the stages that make them so that the chain stage, the reconnect stage and the
diagnosis can read a handshake's outcome without importing the tls stage (and ssl with it), and so
that no stage module imports another's at run time. This module is light: no ssl, no sockets.
"""


from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from tlsbench.engine.findings.model import Finding
from tlsbench.engine.records.result import TlsMessage
from tlsbench.engine.spec import ConnectionSpec, TlsSpec, format_hostport
from tlsbench.engine.tls.tlsmsg import WireMessage

if TYPE_CHECKING:
    import ssl

    from tlsbench.engine.tls.tlspump import TlsStream


class StageOutcome(NamedTuple):
    """What a stage returns to the runner: ok or not, its detail, findings, a one-line summary."""

    ok: bool
    detail: object
    summary: str = ""
    findings: tuple[Finding, ...] = ()


class TlsTarget(NamedTuple):
    """Who a handshake is with, and with which settings: the target, or an HTTPS proxy."""

    role: str  # "target" | "proxy"
    host: str
    port: int
    tls: TlsSpec
    timeout: float
    sni: str | None  # the name sent, None for none
    pin: str | None = None  # the address connected to instead of the host's (the target's --pin)

    @property
    def target(self) -> str:
        return format_hostport(self.host, self.port)


# Who a handshake was with: the target (its spec), or an HTTPS proxy.
HandshakeWith: TypeAlias = "ConnectionSpec | TlsTarget"

# What a handshake is prepared with: (SSLContext, server_hostname, we_check_hostname). A resumption
# needs the same context.
TlsSetup: TypeAlias = "tuple[ssl.SSLContext, str | None, bool]"


def target_of(spec: ConnectionSpec) -> TlsTarget:
    return TlsTarget("target", spec.host, spec.port, spec.tls, spec.timeout, spec.sni, spec.pin)


class TlsOutcome(NamedTuple):
    outcome: StageOutcome
    # The trace, in order; it keeps growing after the handshake (session tickets read at the close).
    messages: list[TlsMessage]
    stream: "TlsStream | None" = None  # the TlsStream over the session; None when the handshake failed
    peer_chain_der: tuple[bytes, ...] = ()  # as the peer sent it, leaf first
    verified_chain_der: tuple[bytes, ...] = ()  # only when verification succeeded
    verify_code: int | None = None
    verify_message: str | None = None
    verify_name: str | None = None  # the name the certificate was checked against
    hostname_checked_by: str = "openssl"  # openssl | tlsbench | none
    wire: tuple[WireMessage, ...] = ()
    setup: "TlsSetup | None" = None  # None only for an outcome made outside a handshake
    handshake_ms: float | None = None  # the handshake's own time, when it completed
    # The chain's own verdict, apart from the handshake's end: True when OpenSSL verified it (and
    # the name matched), False when not, None when verification was off.
    chain_verified: bool | None = None

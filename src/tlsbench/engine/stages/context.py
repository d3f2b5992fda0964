"""What every stage gets: the spec, a clock, an event sink and the cancel token."""


import time
from typing import Callable, NamedTuple, Protocol

from tlsbench.engine.events import Event
from tlsbench.engine.findings import Finding
from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.spec import ConnectionSpec


class Channel(Protocol):
    """A byte stream the app stage can use: the plain socket or the TLS layer over it."""

    def sendall(self, data: bytes) -> None: ...

    def recv(self, size: int) -> bytes: ...  # b"" on orderly close; raises TimeoutError / OSError


class StageContext:
    def __init__(self, spec: ConnectionSpec, emit: Callable[[Event], None], cancel: CancelToken,
                 started: float | None = None, tls_setup: tuple | None = None) -> None:
        self.spec = spec
        self.emit = emit
        self.cancel = cancel
        self.started = time.monotonic() if started is None else started
        # Built before the clock starts (runner.preflight): (SSLContext, server_hostname, we_check_hostname).
        self.tls_setup = tls_setup

    def now_ms(self) -> float:
        """Milliseconds since the run started."""
        return (time.monotonic() - self.started) * 1000.0


class StageOutcome(NamedTuple):
    """What a stage returns to the runner: ok or not, its detail, findings, a one-line summary."""

    ok: bool
    detail: object
    summary: str = ""
    findings: tuple[Finding, ...] = ()

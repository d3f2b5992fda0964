"""One connection of the run for the hand-built TLS 1.3 client: over the run's route (direct or
through its proxies, engine/route/opener.py), the ClientHello out, the server's bytes fed to the
sans-IO client (client.py) until its Finished, an alert, the connection's end or the deadline.
What happened is folded into a `FirstFlight` record; nothing here raises for what the server did.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, NamedTuple

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.tls13 import client as c

if TYPE_CHECKING:
    from tlsbench.engine.route.opener import RouteOpener
    from tlsbench.engine.stages.resolve import Route

MAX_READ = 1 << 18  # bytes read from the server in all


class FirstFlight(NamedTuple):
    outcome: str  # finished | alert | failed | closed | timeout | unreachable | cancelled | local (nothing sent)
    offer: c.Offer
    hello_sizes: tuple[int, ...] = ()  # each ClientHello record sent, in bytes
    events: tuple = ()  # the client's events, in order
    reason: str | None = None  # why it ended early, in words
    bytes_received: int = 0
    mss: int | None = None  # tcpi_snd_mss of tlsbench's own connection (to the first hop)

    def first(self, kind: type) -> object | None:
        return next((e for e in self.events if isinstance(e, kind)), None)

    @property
    def server_hello(self) -> c.ServerHelloRead | None:
        hello = self.first(c.ServerHelloRead)
        return hello if isinstance(hello, c.ServerHelloRead) else None

    @property
    def retry(self) -> c.HelloRetry | None:
        retry = self.first(c.HelloRetry)
        return retry if isinstance(retry, c.HelloRetry) else None

    @property
    def decrypted(self) -> bool:
        """EncryptedExtensions decrypted: the key exchange really worked."""
        return self.first(c.ExtensionsRead) is not None

    @property
    def certificate(self) -> c.CertificateRead | None:
        cert = self.first(c.CertificateRead)
        return cert if isinstance(cert, c.CertificateRead) else None

    @property
    def alert(self) -> c.AlertRead | None:
        alert = self.first(c.AlertRead)
        return alert if isinstance(alert, c.AlertRead) else None


def exchange(stream_send: Callable[[bytes], object], stream_recv: Callable[[int], bytes], offer: c.Offer, deadline: float,
             cancel: CancelToken | None = None) -> FirstFlight:
    """The first flight over an open byte stream (`stream_recv(n)` honours the stream's timeout)."""
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        client = c.Tls13Client(offer)
    except (ImportError, UnsupportedAlgorithm) as exc:  # a cryptography built without ML-KEM, say
        return FirstFlight("local", offer, reason=f"this cryptography cannot make the key shares asked for ({exc})")
    events: list = []
    received = 0
    outcome, reason = "closed", None
    try:
        stream_send(client.hello())
        while not client.done:
            if cancel is not None and cancel.cancelled:
                outcome, reason = "cancelled", "cancelled"
                break
            if time.monotonic() > deadline:
                outcome, reason = "timeout", "no whole first flight before the deadline"
                break
            chunk = stream_recv(65536)
            if not chunk:
                outcome, reason = "closed", "the server closed the connection"
                break
            received += len(chunk)
            if received > MAX_READ:
                outcome, reason = "failed", f"more than {MAX_READ} bytes without a whole first flight"
                break
            events += client.receive(chunk)
            again = client.data_to_send()
            if again:
                stream_send(again)
    except TimeoutError:
        outcome, reason = "timeout", "the server sent nothing more before the timeout"
    except OSError as exc:
        outcome, reason = "closed", exc.strerror or str(exc)
    if client.done:
        last = events[-1] if events else None
        if isinstance(last, c.Failed):
            outcome, reason = "failed", last.reason
        elif isinstance(last, c.AlertRead):
            outcome, reason = "alert", None
        else:
            outcome, reason = "finished", None
    return FirstFlight(outcome, offer, tuple(client.hello_sizes), tuple(events), reason, received)


def first_flight(opener: RouteOpener, route: Route | None, offer: c.Offer, cancel: CancelToken,
                 timeout: float, peer: str | None = None) -> FirstFlight:
    """One more connection over the route, carrying the hand-built hello."""
    from tlsbench.engine.route.opener import close

    state, failure = opener.open(route, cancel, peer=peer, timeout=timeout)
    if failure is not None:
        return FirstFlight("unreachable", offer, reason=failure)
    from tlsbench.engine.route.sockinfo import tcp_info

    stream = state.stream
    assert stream is not None  # an opened route ends in a stream
    try:
        flight = exchange(stream.send, stream.recv, offer, time.monotonic() + timeout, cancel)
        info = tcp_info(state.link.sock) if state.link is not None else None
        return flight._replace(mss=info.snd_mss if info is not None else None)
    except Exception as exc:  # noqa: BLE001 - a stream error of a hop (cancellation): no answer
        return FirstFlight("closed", offer, reason=f"{type(exc).__name__}: {exc}")
    finally:
        close(state)

"""Large ClientHellos a path drops: when a handshake got no answer after a hello of at least
LARGE bytes, or more than the connection's MSS (it then takes two TCP segments), the same route is
tried with a small hand-built TLS 1.3 hello (one x25519 share, about 240 bytes). An answer to the
small one and none to the large one is `large-hello-dropped`: the path (a middlebox, a firewall
that inspects only the first segment) loses ClientHellos larger than the small one's size — what
post-quantum key shares (1,216 bytes of X25519MLKEM768) run into.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.tls13 import client as c
from tlsbench.engine.tls13.keyshare import X25519

if TYPE_CHECKING:
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.route.opener import RouteOpener
    from tlsbench.engine.stages.context import RunState, StageContext
    from tlsbench.engine.stages.resolve import Route
    from tlsbench.engine.stages.shared import TlsOutcome
    from tlsbench.engine.tls13.connect import FirstFlight

LARGE = 1200  # bytes: where post-quantum hellos start and single-segment middlebox parsers give up


def is_large(size: int, mss: int | None) -> bool:
    return size >= LARGE or (mss is not None and 0 < mss < size)


def small_offer(sni: str | None) -> c.Offer:
    return c.Offer(sni=sni, groups=(X25519,), shares=(X25519,), status=False)


def try_small(opener: RouteOpener, route: Route | None, sni: str | None, cancel: CancelToken, timeout: float,
              peer: str | None = None) -> FirstFlight:
    from tlsbench.engine.tls13.connect import first_flight

    return first_flight(opener, route, small_offer(sni), cancel, timeout, peer=peer)


def answered(flight: FirstFlight) -> bool:
    """The server's bytes came back: a ServerHello, a HelloRetryRequest or an alert."""
    return flight.server_hello is not None or flight.retry is not None or flight.alert is not None


def dropped(large: int, small: FirstFlight, mss: int | None, stage: str, waited: float) -> Finding | None:
    """`large-hello-dropped` when the small hello was answered (None when it was not either)."""
    if not answered(small) or not small.hello_sizes:
        return None
    size = small.hello_sizes[0]
    what = ("a ServerHello" if small.server_hello is not None else
            "a HelloRetryRequest" if small.retry is not None else "an alert")
    mss_words = ""
    if mss and large > mss:
        mss_words = (f"; the connection's MSS is {mss:,} bytes, so the large hello needed {-(-large // mss)} TCP "
                     "segments and the small one fit in one")
    elif mss:
        mss_words = f"; the connection's MSS is {mss:,} bytes: both fit in one segment, so the limit is on size"
    return finding(
        "large-hello-dropped", f"The path drops ClientHellos larger than {size:,} bytes",
        f"A {large:,}-byte ClientHello got no answer within {waited:g} s; a {size:,}-byte one over the same route "
        f"got {what} at once{mss_words}. Something on the path (a middlebox or firewall that reads only the "
        "first segment, or one with a size limit) loses the large hello; the server never saw it.",
        "Find the device on the path that drops it (compare from another network); post-quantum key shares "
        "(X25519MLKEM768, 1,216 bytes) make every browser's hello this large.",
        (Evidence("large ClientHello", f"{large:,} bytes, no answer"),
         Evidence("small ClientHello", f"{size:,} bytes, answered with {what}"),
         Evidence("MSS (tcpi_snd_mss)", f"{mss:,} bytes" if mss else "unknown")),
        stage=stage)


def after_timeout(ctx: StageContext, state: RunState, out: TlsOutcome) -> Finding | None:
    """The run's tls stage (OpenSSL's hello), after a timeout with no byte back that followed a large
    ClientHello: a small hello of tlsbench's own over the same route, and `large-hello-dropped` when
    only that one is answered."""
    if out.outcome.ok or not any(f.code == "tls-timeout" for f in out.outcome.findings):
        return None
    hello = next((m for m in out.messages if m.direction == "sent" and m.name == "ClientHello"), None)
    received = any(m.direction == "received" for m in out.messages)
    info = state.socket_info.tcp_info
    mss = info.snd_mss if info is not None else None
    if hello is None or received:
        return None
    size = hello.length + 9  # the record: its 5-byte header and the message's 4-byte one around the body
    if not is_large(size, mss):
        return None
    from tlsbench.engine.route.opener import RouteOpener, close_first

    close_first(state)
    peer = state.socket_info.peer_address
    small = try_small(RouteOpener(state.plan), state.route, ctx.spec.sni, ctx.cancel, ctx.spec.timeout, peer=peer)
    return dropped(size, small, mss, "tls", ctx.spec.timeout)

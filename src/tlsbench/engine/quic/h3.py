"""One HTTP/3 request (aioquic.h3) over a QUIC session whose handshake completed: GET path with the
target's authority; the response's status and header fields, its body counted (not kept), bounded."""

from __future__ import annotations

from typing import NamedTuple

from aioquic.h3.connection import H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.h3.exceptions import H3Error
from aioquic.quic.events import QuicEvent, StreamReset

from tlsbench.engine.quic.session import Failure, QuicSession

MAX_BODY = 1 << 20  # read no more of the body than this (what matters is the status and the fields)
USER_AGENT = "tlsbench"


class H3Response(NamedTuple):
    request: tuple[tuple[str, str], ...]
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    sent_ms: float | None = None
    first_byte_ms: float | None = None
    body_bytes: int = 0
    error: str | None = None
    failure: Failure | None = None


def _text(value: bytes) -> str:
    return value.decode("latin-1")


def get(session: QuicSession, authority: str, path: str) -> H3Response:
    """Send GET `path` and read the response's fields (and its body, bounded)."""
    h3 = H3Connection(session.conn)
    events: list[H3Event] = []
    resets: list[int] = []
    errors: list[str] = []

    def on_event(event: QuicEvent) -> None:
        if isinstance(event, StreamReset):
            resets.append(event.error_code)
        try:
            events.extend(h3.handle_event(event))
        except H3Error as exc:  # the peer broke HTTP/3: said, not raised
            errors.append(f"{type(exc).__name__}: {exc}")

    session.on_event = on_event
    fields = ((":method", "GET"), (":scheme", "https"), (":authority", authority), (":path", path),
              ("user-agent", USER_AGENT))
    stream_id = session.conn.get_next_available_stream_id()
    h3.send_headers(stream_id, [(k.encode(), v.encode()) for k, v in fields], end_stream=True)
    sent = session.now_ms()
    got = _Reading()

    def done() -> bool:
        for event in events:
            if getattr(event, "stream_id", None) == stream_id:
                got.take(event, session.now_ms())
        events.clear()
        return got.ended or bool(resets or errors) or got.body >= MAX_BODY

    failure = session.run_until(done)
    error = errors[0] if errors else (f"the server reset the request's stream (code 0x{resets[0]:x})" if resets
                                      else None)
    return H3Response(fields, got.status, got.headers, sent, got.first_ms, got.body, error,
                      failure if not got.ended else None)


class _Reading:
    """The response as its events arrive."""

    def __init__(self) -> None:
        self.ended = False
        self.first_ms: float | None = None
        self.body = 0
        self.status: int | None = None
        self.headers: tuple[tuple[str, str], ...] = ()

    def take(self, event: H3Event, now_ms: float) -> None:
        if self.first_ms is None:
            self.first_ms = now_ms
        if isinstance(event, HeadersReceived) and not self.headers:
            self.headers = tuple((_text(k), _text(v)) for k, v in event.headers)
            status = dict(self.headers).get(":status", "")
            self.status = int(status) if status.isdigit() else None
        elif isinstance(event, DataReceived):
            self.body += len(event.data)
        if getattr(event, "stream_ended", False):
            self.ended = True

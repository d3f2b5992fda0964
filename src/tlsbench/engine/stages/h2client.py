"""HTTP/2 over a stream of the run: the connection preface, SETTINGS both ways, then any number of
requests as concurrent streams on the one connection, each with its body, and each response
(status, header fields, body) with its own times.

The h2 library (sans-IO) speaks the protocol; h2frames.py names every frame both ways for the
trace. Bounded in time, in frames, in bytes, in the size of a header block and of each body: a
peer that breaks HTTP/2 or passes a bound ends the exchange with what it saw, never an exception.
The app stage's one GET (http2.py) and a DNS-over-HTTPS lookup's queries (doh.py) both ride on it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple, Sequence

from tlsbench.errors import Cancelled
from tlsbench.engine.stages.h2frames import FrameSplitter, H2Frame, error_name

if TYPE_CHECKING:
    from tlsbench.engine.stages.context import StageContext
    from tlsbench.engine.stream import Stream

MAX_FRAMES = 200  # frames received, at most
MAX_BYTES = 1 << 20  # bytes received, at most
MAX_HEADER_BLOCK = 64 * 1024  # one header block (HEADERS and its CONTINUATIONs), at most
CHUNK = 16384


class H2Request(NamedTuple):
    headers: list[tuple[str, str]]
    body: bytes = b""


class H2Response(NamedTuple):
    """One request's stream: when it was sent, what came back, how it ended."""

    stream_id: int
    sent_ms: float  # when its last byte was handed to the stream, ms since the run began
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    ended: bool = False  # END_STREAM received
    reset: str | None = None  # RST_STREAM's error code
    truncated: bool = False  # the body passed the bound: what is kept is its start
    first_ms: float | None = None  # its response's HEADERS arrived
    done_ms: float | None = None  # it ended (END_STREAM, RST_STREAM or the bound)

    @property
    def finished(self) -> bool:
        return self.ended or self.reset is not None or self.truncated


class H2Exchange(NamedTuple):
    """What an HTTP/2 exchange saw, connection-wide and per request."""

    frames: tuple[H2Frame, ...]
    responses: tuple[H2Response, ...]  # one per request, in the order given
    goaway: tuple[str, int, bytes] | None  # (error code, last stream, debug data)
    broken: str | None  # what h2 refused in the peer's bytes
    limit: str | None  # the bound that was passed
    error: str | None  # reading or writing failed ("timeout", "closed", or the OS's words)
    settings_acked: bool  # the server acknowledged our SETTINGS
    ttfb_ms: float | None
    bytes_received: int
    last_rx_ms: float | None


def exchange_streams(ctx: StageContext, stream: Stream, requests: Sequence[H2Request], timeout: float,
                     max_body: int, what: str = "the app stage") -> H2Exchange:
    """Speak HTTP/2 over `stream`: the preface and SETTINGS, then every request at once, each on a
    stream of its own (none: the exchange ends once both SETTINGS are acknowledged). A body is kept
    up to `max_body` bytes; the rest is not waited for. Call between ctx.begin() and ctx.end()."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
    import hpack.exceptions
    import hyperframe.exceptions

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.ENABLE_PUSH: 0,
        h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_BLOCK})
    sent = FrameSplitter("sent", skip_preface=True)
    received = FrameSplitter("received")
    frames: list[H2Frame] = []
    deadline = time.monotonic() + timeout
    streams: dict[int, H2Response] = {}
    order: list[int] = []
    pending: dict[int, bytes] = {}  # request bodies still to send (flow control)
    goaway = broken = limit = error = None
    acked = got_settings = False
    ttfb = last_rx = None
    total = 0
    block = 0  # bytes of the header block being received
    first_sent = ctx.now_ms()

    def flush() -> None:
        data = conn.data_to_send()
        if data:
            frames.extend(sent.feed(data, ctx.now_ms()))
            stream.send(data)

    def send_bodies() -> None:
        for sid, body in list(pending.items()):
            try:
                room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                while body and room > 0:
                    piece, body = body[:room], body[room:]
                    conn.send_data(sid, piece, end_stream=not body)
                    room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            except h2.exceptions.StreamClosedError:  # the server reset it: its body is not wanted
                del pending[sid]
                continue
            if body:
                pending[sid] = body
            else:
                del pending[sid]
                streams[sid] = streams[sid]._replace(sent_ms=ctx.now_ms())

    def done() -> bool:
        if not order:
            return acked and got_settings
        return all(streams[sid].finished for sid in order)

    try:
        conn.initiate_connection()
        flush()
        for request in requests:
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, request.headers, end_stream=not request.body)
            order.append(sid)
            streams[sid] = H2Response(sid, ctx.now_ms())
            if request.body:
                pending[sid] = request.body
        send_bodies()
        flush()
        now = first_sent = ctx.now_ms()
        for sid in order:
            if sid not in pending:
                streams[sid] = streams[sid]._replace(sent_ms=now)
        while goaway is None and not done():
            if ctx.cancel.cancelled:
                raise Cancelled(f"cancelled during {what}")
            left = deadline - time.monotonic()
            if left <= 0:
                error = "timeout"
                break
            try:
                chunk = stream.recv(CHUNK, left)
            except TimeoutError:
                error = "timeout"
                break
            if not chunk:
                if goaway is None and not (not order and acked):
                    error = "closed"
                break
            last_rx = ctx.now_ms()
            if ttfb is None:
                ttfb = last_rx - first_sent
            total += len(chunk)
            new = received.feed(chunk, last_rx)
            frames.extend(new)
            for frame in new:
                if frame.type in ("HEADERS", "PUSH_PROMISE"):
                    block = frame.length
                elif frame.type == "CONTINUATION":
                    block += frame.length
                if block > MAX_HEADER_BLOCK:
                    limit = f"a header block of more than {MAX_HEADER_BLOCK} bytes"
            if len([f for f in frames if f.direction == "received"]) > MAX_FRAMES:
                limit = f"more than {MAX_FRAMES} frames"
            elif total > MAX_BYTES:
                limit = f"more than {MAX_BYTES} bytes"
            if limit is not None:
                break
            try:
                events = conn.receive_data(chunk)
            except (h2.exceptions.H2Error, hpack.exceptions.HPACKError, hyperframe.exceptions.HyperframeError) as exc:
                broken = f"{type(exc).__name__}: {exc}"
                try:
                    flush()  # h2's GOAWAY, saying why
                except OSError:
                    pass
                break
            for event in events:
                on = getattr(event, "stream_id", None)
                mine = streams.get(on) if isinstance(on, int) else None
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    got_settings = True
                elif isinstance(event, h2.events.SettingsAcknowledged):
                    acked = True
                elif isinstance(event, h2.events.ResponseReceived) and mine is not None:
                    headers = tuple((_text(k), _text(v)) for k, v in event.headers)
                    found = dict(headers).get(":status", "")
                    streams[mine.stream_id] = mine._replace(
                        headers=headers, status=int(found) if found.isdigit() else None, first_ms=last_rx)
                elif isinstance(event, h2.events.DataReceived) and mine is not None:
                    body = mine.body + event.data[:max_body - len(mine.body)]
                    conn.acknowledge_received_data(event.flow_controlled_length, mine.stream_id)
                    over = len(mine.body) + len(event.data) > max_body or len(body) >= max_body
                    streams[mine.stream_id] = mine._replace(
                        body=body, truncated=over, done_ms=last_rx if over else mine.done_ms)
                elif isinstance(event, h2.events.StreamEnded) and mine is not None:
                    streams[mine.stream_id] = mine._replace(ended=True, done_ms=mine.done_ms or last_rx)
                elif isinstance(event, h2.events.StreamReset) and mine is not None:
                    streams[mine.stream_id] = mine._replace(reset=error_name(int(event.error_code or 0)),
                                                            done_ms=mine.done_ms or last_rx)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    goaway = (error_name(int(event.error_code or 0)), int(event.last_stream_id or 0),
                              bytes(event.additional_data or b""))
            if pending and goaway is None:  # a WINDOW_UPDATE may have made room for a body still waiting
                send_bodies()
            flush()
        if broken is None and limit is None and goaway is None:
            conn.close_connection()  # a polite GOAWAY (NO_ERROR): the requests are done
            flush()
    except Cancelled:
        raise
    except OSError as exc:
        if ctx.cancel.cancelled:
            raise Cancelled(f"cancelled during {what}") from None
        error = f"{type(exc).__name__}: {exc}"
    return H2Exchange(tuple(frames), tuple(streams[sid] for sid in order), goaway, broken, limit, error, acked,
                      ttfb, total, last_rx)


_warmed = False


def warm_h2() -> None:
    """One request and its answer between two h2 connections in memory, once per process: h2 and
    hpack load and build what they need on first use (some 5 ms here), before any stage's clock."""
    global _warmed
    if _warmed:
        return
    import h2.config
    import h2.connection
    import h2.events  # noqa: F401
    import h2.exceptions  # noqa: F401
    import h2.settings  # noqa: F401
    import hpack.exceptions  # noqa: F401
    import hyperframe.exceptions  # noqa: F401

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    client.initiate_connection()
    server.initiate_connection()
    client.send_headers(1, [(":method", "POST"), (":scheme", "https"), (":authority", "warm.invalid"),
                            (":path", "/"), ("content-type", "application/octet-stream")])
    client.send_data(1, b"x", end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200"), ("content-type", "application/octet-stream")])
    server.send_data(1, b"y", end_stream=True)
    client.receive_data(server.data_to_send())
    _warmed = True


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value

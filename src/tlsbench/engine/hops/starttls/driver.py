"""Drives a dialogue over the run's stream (a socket, a proxy's tunnel, TLS): sends what it asks,
feeds it what arrives, and times every message as it crosses the wire."""

from __future__ import annotations

from tlsbench.errors import Cancelled
from tlsbench.engine.hops.starttls.base import Dialogue, Message
from tlsbench.engine.hops.starttls.detail import ExchangeLine
from tlsbench.engine.stages.context import StageContext
from tlsbench.engine.stream import CHUNK, Stream


class Recorder:
    """The exchange line by line, each stamped with the run's clock when it crossed the wire."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.lines: list[ExchangeLine] = []
        self.error: BaseException | None = None  # what ended the exchange, when an error did

    def stamp(self, messages: list[Message], at_ms: float) -> None:
        for m in messages:
            self.lines.append(ExchangeLine(at_ms, m.direction, m.text, m.raw.hex(" ") if m.binary else None))

    def note(self, text: str) -> None:
        self.lines.append(ExchangeLine(self.ctx.now_ms(), "note", text))


def converse(ctx: StageContext, stream: Stream, dialogue: Dialogue, rec: Recorder, first_wait: float | None = None,
             during: str = "STARTTLS") -> str:
    """Run the dialogue until it stops; returns "" when it did, or why the wait ended: "timeout",
    "quiet" (nothing within `first_wait` seconds, before any byte arrived), or the error's words
    (the error itself is kept in `rec.error`). Raises Cancelled when the run is cancelled."""
    got_any = False
    while dialogue.running:
        out = dialogue.data_to_send()
        if out:
            try:
                stream.send(out)
            except TimeoutError as exc:
                rec.error = exc
                return "timeout"
            except OSError as exc:
                if ctx.cancel.cancelled:
                    raise Cancelled(f"cancelled during {during}") from None
                rec.error = exc
                return _words(exc)
            rec.stamp(dialogue.take_sent(), ctx.now_ms())
            continue
        limit = first_wait if first_wait is not None and not got_any else None
        try:
            data = stream.recv(CHUNK, limit) if limit is not None else stream.recv(CHUNK)
        except TimeoutError as exc:
            if limit is not None and stream.link.remaining() > 0:
                return "quiet"
            rec.error = exc
            dialogue.timed_out()
            return "timeout"
        except OSError as exc:
            if ctx.cancel.cancelled:
                raise Cancelled(f"cancelled during {during}") from None
            rec.error = exc
            dialogue.timed_out()
            return _words(exc)
        at = ctx.now_ms()
        got_any = got_any or bool(data)
        dialogue.receive(data)
        rec.stamp(dialogue.take_received(), at)
    out = dialogue.data_to_send()
    if out and dialogue.status == "ready":
        # A request that expects no reply (MySQL's SSL request): TLS follows it at once.
        try:
            stream.send(out)
        except TimeoutError as exc:
            rec.error = exc
            return "timeout"
        except OSError as exc:
            if ctx.cancel.cancelled:
                raise Cancelled(f"cancelled during {during}") from None
            rec.error = exc
            return _words(exc)
        rec.stamp(dialogue.take_sent(), ctx.now_ms())
    dialogue.take_sent()  # what a failed dialogue queued last was never sent
    return ""


def _words(exc: OSError) -> str:
    import errno

    name = errno.errorcode.get(exc.errno or 0)
    return f"{name}: {exc.strerror}" if name and exc.strerror else f"{type(exc).__name__}: {exc}"

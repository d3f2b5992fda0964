"""The peer's first words: an app stage that sends nothing and records what the peer says on its own.

A banner (SMTP, IMAP, POP3, FTP, SSH), an HTTP answer, or silence: which one tells a port that
speaks first from one that waits for the client. This is the diagnosis's own look at a peer, not
an option of the form, so it is installed into a prepared plan (`install`) in place of the app
step, and the run is otherwise the runner's: resolve, tcp, the proxies, then this stage.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tlsbench.engine.records.details import AppDetail
from tlsbench.errors import Cancelled
from tlsbench.engine.tls.peekbytes import classify
from tlsbench.engine.plan import KINDS, Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome

if TYPE_CHECKING:
    from tlsbench.engine.runner import Prepared

WAIT = 2.0  # seconds to wait for the first byte (at most the stage timeout)
MORE = 0.3  # seconds to wait for more once something arrived (a multi-line banner)
MAX_WORDS = 4096


class FirstWordsStage:
    """Read what the peer sends without being asked, for a while; silence is an answer too."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.wait = min(WAIT, plan.spec.timeout)

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        stream = state.need_stream()
        data = bytearray()
        error = None
        closed = False
        first_at = last_at = None
        deadline = time.monotonic() + self.wait
        ctx.begin()
        start = ctx.now_ms()
        try:
            while len(data) < MAX_WORDS:
                left = (deadline - time.monotonic()) if not data else min(MORE, deadline + MORE - time.monotonic())
                if left <= 0:
                    break
                try:
                    chunk = stream.recv(MAX_WORDS - len(data), left)
                except TimeoutError:
                    break
                if not chunk:
                    closed = True
                    break
                last_at = ctx.now_ms()
                first_at = first_at if first_at is not None else last_at
                data += chunk
        except Cancelled:
            raise
        except OSError as exc:
            if ctx.cancel.cancelled:
                raise Cancelled("cancelled while reading") from None
            error = f"{type(exc).__name__}: {exc}"
        ctx.end()
        if last_at is not None:
            ctx.wire_end = last_at
        raw = bytes(data)
        guess = classify(raw)
        status_line = raw.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1") if raw.startswith(b"HTTP/") else None
        detail = AppDetail(mode="read", request="", status_line=status_line,
                           first_bytes_text=raw.decode("latin-1") if raw else None,
                           first_bytes_hex=raw.hex() if raw else None,
                           ttfb_ms=None if first_at is None else first_at - start, bytes_received=len(raw),
                           error=error)
        if raw:
            summary = f"the peer spoke first: {guess.description}"
        elif closed:
            summary = "the peer closed the connection without a word"
        elif error:
            summary = f"reading failed: {error}"
        else:
            summary = f"silence: nothing in {self.wait:g} s"
        # Silence and a close are answers here, not failures: what the peer does is the point.
        return StageOutcome(ok=error is None, detail=detail, summary=summary)


def install(prepared: Prepared) -> None:
    """Put the first-words stage in place of a prepared plan's app step."""
    plan = prepared.plan
    steps = list(plan.steps)
    index = next(i for i, s in enumerate(steps) if s.name == "app")
    step = Step(KINDS["app"], steps[index].key, doing="reading what the peer says first", label=KINDS["app"].label)
    steps[index] = step
    prepared.plan = plan._replace(steps=tuple(steps))
    prepared.stages[index] = FirstWordsStage(step, prepared.plan)

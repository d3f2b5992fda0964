"""The deadlines that bound one client, by name, and a timer heap for thousands of them.

A client of the listener is bounded four ways, and when one ends it the events say which:

* `idle`: nothing received for `client_timeout` seconds while the listener waits for the client;
* `handshake`: the TLS handshake (ClientHello included) not finished `handshake_timeout` seconds
  after the connection was accepted — what ends a client that drips one byte at a time;
* `total`: the connection open `total_timeout` seconds, whatever it does;
* `write`: the client read nothing the listener had for it during `client_timeout` seconds.

`TimerHeap` keeps one entry per client (lazily: an entry that comes due early is pushed again
with the client's real deadline), so 10,000 idle clients cost one heap operation each per wake.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from typing import Any, Literal

DeadlineName = Literal["idle", "handshake", "total", "write", "linger"]


class Deadlines:
    """When each deadline of one client falls (monotonic seconds), and which came first."""

    __slots__ = ("idle_s", "handshake_s", "total_s", "accepted_at", "last_received_at", "write_since",
                 "handshake_open", "linger_at")

    def __init__(self, now: float, idle_s: float, handshake_s: float | None, total_s: float) -> None:
        self.idle_s, self.handshake_s, self.total_s = idle_s, handshake_s, total_s
        self.accepted_at = now
        self.last_received_at = now
        self.write_since: float | None = None  # when unsent data last made no progress
        self.handshake_open = handshake_s is not None
        self.linger_at: float | None = None  # after our answer: how long we wait for the client's close

    def received(self, now: float) -> None:
        self.last_received_at = now

    def due(self, now: float, *, waiting_for_client: bool) -> DeadlineName | None:
        """The deadline that has passed, if any; `idle` wins ties (it says the most)."""
        if waiting_for_client and now >= self.last_received_at + self.idle_s:
            return "idle"
        if self.write_since is not None and now >= self.write_since + self.idle_s:
            return "write"
        if self.handshake_open and self.handshake_s is not None and now >= self.accepted_at + self.handshake_s:
            return "handshake"
        if self.linger_at is not None and now >= self.linger_at:
            return "linger"
        if now >= self.accepted_at + self.total_s:
            return "total"
        return None

    def next_at(self, *, waiting_for_client: bool) -> float:
        at = self.accepted_at + self.total_s
        if waiting_for_client:
            at = min(at, self.last_received_at + self.idle_s)
        if self.write_since is not None:
            at = min(at, self.write_since + self.idle_s)
        if self.handshake_open and self.handshake_s is not None:
            at = min(at, self.accepted_at + self.handshake_s)
        if self.linger_at is not None:
            at = min(at, self.linger_at)
        return at

    def seconds(self, name: DeadlineName) -> float:
        return {"idle": self.idle_s, "write": self.idle_s, "handshake": self.handshake_s or 0.0,
                "total": self.total_s, "linger": 0.0}[name]


def deadline_words(name: DeadlineName, seconds: float) -> str:
    """'idle deadline: the client sent nothing for 10 s' and the like (the reason a client ended)."""
    s = f"{seconds:g} s"
    return {
        "idle": f"idle deadline: the client sent nothing for {s}",
        "handshake": f"handshake deadline: the handshake had not finished {s} after the connection",
        "total": f"total deadline: the connection reached its limit of {s}",
        "write": f"write deadline: the client read nothing of what was sent for {s}",
        "linger": "the client had not closed after the answer: closed by the listener",
    }[name]


class TimerHeap:
    """One pending wake-up per owner; `pop_due(now)` yields the owners whose time came."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._count = itertools.count()

    def schedule(self, at: float, owner: Any) -> None:
        """Make sure `owner` is looked at no later than `at` (owner.timer_at tracks its entry)."""
        current = getattr(owner, "timer_at", None)
        if current is not None and current <= at:
            return  # an earlier entry exists: it will re-schedule when it comes due
        owner.timer_at = at
        heapq.heappush(self._heap, (at, next(self._count), owner))

    def next_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> Iterator[Any]:
        while self._heap and self._heap[0][0] <= now:
            at, _n, owner = heapq.heappop(self._heap)
            if getattr(owner, "timer_at", None) != at:
                continue  # superseded by an earlier entry that already ran
            owner.timer_at = None
            yield owner

    def __len__(self) -> int:
        return len(self._heap)

    def rebuild(self, owners: Iterable[Any]) -> None:
        """Drop stale entries (of owners gone or re-scheduled): keep one per live owner."""
        self._heap = [(o.timer_at, next(self._count), o) for o in owners if getattr(o, "timer_at", None) is not None]
        heapq.heapify(self._heap)

"""Readiness of many sockets in bounded batches, newcomers first: what the listener's loop waits on.

Why not `selectors` alone: with 10,000 clients closing at once, one `select()` returns 10,000
events, and a newcomer's handshake waits behind all of them (each a `closed` event to write). So
sockets are in one of two classes: **young** (the listening socket, and clients still opening: in
their first bytes or handshake, or accepted less than a second ago) and **settled** (the rest). A
round takes at most three quarters of `max_events` from the young and a quarter from the settled:
a round stays short (a newcomer waits for at most that quarter), and neither class starves.
Level-triggered: whatever a round leaves is reported again.

On Linux this is three epoll objects (young, settled, and one that waits on both); elsewhere it
falls back to `selectors` with the same interface and no classes.
"""

from __future__ import annotations

import select
import selectors
from typing import Any

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Poller:
    def __new__(cls, *args: object, **kwargs: object) -> Poller:
        if cls is Poller:
            cls = EpollPoller if hasattr(select, "epoll") else SelectorPoller
        return super().__new__(cls)

    def register(self, fd: int, mask: int, data: Any, young: bool = True) -> None: ...

    def modify(self, fd: int, mask: int, data: Any) -> None: ...

    def unregister(self, fd: int) -> None: ...

    def settle(self, fd: int) -> None:
        """Move a socket from the young class to the settled one."""

    def poll(self, timeout: float, max_events: int) -> list[tuple[Any, int]]:
        raise NotImplementedError

    def close(self) -> None: ...


class EpollPoller(Poller):
    def __init__(self) -> None:
        self._young = select.epoll()
        self._settled = select.epoll()
        self._both = select.epoll()
        self._both.register(self._young.fileno(), select.EPOLLIN)
        self._both.register(self._settled.fileno(), select.EPOLLIN)
        self._entries: dict[int, list] = {}  # fd -> [data, mask, young]

    @staticmethod
    def _bits(mask: int) -> int:
        return (select.EPOLLIN if mask & READ else 0) | (select.EPOLLOUT if mask & WRITE else 0)

    def register(self, fd: int, mask: int, data: Any, young: bool = True) -> None:
        (self._young if young else self._settled).register(fd, self._bits(mask))
        self._entries[fd] = [data, mask, young]

    def modify(self, fd: int, mask: int, data: Any) -> None:
        entry = self._entries[fd]
        (self._young if entry[2] else self._settled).modify(fd, self._bits(mask))
        entry[0], entry[1] = data, mask

    def unregister(self, fd: int) -> None:
        entry = self._entries.pop(fd)
        (self._young if entry[2] else self._settled).unregister(fd)

    def settle(self, fd: int) -> None:
        entry = self._entries.get(fd)
        if entry is None or not entry[2]:
            return
        self._young.unregister(fd)
        self._settled.register(fd, self._bits(entry[1]))
        entry[2] = False

    def _collect(self, ready: list[tuple[int, int]], out: list[tuple[Any, int]]) -> None:
        entries = self._entries
        for fd, bits in ready:
            entry = entries.get(fd)
            if entry is None:
                continue
            mask = 0
            if bits & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                mask |= READ
            if bits & (select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR):
                mask |= WRITE
            out.append((entry[0], mask & entry[1] or mask))

    def poll(self, timeout: float, max_events: int) -> list[tuple[Any, int]]:
        out: list[tuple[Any, int]] = []
        settled_share = max(1, max_events // 4)
        for attempt in range(2):
            self._collect(self._young.poll(0, max_events - settled_share), out)
            self._collect(self._settled.poll(0, settled_share), out)
            if out or attempt or timeout <= 0:
                return out
            self._both.poll(timeout, 2)  # sleep until either class has something
        return out

    def close(self) -> None:
        for ep in (self._both, self._young, self._settled):
            ep.close()


class SelectorPoller(Poller):
    """Portable fallback: one class; the oldest and newest halves of a long list each round."""

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()

    def register(self, fd: int, mask: int, data: Any, young: bool = True) -> None:
        self._sel.register(fd, mask, data)

    def modify(self, fd: int, mask: int, data: Any) -> None:
        self._sel.modify(fd, mask, data)

    def unregister(self, fd: int) -> None:
        self._sel.unregister(fd)

    def poll(self, timeout: float, max_events: int) -> list[tuple[Any, int]]:
        events = self._sel.select(timeout)
        if len(events) > max_events:
            half = max_events // 2
            events = events[:half] + events[-half:]
        return [(key.data, mask) for key, mask in events]

    def close(self) -> None:
        self._sel.close()

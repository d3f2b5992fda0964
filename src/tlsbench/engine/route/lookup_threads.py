"""Daemon threads for calls that have no timeout of their own (getaddrinfo), kept for the next call.

The resolve stage runs each lookup in a thread it can stop waiting for. Starting a thread per lookup
cost ~0.15 ms of CPU, a tenth of a repeated run's own (`probe --count`, bench/batch_profile.py): a
thread that finished its call waits for the next one instead. A call that hangs keeps its thread;
the next call gets another, so no lookup ever waits behind one left behind.

    done = in_thread(work)     # work() runs in a daemon thread; done is set when it returns
    done.wait(timeout)
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Callable

MAX_IDLE = 16  # threads kept waiting; a thread finding this many idle ones ends instead

_lock = threading.Lock()
_idle: list[queue.SimpleQueue] = []  # the inboxes of the threads waiting for a call


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: their inboxes must not be used there."""
    global _lock
    _lock = threading.Lock()
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def in_thread(work: Callable[[], None], name: str = "tlsbench-lookup") -> threading.Event:
    """Run `work()` in a daemon thread (an idle one, or a new one); the event is set when it has returned.
    `work` must not raise (its caller's box holds what it found or the exception)."""
    done = threading.Event()
    with _lock:
        inbox = _idle.pop() if _idle else None
    if inbox is None:
        inbox = queue.SimpleQueue()
        threading.Thread(target=_serve, args=(inbox,), name=name, daemon=True).start()
    inbox.put((work, done))
    return done


def _serve(inbox: queue.SimpleQueue) -> None:
    while True:
        work, done = inbox.get()
        try:
            work()
        finally:
            done.set()
        with _lock:
            if len(_idle) >= MAX_IDLE:
                return
            _idle.append(inbox)

"""Runs a ConnectionSpec stage by stage and emits events; the engine's public entry point.

    result = run_probe(spec, on_event=print, cancel=token)

`on_event` is called from the running thread for every Event (see events.py), in order,
ending with RunFinished. `cancel` (a CancelToken) may be triggered from another thread: the
stage in flight is interrupted (its socket closed) and the result has cancelled=True.
"""

from __future__ import annotations

import threading
from typing import Callable

from tlsbench.engine.events import Event
from tlsbench.engine.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec


class CancelToken:
    """Thread-safe cancellation: `cancel()` from any thread closes the registered socket."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sock = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def attach(self, sock) -> None:
        with self._lock:
            self._sock = sock
            if self._event.is_set():
                self._close()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            self._close()

    def _close(self) -> None:
        if self._sock is not None:
            try:
                import socket

                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def run_probe(spec: ConnectionSpec, on_event: Callable[[Event], None] | None = None,
              cancel: CancelToken | None = None) -> ProbeResult:
    raise NotImplementedError("the engine stages are being written")

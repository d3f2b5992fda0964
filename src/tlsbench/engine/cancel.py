"""Thread-safe cancellation of a run in flight."""

from __future__ import annotations

import socket
import threading
from typing import Callable


class CancelToken:
    """Thread-safe cancellation: `cancel()` from any thread closes the registered socket."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._callbacks: list[Callable[[], object]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self._event.is_set():
                self._close()

    def on_cancel(self, callback: Callable[[], object]) -> None:
        """Call `callback()` once when the run is cancelled (at once if it already was)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            self._close()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

"""The listener in a child process of its own, for a caller whose interpreter is busy (the workbench).

A listener thread beside a UI waits for the interpreter while the UI draws: every handshake it
serves then takes as long as the drawing. In its own process it answers as `tlsbench serve` does,
and its events come back over a pipe. `ListenerProcess` offers what the workbench uses of
`Listener`: start(), stop(), toggle_pause(), and address, port, config, cert_path, cert_info.

    listener = ListenerProcess(config, on_event=callback)   # callback: from a reader thread
    listener.start()      # InputError as Listener.start() raises it; the child is then gone

A child whose parent goes away sees the end of its input, stops its listener and exits.

Protocol (both ends are ours, so pickle is safe): frames of a 4-byte length + a pickle.
  parent -> child: ("start", config) | ("toggle",) | ("stop",)
  child -> parent: ("events", [event, ...]) after each round of the listener's loop
                   | ("started", facts) | ("input-error", (text, field)) | ("error", text)
"""

from __future__ import annotations

import collections
import os
import queue
import subprocess
import sys
import threading
from typing import Callable

from tlsbench.errors import InputError, TlsbenchError
from tlsbench.engine.listener.config import ListenerConfig, checked
from tlsbench.engine.listener.events import ListenerError, ListenerEvent, Listening, PauseChanged, Stopped
from tlsbench.engine.series.frames import drain_lines, read_frame, write_frame

STOP_WAIT = 3.0  # seconds a child asked to stop has before it is killed


class ListenerCrashed(TlsbenchError):
    title = "listener process failed"


class ListenerProcess:
    """A Listener run by a child process; `on_event` is called from a reader thread, in order."""

    def __init__(self, config: ListenerConfig, on_event: Callable[[ListenerEvent], object] | None = None) -> None:
        self.config = checked(config)
        self.on_event = on_event
        self.address = self.config.bind
        self.port = 0
        self.cert_path: str | None = None
        self.cert_info = None
        self._child: subprocess.Popen[bytes] | None = None
        self._write_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=10)
        self._stopped_seen = False
        self._clients = 0
        self._paused = self.config.pause_accept

    @property
    def paused(self) -> bool:
        """Whether the listener pauses accepting, as its last event said."""
        return self._paused

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        child = subprocess.Popen([sys.executable, "-m", "tlsbench.engine.listener.process"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
        self._child = child
        threading.Thread(target=self._drain_stderr, args=(child,), name="tlsbench-listener-stderr",
                         daemon=True).start()
        assert child.stdout is not None
        early: list = []
        try:
            self._send(("start", self.config))
            while True:
                frame = read_frame(child.stdout)
                if frame is None:
                    raise ListenerCrashed(f"the listener process ended before listening ({self._last_words()})")
                if frame[0] == "events":
                    early.extend(frame[1])
                elif frame[0] == "started":
                    facts = frame[1]
                    self.address, self.port = facts["address"], facts["port"]
                    self.cert_path, self.cert_info = facts["cert_path"], facts["cert_info"]
                    break
                elif frame[0] == "input-error":
                    raise InputError(frame[1][0], field=frame[1][1])
                else:
                    raise ListenerCrashed(str(frame[1]))
        except BaseException:
            self._end(child)
            raise
        self._reader = threading.Thread(target=self._follow, args=(child, early), name="tlsbench-listener-events",
                                        daemon=True)
        self._reader.start()

    def _follow(self, child: subprocess.Popen[bytes], early: list) -> None:
        assert child.stdout is not None
        for event in early:
            self._deliver(event)
        while True:
            frame = read_frame(child.stdout)
            if frame is None:
                break
            if frame[0] == "events":
                for event in frame[1]:
                    self._deliver(event)
        if not self._stopped_seen:  # it died: say so, and that it is no longer listening
            self._deliver(ListenerError(message=f"the listener process ended ({self._last_words()})"))
            self._deliver(Stopped(clients_served=self._clients))

    def _deliver(self, event: ListenerEvent) -> None:
        if isinstance(event, Stopped):
            self._stopped_seen = True
        elif isinstance(event, (Listening, PauseChanged)):
            self._paused = event.paused
        client = getattr(event, "client_id", None)
        if client is not None:
            self._clients = max(self._clients, client + 1)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a broken consumer must not stop the events that follow
                pass

    def _send(self, frame: tuple) -> None:
        child = self._child
        if child is None or child.stdin is None:
            return
        with self._write_lock:
            try:
                write_frame(child.stdin, frame)
            except (OSError, ValueError):
                pass  # the child is gone: its reader reports it

    def toggle_pause(self) -> None:
        self._send(("toggle",))

    def stop(self, timeout: float = STOP_WAIT) -> None:
        """Stop the listener (its Stopped event still arrives) and end the child, killed if it lingers."""
        child = self._child
        if child is None:
            return
        self._send(("stop",))
        self._end(child, timeout)
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)

    def _end(self, child: subprocess.Popen[bytes], timeout: float = STOP_WAIT) -> None:
        with self._write_lock:
            try:
                if child.stdin is not None:
                    child.stdin.close()  # the end of its input: it stops and exits
            except OSError:
                pass
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def _drain_stderr(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stderr is not None
        drain_lines(child.stderr, self._stderr)

    def _last_words(self) -> str:
        return self._stderr[-1] if self._stderr else "no message"


# --- the child's side -----------------------------------------------------------------------------

def _child() -> int:
    from tlsbench.engine.listener.server import Listener

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    lock = threading.Lock()
    pending: list = []
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def writer() -> None:
        # The only writer of the pipe, so the listener's loop never waits for a parent slow to read
        # (a UI busy drawing): its events queue here instead.
        while True:
            frame = outbox.get()
            if frame is None:
                return
            try:
                write_frame(out, frame)
            except (OSError, ValueError):
                pass  # the parent is gone; the end of the input follows

    writing = threading.Thread(target=writer, name="tlsbench-listener-writer", daemon=True)
    writing.start()

    def send(frame: tuple) -> None:
        outbox.put(frame)

    def on_event(event: ListenerEvent) -> None:
        with lock:
            pending.append(event)

    def flush() -> None:
        with lock:  # taken and queued under one lock: batches from two threads keep their order
            if pending:
                outbox.put(("events", pending[:]))
                pending.clear()

    frame = read_frame(inp)
    if frame is None or frame[0] != "start":
        return 0
    listener = Listener(frame[1], on_event=on_event, on_flush=flush)
    try:
        listener.start()
    except InputError as exc:
        send(("input-error", (str(exc), exc.field)))
        outbox.put(None)
        writing.join(STOP_WAIT)
        return 0
    except Exception as exc:  # shown in the workbench, never a traceback
        send(("error", f"{type(exc).__name__}: {exc}"))
        outbox.put(None)
        writing.join(STOP_WAIT)
        return 1
    flush()
    send(("started", {"address": listener.address, "port": listener.port, "cert_path": listener.cert_path,
                      "cert_info": listener.cert_info}))
    while True:
        frame = read_frame(inp)
        if frame is None or frame[0] == "stop":
            break
        if frame[0] == "toggle":
            listener.toggle_pause()
    listener.stop()
    flush()
    outbox.put(None)
    writing.join(STOP_WAIT)
    return 0


if __name__ == "__main__":
    sys.exit(_child())

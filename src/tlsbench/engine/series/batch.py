"""Run one connection many times: worker processes fed with run numbers, each run reduced where it ended.

    batch = Batch(spec, count=2000, concurrency=16)
    batch.run(on_digest=stats.add, on_tick=progress)  # returns when every run has ended, or after stop()
    batch.stop()  # from a signal handler too: runs in flight are cancelled, no new one starts

Why processes: a run spends most of its time in Python (the engine records every stage, message
and certificate), and one process holds one GIL. The C runs allowed at once are spread over up
to `processes` forked workers of a few threads ("slots") each. Every slot builds its own SSL
context: the engine sets the TLS message callback on the context for each run, so two runs in
flight must never share one. A worker sends back a RunDigest (engine/series/stats.py), plus the run's
whole JSON object when asked for: the records themselves never cross, and nothing is kept.

Protocol over two pipes per worker (both ends are ours, so pickle is safe):
  parent -> worker: 4-byte run numbers; 0, or the end of input, means cancel what runs and stop;
  worker -> parent: 4-byte length + the pickle of a RunDigest, or of ("error", text).
Where os.fork is missing, the same worker loop runs in a thread of this process.
"""

from __future__ import annotations

import os
import pickle
import queue
import selectors
import signal
import struct
import sys
import threading
import time
from typing import Callable

from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.series.stats import RunDigest

_U32 = struct.Struct("!I")
_STOP = 0
TICK = 0.1  # seconds between on_tick calls (progress) while waiting
STOP_WAIT = 5.0  # seconds given to workers to report their cancelled runs and exit
PREFETCH = 2  # run numbers queued per slot when there is no interval, so no slot waits for the parent


def default_processes(concurrency: int) -> int:
    """Worker processes for C runs at once: one per core, the rest of C as threads in them.

    Measured against a local nginx on 2 cores (bench/batch.py): more processes than cores only
    added CPU per run (context switches), and runs waiting on the network overlap in threads.
    """
    return max(1, min(concurrency, os.cpu_count() or 1))


def split_slots(concurrency: int, processes: int) -> list[int]:
    processes = max(1, min(processes, concurrency))
    return [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# --- the worker -----------------------------------------------------------------------------------

def serve(spec: ConnectionSpec, slots: int, rfd: int, wfd: int, json_lines: bool) -> None:
    """The worker loop: read run numbers from rfd, run them on `slots` threads, write digests to wfd."""
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.runner import preflight, run_probe
    from tlsbench.engine.series.stats import digest

    tickets: queue.SimpleQueue = queue.SimpleQueue()
    stopping = threading.Event()
    guard, write_lock = threading.Lock(), threading.Lock()
    inflight: dict[int, CancelToken] = {}

    def send(obj: RunDigest | tuple[str, str]) -> None:  # a digest, or ("error", words)
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        with write_lock:
            _write_all(wfd, _U32.pack(len(data)) + data)

    def slot() -> None:
        try:
            prepared = preflight(spec)  # this slot's own SSL context
            while True:
                run = tickets.get()
                if run is None or stopping.is_set():
                    return
                token = CancelToken()
                with guard:
                    inflight[run] = token
                if stopping.is_set():
                    token.cancel()
                try:
                    result = run_probe(spec, cancel=token, prepared=prepared)
                finally:
                    with guard:
                        inflight.pop(run, None)
                send(digest(result, run, json_line=json_lines))
        except OSError:  # the parent is gone (its end of the pipe closed)
            stopping.set()
        except Exception as exc:  # a bug: told to the parent as data, never a traceback on its screen
            stopping.set()
            try:
                send(("error", f"{type(exc).__name__}: {exc}"))
            except OSError:
                pass

    threads = [threading.Thread(target=slot, name=f"tlsbench-run-{i}", daemon=True) for i in range(slots)]
    for thread in threads:
        thread.start()
    buf = b""
    try:
        while not stopping.is_set():
            data = os.read(rfd, 4096)
            if not data:
                break
            buf += data
            while len(buf) >= _U32.size:
                (run,) = _U32.unpack_from(buf)
                buf = buf[_U32.size:]
                if run == _STOP:
                    stopping.set()
                    break
                tickets.put(run)
    finally:
        stopping.set()
        with guard:
            tokens = list(inflight.values())
        for token in tokens:
            token.cancel()
        for _ in threads:
            tickets.put(None)
        for thread in threads:
            thread.join(timeout=STOP_WAIT)
        os.close(wfd)


# --- the parent -----------------------------------------------------------------------------------

class _Worker:
    def __init__(self, slots: int, to_fd: int, from_fd: int, pid: int | None = None,
                 thread: threading.Thread | None = None) -> None:
        self.slots, self.to_fd, self.from_fd, self.pid, self.thread = slots, to_fd, from_fd, pid, thread
        self.outstanding = 0  # run numbers sent and not yet reported
        self.buf = bytearray()
        self.reading = True

    def send(self, run: int) -> bool:
        if self.to_fd < 0:
            return False
        try:
            _write_all(self.to_fd, _U32.pack(run))
            return True
        except OSError:
            return False

    def close_input(self) -> None:
        if self.to_fd >= 0:
            os.close(self.to_fd)
            self.to_fd = -1


class Batch:
    """`count` runs of `spec`, at most `concurrency` at once, starts at least `interval` seconds apart."""

    def __init__(self, spec: ConnectionSpec, *, count: int, concurrency: int = 1, interval: float = 0.0,
                 json_lines: bool = False, processes: int | None = None, fork: bool | None = None) -> None:
        self.spec = spec
        self.count = count
        self.concurrency = max(1, min(concurrency, count))
        self.interval = interval
        self.json_lines = json_lines
        self.processes = min(processes or default_processes(self.concurrency), self.concurrency)
        self.fork = hasattr(os, "fork") if fork is None else fork
        self.dispatched = 0
        self.received = 0
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.stopping = False  # no more starts: stop() was asked, or a worker failed
        self.errors: list[str] = []
        self._stop_asked = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    # Called from a signal handler: only a flag and one byte in a pipe.
    def stop(self) -> None:
        self._stop_asked = True
        try:
            os.write(self._wake_w, b"s")
        except OSError:
            pass

    def kill(self) -> None:
        """Stop at once: the workers are killed, their runs in flight are lost."""
        try:
            os.write(self._wake_w, b"k")
        except OSError:
            pass

    @property
    def elapsed(self) -> float:
        if self.first_start is None:
            return 0.0
        return (self.last_end or time.monotonic()) - self.first_start

    def run(self, on_digest: Callable[[RunDigest], None], on_tick: Callable[[], None] | None = None) -> None:
        workers = self._start_workers()
        sel = selectors.DefaultSelector()
        try:
            for w in workers:
                sel.register(w.from_fd, selectors.EVENT_READ, w)
            sel.register(self._wake_r, selectors.EVENT_READ, None)
            self._loop(workers, sel, on_digest, on_tick)
        finally:
            self._shutdown(workers, sel)

    def _loop(self, workers: list[_Worker], sel: selectors.BaseSelector, on_digest: Callable[[RunDigest], None],
              on_tick: Callable[[], None] | None) -> None:
        next_run, last_start, deadline = 1, None, 0.0
        while True:
            now = time.monotonic()
            if self._stop_asked and not self.stopping:
                deadline = self._begin_stop(workers)
            if not self.stopping:
                next_run, last_start = self._dispatch(workers, next_run, last_start, now)
                if next_run > self.count and self.received >= self.dispatched:
                    return
            elif not any(w.reading for w in workers) or now > deadline:
                return
            timeout = TICK
            if self.interval and last_start is not None and not self.stopping and next_run <= self.count:
                timeout = min(TICK, max(0.0, last_start + self.interval - now))
            for key, _ in sel.select(timeout):
                worker = key.data
                if worker is None:
                    if b"k" in os.read(self._wake_r, 64):
                        self._kill(workers)
                    self._stop_asked = True
                else:
                    self._read(worker, sel, on_digest)
            if self.errors and not self.stopping:
                deadline = self._begin_stop(workers)
            if on_tick is not None:
                on_tick()

    def _dispatch(self, workers: list[_Worker], next_run: int, last_start: float | None,
                  now: float) -> tuple[int, float | None]:
        while next_run <= self.count:
            if self.interval and last_start is not None and now < last_start + self.interval:
                break
            cap = 1 if self.interval else PREFETCH
            ready = [w for w in workers if w.to_fd >= 0 and w.outstanding < w.slots * cap]
            if not ready:
                break
            worker = min(ready, key=lambda w: w.outstanding / w.slots)
            if not worker.send(next_run):
                worker.close_input()
                continue
            worker.outstanding += 1
            self.dispatched += 1
            if self.first_start is None:
                self.first_start = now
            next_run += 1
            last_start = now
        return next_run, last_start

    def _read(self, w: _Worker, sel: selectors.BaseSelector, on_digest: Callable[[RunDigest], None]) -> None:
        data = os.read(w.from_fd, 1 << 16)
        if not data:
            sel.unregister(w.from_fd)
            os.close(w.from_fd)
            w.reading = False
            w.close_input()
            if not self.stopping:
                self.errors.append(f"a worker process ended early ({w.outstanding} run(s) unfinished)")
            return
        w.buf += data
        while len(w.buf) >= _U32.size:
            (size,) = _U32.unpack_from(w.buf)
            if len(w.buf) < _U32.size + size:
                break
            message = pickle.loads(bytes(w.buf[_U32.size:_U32.size + size]))
            del w.buf[:_U32.size + size]
            if isinstance(message, RunDigest):
                w.outstanding -= 1
                self.received += 1
                self.last_end = time.monotonic()
                on_digest(message)
            else:
                self.errors.append(str(message[1]))

    def _begin_stop(self, workers: list[_Worker]) -> float:
        self.stopping = True
        for w in workers:
            if not w.send(_STOP):
                w.close_input()
        return time.monotonic() + STOP_WAIT

    def _kill(self, workers: list[_Worker]) -> None:
        self.stopping = True
        for w in workers:
            if w.pid is not None:
                try:
                    os.kill(w.pid, signal.SIGKILL)
                except OSError:
                    pass

    # --- starting and ending the workers ----------------------------------------------------------

    def _start_workers(self) -> list[_Worker]:
        sizes = split_slots(self.concurrency, self.processes)
        pipes = [(os.pipe(), os.pipe()) for _ in sizes]
        workers: list[_Worker] = []
        if self.fork:
            sys.stdout.flush()
            sys.stderr.flush()
        for slots, ((to_r, to_w), (from_r, from_w)) in zip(sizes, pipes):
            if not self.fork:
                thread = threading.Thread(target=serve, args=(self.spec, slots, to_r, from_w, self.json_lines),
                                          name="tlsbench-batch-worker", daemon=True)
                thread.start()
                workers.append(_Worker(slots, to_w, from_r, thread=thread))
                continue
            pid = os.fork()
            if pid == 0:  # the child: keep its own two ends, close every other descriptor of the batch
                code = 1
                try:
                    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
                    mine = {to_r, from_w}
                    for fd in [self._wake_r, self._wake_w] + [fd for p in pipes for pair in p for fd in pair]:
                        if fd not in mine:
                            try:
                                os.close(fd)
                            except OSError:
                                pass
                    serve(self.spec, slots, to_r, from_w, self.json_lines)
                    code = 0
                finally:
                    os._exit(code)
            os.close(to_r)
            os.close(from_w)
            workers.append(_Worker(slots, to_w, from_r, pid=pid))
        return workers

    def _shutdown(self, workers: list[_Worker], sel: selectors.BaseSelector) -> None:
        for w in workers:
            w.close_input()  # end of input: a worker cancels what runs and exits
            if w.reading:  # nothing more is read: a worker blocked writing gets EPIPE instead of waiting
                w.reading = False
                os.close(w.from_fd)
        deadline = time.monotonic() + STOP_WAIT
        for w in workers:
            if w.pid is not None:
                _reap(w.pid, deadline)
            elif w.thread is not None:
                w.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        sel.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


def _reap(pid: int, deadline: float) -> None:
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
            return
        time.sleep(0.01)

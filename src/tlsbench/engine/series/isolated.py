"""Run probes in a long-lived child process, so that their timings are the network's and not the caller's.

A UI thread busy drawing holds the GIL: a probe in a thread beside it measured a 0.1 ms loopback
connect as 12 ms and a 2 ms handshake as 30 ms. In its own process the engine measures what
`tlsbench probe` measures. Starting a Python process and importing the engine costs far more than
a loopback run, so one child (`python -m tlsbench.engine.series.isolated`) serves job after job: the
parent sends a job, the child streams back its events, then waits for the next one.

    result = run_probe_isolated(spec, on_event=callback, cancel=token)   # the shared engine
    with EngineProcess() as engine: engine.probe(spec)                     # one of your own

Each job is alone: the child prepares its plan (SSL contexts, CA store) afresh and gives it a
CancelToken of its own; what survives between jobs is imported code, the resolver's warm-up and
the parse cache of certificate bytes (certparse), never a context, a session or a socket.

Cancel: the caller's CancelToken sends ("cancel", job) and the child's token closes the run's
socket at once. A child that has not ended the job CANCEL_GRACE seconds later, one that dies, or a
broken pipe: the child is killed, the job fails with EngineCrashed, and the next job starts a fresh
child. A child whose parent goes away sees the end of its input, cancels and exits (no orphans);
the workbench also shuts the shared engine down when it exits (`shutdown_shared`).

Protocol (both ends are ours, so pickle is safe): frames of a 4-byte length + a pickle.
  parent -> child: ("job", n, kind, args, kwargs) | ("cancel", n, None, (), {})
  child -> parent: ("event", n, event) | ("input-error", n, (text, field)) | ("crash", n, text)
                   | ("done", n, None) after every job, whatever happened in it
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import subprocess
import sys
import threading
from typing import Any, Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.errors import InputError, TlsbenchError
from tlsbench.engine.events import Event, RunFinished
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.series.frames import drain_lines, read_frame, write_frame

CANCEL_GRACE = 2.0  # seconds a cancelled job has to end before its child is killed
CLOSE_WAIT = 2.0  # seconds a child asked to exit (its input closed) has before it is killed
MAX_IDLE = 2  # idle children kept by the shared pool (a probe and a diagnosis may overlap)
STDERR_LINES = 20  # the last lines of the child's stderr kept for an error message

# Job kinds the child runs: "module:function", called as function(*args, on_event=, cancel=, **kwargs).
JOBS: dict[str, str] = {
    "probe": "tlsbench.engine.runner:run_probe",
    "probe-captured": "tlsbench.engine.capture.isolated:probe_captured",  # the workbench's runs (--pcap's save)
    "diagnose": "tlsbench.engine.why.run:diagnose",
}


class EngineCrashed(TlsbenchError):
    title = "engine process failed"


class _Unheard(Exception):
    """The child ended before it said anything of the job."""


# --- the parent's side ----------------------------------------------------------------------------

class EngineProcess:
    """One child process serving one job at a time; started on first use, restarted after a failure."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one job at a time
        self._write_lock = threading.Lock()  # a job frame and a cancel frame never interleave
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._jobs = 0
        self.started = 0  # children started over this object's life (a test reads it)

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def start(self) -> None:
        """Start the child now (a warm-up); nothing when it already runs."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> subprocess.Popen[bytes]:
        child = self._child
        if child is not None and child.poll() is None:
            return child
        if child is not None:
            self._reap(child)
        self._stderr.clear()
        child = subprocess.Popen([sys.executable, "-m", "tlsbench.engine.series.isolated"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
        self._child = child
        self.started += 1
        threading.Thread(target=self._drain_stderr, args=(child,), name="tlsbench-engine-stderr",
                         daemon=True).start()
        return child

    def _drain_stderr(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stderr is not None
        drain_lines(child.stderr, self._stderr)

    def _last_words(self) -> str:
        return self._stderr[-1] if self._stderr else "no message"

    def run(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
            on_event: Callable[[Any], object] | None = None, cancel: CancelToken | None = None) -> Any:
        """Run one job in the child; returns the function's value (taken from its last event).

        Raises InputError as the function does, EngineCrashed when the child fails or had to be killed.
        """
        emit = on_event or (lambda event: None)
        with self._lock:
            for attempt in (1, 2):
                # A child that died while idle (killed, out of memory) fails the job before saying a
                # word of it: the job is then given once to a fresh child.
                self._jobs += 1
                job = self._jobs
                child = self._ensure()
                try:
                    self._send(child, ("job", job, kind, args, kwargs or {}))
                    return self._follow(child, job, emit, cancel)
                except (OSError, ValueError, _Unheard):
                    self._kill(child)
                    if attempt == 2:
                        raise EngineCrashed(f"the engine process ended before the run began ({self._last_words()})"
                                            ) from None
            raise AssertionError("unreachable")

    def _send(self, child: subprocess.Popen[bytes], frame: tuple[Any, ...]) -> None:
        assert child.stdin is not None
        with self._write_lock:
            write_frame(child.stdin, frame)

    def _follow(self, child: subprocess.Popen[bytes], job: int, emit: Callable[[Any], object],
                cancel: CancelToken | None) -> Any:
        assert child.stdout is not None
        killed = threading.Event()
        timer: list[threading.Timer] = []
        following = [True]  # guarded by `state`: a cancel after the job ended must not touch the child
        state = threading.Lock()

        def kill_late() -> None:
            with state:
                if not following[0]:
                    return
                killed.set()
            self._kill(child, reap=False)

        def forward_cancel() -> None:
            with state:
                if not following[0]:
                    return
                late = threading.Timer(CANCEL_GRACE, kill_late)
                late.daemon = True
                timer.append(late)
            try:
                self._send(child, ("cancel", job, None, (), {}))
            except (OSError, ValueError):
                pass
            late.start()

        if cancel is not None:
            cancel.on_cancel(forward_cancel)
        value: Any = None
        failure: BaseException | None = None
        heard = False
        try:
            while True:
                message = read_frame(child.stdout)
                if message is None:
                    if not heard and not killed.is_set() and not (cancel is not None and cancel.cancelled):
                        raise _Unheard()
                    self._kill(child)
                    if killed.is_set():
                        raise EngineCrashed(f"the engine process did not stop within {CANCEL_GRACE:g} s of "
                                            "cancel and was killed")
                    raise EngineCrashed(f"the engine process ended early ({self._last_words()})")
                what, number, payload = message
                heard = True
                if number != job:
                    continue  # (cannot happen: one job at a time; never mistaken for this one's)
                if what == "event":
                    emit(payload)
                    value = _value_of(payload, value)
                elif what == "input-error":
                    failure = InputError(payload[0], field=payload[1])
                elif what == "crash":
                    failure = EngineCrashed(str(payload))
                elif what == "done":
                    break
        finally:
            with state:
                following[0] = False
                for late in timer:
                    late.cancel()
        if failure is not None:
            raise failure
        if value is None:
            raise EngineCrashed("the engine process ended the job without its result")
        return value

    def probe(self, spec: ConnectionSpec, on_event: Callable[[Event], object] | None = None,
              cancel: CancelToken | None = None) -> ProbeResult:
        result: ProbeResult = self.run("probe", (spec,), {}, on_event, cancel)
        return result

    def _kill(self, child: subprocess.Popen[bytes], reap: bool = True) -> None:
        try:
            child.kill()
        except OSError:
            pass
        if reap:
            self._reap(child)

    def _reap(self, child: subprocess.Popen[bytes]) -> None:
        try:
            child.wait(timeout=CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            pass
        for stream in (child.stdin, child.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self._child is child:
            self._child = None

    def close(self) -> None:
        """Ask the child to exit (its input closed) and wait for it; killed when it does not go."""
        child = self._child
        if child is None:
            return
        try:
            with self._write_lock:
                if child.stdin is not None:
                    child.stdin.close()
        except OSError:
            pass
        try:
            child.wait(timeout=CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            self._kill(child)
        self._reap(child)

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _value_of(event: Any, previous: Any) -> Any:
    """The job's value: the result a finishing event carries (RunFinished, DiagnosisFinished)."""
    if isinstance(event, RunFinished):
        return event.result
    name = type(event).__name__
    if name == "DiagnosisFinished":
        return getattr(event, "diagnosis", previous)
    return previous


class EnginePool:
    """The shared engine: idle children reused; a job finding them all busy gets one more."""

    def __init__(self, max_idle: int = MAX_IDLE) -> None:
        self.max_idle = max_idle
        self._guard = threading.Lock()
        self._idle: list[EngineProcess] = []
        self._busy: list[EngineProcess] = []

    def _acquire(self) -> EngineProcess:
        with self._guard:
            engine = self._idle.pop() if self._idle else EngineProcess()
            self._busy.append(engine)
            return engine

    def _release(self, engine: EngineProcess) -> None:
        with self._guard:
            if engine in self._busy:
                self._busy.remove(engine)
            keep = len(self._idle) < self.max_idle
            if keep:
                self._idle.append(engine)
        if not keep:
            engine.close()

    def run(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
            on_event: Callable[[Any], object] | None = None, cancel: CancelToken | None = None) -> Any:
        engine = self._acquire()
        try:
            return engine.run(kind, args, kwargs, on_event, cancel)
        finally:
            self._release(engine)

    def warm(self) -> None:
        """Start a child now if none is idle (call from a thread: it waits for the process to start)."""
        with self._guard:
            if self._idle:
                engine = self._idle[-1]
            else:
                engine = EngineProcess()
                self._idle.append(engine)
        if not engine.busy:
            engine.start()

    def pids(self) -> list[int]:
        with self._guard:
            engines = self._idle + self._busy
        return [pid for pid in (e.pid for e in engines) if pid is not None]

    def shutdown(self) -> None:
        """Close every child (busy ones are killed: their jobs end with EngineCrashed)."""
        with self._guard:
            idle, busy = self._idle, list(self._busy)
            self._idle = []
        for engine in idle:
            engine.close()
        for engine in busy:
            child = engine._child
            if child is not None:
                engine._kill(child, reap=False)


_shared: EnginePool | None = None
_shared_guard = threading.Lock()


def shared() -> EnginePool:
    """The process-wide pool (closed at exit)."""
    global _shared
    with _shared_guard:
        if _shared is None:
            _shared = EnginePool()
            atexit.register(shutdown_shared)
        return _shared


def shutdown_shared() -> None:
    """Stop the shared engine's children (the workbench calls this when it exits)."""
    with _shared_guard:
        pool = _shared
    if pool is not None:
        pool.shutdown()


def run_probe_isolated(spec: ConnectionSpec, on_event: Callable[[Event], object] | None = None,
                       cancel: CancelToken | None = None) -> ProbeResult:
    """Like runner.run_probe, in the shared engine process. Raises InputError as run_probe does."""
    result: ProbeResult = shared().run("probe", (spec,), {}, on_event, cancel)
    return result


# --- the child's side -----------------------------------------------------------------------------

def _child() -> int:
    from importlib import import_module

    inp = sys.stdin.buffer
    # The protocol gets stdout's descriptor to itself: a stray print in the engine goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    write_lock = threading.Lock()
    jobs: queue.SimpleQueue[tuple[int, str, tuple[Any, ...], dict[str, Any]] | None] = queue.SimpleQueue()
    current: dict[int, CancelToken] = {}
    guard = threading.Lock()

    def send(frame: tuple[str, int, Any]) -> None:
        with write_lock:
            write_frame(out, frame)

    def listen() -> None:
        # Jobs are queued; a cancel reaches the job in flight at once; the end of input (the parent
        # closed it, or is gone) cancels what runs and ends the loop.
        while True:
            try:
                frame = read_frame(inp)
            except Exception:  # a frame we cannot read: as good as the end
                frame = None
            if frame is None:
                with guard:
                    for running in current.values():
                        running.cancel()
                jobs.put(None)
                return
            what, number, kind, args, kwargs = frame
            if what == "cancel":
                with guard:
                    asked = current.get(number)
                if asked is not None:
                    asked.cancel()
            elif what == "job":
                with guard:
                    current[number] = CancelToken()
                jobs.put((number, kind, args, kwargs))

    threading.Thread(target=listen, name="tlsbench-engine-input", daemon=True).start()
    from tlsbench.engine import runner  # noqa: F401  (imported while the first job is on its way)
    from tlsbench.engine.plan import KINDS
    from tlsbench.engine.stages.contract import stage_factory

    # While no job waits (a child warmed up ahead of its first run), the stages' code is imported now
    # rather than in the first run's preparation; a job that arrives stops this at once.
    for stage_kind in KINDS.values():
        if not jobs.empty():
            break
        stage_factory(stage_kind)

    while True:
        item = jobs.get()
        if item is None:
            return 0
        number, kind, args, kwargs = item
        with guard:
            token = current[number]
        try:
            module, _, name = JOBS[kind].partition(":")
            function = getattr(import_module(module), name)
            function(*args, on_event=lambda event, n=number: send(("event", n, event)), cancel=token, **kwargs)
        except InputError as exc:
            send(("input-error", number, (str(exc), exc.field)))
        except OSError:  # the parent's end of the pipe is gone
            return 0
        except Exception as exc:  # reported to the parent as data, never a traceback on its screen
            send(("crash", number, f"{type(exc).__name__}: {exc}"))
        finally:
            with guard:
                current.pop(number, None)
        try:
            send(("done", number, None))
        except OSError:
            return 0


if __name__ == "__main__":
    raise SystemExit(_child())

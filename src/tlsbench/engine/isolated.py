"""Run a probe in a child process, so that its timings are the network's and not the caller's.

A UI thread busy drawing holds the GIL: a probe in a thread beside it measured a 0.1 ms loopback
connect as 12 ms and a 2 ms handshake as 30 ms. In its own process the engine measures what
`tlsbench probe` measures. The child receives the spec and streams back the same events; the
caller's CancelToken is forwarded. Pickle is only ever read from our own child.

    result = run_probe_isolated(spec, on_event=callback, cancel=token)
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.errors import InputError, TlsbenchError
from tlsbench.engine.events import Event, RunFinished
from tlsbench.engine.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec

_HEADER = struct.Struct("!I")


class EngineCrashed(TlsbenchError):
    title = "engine process failed"


def _write(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def run_probe_isolated(spec: ConnectionSpec, on_event: Callable[[Event], object] | None = None,
                       cancel: CancelToken | None = None) -> ProbeResult:
    """Like runner.run_probe, in a child process. Raises InputError as run_probe does."""
    emit = on_event or (lambda event: None)
    child = subprocess.Popen([sys.executable, "-m", "tlsbench.engine.isolated"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None  # all pipes
    lock = threading.Lock()

    def forward_cancel() -> None:
        assert child.stdin is not None
        with lock:
            try:
                child.stdin.write(b"C")
                child.stdin.flush()
            except (OSError, ValueError):
                pass

    try:
        with lock:
            _write(child.stdin, spec)
        if cancel is not None:
            cancel.on_cancel(forward_cancel)
        while True:
            message = _read(child.stdout)
            if message is None:
                err = child.stderr.read().decode("utf-8", "replace").strip().splitlines()
                raise EngineCrashed(f"the engine process ended early ({err[-1] if err else 'no message'})")
            kind, payload = message
            if kind == "event":
                emit(payload)
                if isinstance(payload, RunFinished):
                    return payload.result
            elif kind == "input-error":
                raise InputError(payload[0], field=payload[1])
            else:
                raise EngineCrashed(str(payload))
    finally:
        with lock:
            try:
                child.stdin.close()
            except OSError:
                pass
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


def _child() -> int:
    from tlsbench.engine.runner import run_probe

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    spec = _read(inp)
    token = CancelToken()

    def watch_parent() -> None:
        # A "C" asks to cancel; the end of input means the parent is gone: cancel too.
        while inp.read(1) not in (b"", b"C"):
            pass
        token.cancel()

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        run_probe(spec, on_event=lambda event: _write(out, ("event", event)), cancel=token)
    except InputError as exc:
        _write(out, ("input-error", (str(exc), exc.field)))
    except Exception as exc:  # reported to the parent as data, never a traceback on its screen
        _write(out, ("crash", f"{type(exc).__name__}: {exc}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child())

"""A diagnosis in a child process, streaming its events back (the workbench's "Why?").

For the same reason the workbench runs a probe in a child process (engine/isolated.py): a UI
thread drawing the screen holds the GIL and its work would show up in the variants' timings. The
child receives (spec, result, options) and sends back the diagnosis events; the caller's
CancelToken is forwarded. Pickle is only ever read from our own child.

    diagnosis = diagnose_isolated(spec, result, budget=10, on_event=callback, cancel=token)
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.diagnose.model import Diagnosis
from tlsbench.engine.diagnose.run import DiagnosisFinished, diagnose
from tlsbench.engine.isolated import EngineCrashed, _read, _write
from tlsbench.engine.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec


def diagnose_isolated(spec: ConnectionSpec, result: ProbeResult, *, on_event: Callable | None = None,
                      cancel: CancelToken | None = None, **options) -> Diagnosis:
    """Like run.diagnose (same keyword options), in a child process."""
    emit = on_event or (lambda event: None)
    child = subprocess.Popen([sys.executable, "-m", "tlsbench.engine.diagnose.isolated"], stdin=subprocess.PIPE,
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
            _write(child.stdin, (spec, result, options))
        if cancel is not None:
            cancel.on_cancel(forward_cancel)
        while True:
            message = _read(child.stdout)
            if message is None:
                err = child.stderr.read().decode("utf-8", "replace").strip().splitlines()
                raise EngineCrashed(f"the diagnosis process ended early ({err[-1] if err else 'no message'})")
            kind, payload = message
            if kind != "event":
                raise EngineCrashed(str(payload))
            emit(payload)
            if isinstance(payload, DiagnosisFinished):
                return payload.diagnosis
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
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    spec, result, options = _read(inp)
    token = CancelToken()

    def watch_parent() -> None:
        # A "C" asks to cancel; the end of input means the parent is gone: cancel too.
        while inp.read(1) not in (b"", b"C"):
            pass
        token.cancel()

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        diagnose(spec, result, on_event=lambda event: _write(out, ("event", event)), cancel=token, **options)
    except Exception as exc:  # reported to the parent as data, never a traceback on its screen
        _write(out, ("crash", f"{type(exc).__name__}: {exc}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child())

"""Runs a ConnectionSpec stage by stage and emits events; the engine's public entry point.

    result = run_probe(spec, on_event=print, cancel=token)

`on_event` is called from the running thread for every Event (see events.py), in order,
ending with RunFinished. `cancel` (a CancelToken) may be triggered from another thread: the
stage in flight is interrupted (its socket closed) and the result has cancelled=True.
"""

from __future__ import annotations

from typing import Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.events import Event
from tlsbench.engine.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec


def run_probe(spec: ConnectionSpec, on_event: Callable[[Event], None] | None = None,
              cancel: CancelToken | None = None) -> ProbeResult:
    raise NotImplementedError("the engine stages are being written")

"""A diagnosis in the engine's child process, streaming its events back (the workbench's "Why?").

For the same reason the workbench runs a probe in a child process (engine/series/isolated.py): a UI
thread drawing the screen holds the GIL and its work would show up in the variants' timings. The
diagnosis is one more job for the shared engine process (it runs its variants in threads of its
own there, each with its own prepared plan); the caller's CancelToken is forwarded.

    diagnosis = diagnose_isolated(spec, result, budget=10, on_event=callback, cancel=token)
"""

from __future__ import annotations

from typing import Any, Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.why.model import Diagnosis
from tlsbench.engine.series.isolated import shared
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec


def diagnose_isolated(spec: ConnectionSpec, result: ProbeResult, *, on_event: Callable[[Any], object] | None = None,
                      cancel: CancelToken | None = None, **options: Any) -> Diagnosis:
    """Like run.diagnose (same keyword options), in the shared engine process."""
    diagnosis: Diagnosis = shared().run("diagnose", (spec, result), options, on_event, cancel)
    return diagnosis

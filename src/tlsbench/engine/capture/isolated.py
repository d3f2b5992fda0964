"""A run captured in the engine's child process (the workbench's runs), its capture handed back as data.

The child runs the probe with a Capture of WORKBENCH_LIMIT payload bytes and, once RunFinished is
out, sends the finished capture (credentials masked, the key lines of the sessions that may be read)
as one more message of the job; the parent keeps it aside, so it never reaches the run's events
(a saved run file holds no TLS secret). Saving it (`files.save_pcap`) then writes what this run
exchanged: nothing is run again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from tlsbench.engine.capture.taps import Capture, Captured

if TYPE_CHECKING:
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.events import Event
    from tlsbench.engine.records.result import ProbeResult
    from tlsbench.engine.spec import ConnectionSpec

WORKBENCH_LIMIT = 32 * 1024 * 1024  # payload bytes a workbench run keeps; past it, frames keep headers only


def probe_captured(spec: ConnectionSpec, on_event: Callable[[Any], None], cancel: CancelToken,
                   limit: int = WORKBENCH_LIMIT) -> ProbeResult:
    """The child's job: run_probe with a capture, then the capture itself as the job's last message."""
    from tlsbench.engine.runner import run_probe

    capture = Capture(limit)
    result = run_probe(spec, on_event=on_event, cancel=cancel, capture=capture)
    on_event(capture.finished())
    return result


def run_probe_captured(spec: ConnectionSpec, on_event: Callable[[Event], object] | None = None,
                       cancel: CancelToken | None = None) -> tuple[ProbeResult, Captured | None]:
    """Like run_probe_isolated, and the run's capture (None when the child sent none)."""
    from tlsbench.engine.series.isolated import shared

    kept: list[Captured] = []

    def sort(event: Any) -> None:
        if isinstance(event, Captured):
            kept.append(event)
        elif on_event is not None:
            on_event(event)

    result: ProbeResult = shared().run("probe-captured", (spec,), {}, sort, cancel)
    return result, kept[-1] if kept else None

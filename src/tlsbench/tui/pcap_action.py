"""The workbench's "save the capture" action: the last finished run's bytes as a pcapng file.

Every run of the workbench is captured by the engine's child process (engine/capture/isolated.py,
bounded); the capture comes back beside the run's events, never among them, and only the last
finished run's is kept. Saving writes that capture: the run is not made again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tlsbench.tui.messages import RunCaptured

if TYPE_CHECKING:
    from tlsbench.tui.workbench_parts import WorkbenchParts as _Screen
else:
    _Screen = object


class PcapAction(_Screen):
    """Mixed into the workbench screen: `action_save_pcap`, and the capture each run hands back."""

    last_capture: tuple[Any, Any] | None = None  # (spec, Captured) of the last finished run

    def on_run_captured(self, message: RunCaptured) -> None:
        if message.run_id == self.run_id and message.captured is not None:
            self.last_capture = (message.spec, message.captured)

    def action_save_pcap(self) -> None:
        from tlsbench.tui.screens.pcap_save import PcapSavePrompt

        self.app.push_screen(PcapSavePrompt(None if self.running else self.last_capture, running=self.running))

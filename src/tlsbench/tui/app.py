"""The workbench App: one screen, the command palette entries, and the first-frame hook for bench/."""

from __future__ import annotations

import os
import time
from typing import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from tlsbench.tui.screens.workbench import ACTIONS, WorkbenchScreen

# bench/startup.py sets this to a file path: the app writes the monotonic time of its first frame and exits.
FIRST_FRAME_ENV = "TLSBENCH_FIRST_FRAME_FILE"


class WorkbenchApp(App[int]):
    """tlsbench's Textual front-end. Build it with `make_app()` (tlsbench.commands.workbench)."""

    CSS_PATH = "workbench.tcss"
    TITLE = "tlsbench"

    def __init__(self, store=None, *, spec=None, profile: str | None = None, run: bool = False) -> None:
        super().__init__()
        self.store = store
        self._start = dict(spec=spec, profile=profile, run=run)

    def get_default_screen(self) -> Screen:
        return WorkbenchScreen(self.store, **self._start)

    def on_ready(self) -> None:
        path = os.environ.get(FIRST_FRAME_ENV)
        if path:
            with open(path, "w", encoding="ascii") as fh:
                fh.write(repr(time.monotonic()))
            self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, WorkbenchScreen):
            for key, action, label, help_text in ACTIONS:
                yield SystemCommand(f"{label} ({key})", help_text,
                                    lambda action=action: screen.run_action(action))

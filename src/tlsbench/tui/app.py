"""The workbench App: one screen, and the command palette's entries for every action of both tabs."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from tlsbench.tui.actions import ACTIONS, TABS, bindings, key_of
from tlsbench.tui.screens.workbench import WorkbenchScreen

if TYPE_CHECKING:
    from tlsbench.engine.records.redact import Redactor

# bench/startup.py --profile-launch sets this: the app quits once its first screen is drawn.
QUIT_WHEN_DRAWN_ENV = "TLSBENCH_QUIT_WHEN_DRAWN"
# The engine's child process is started this long after the first screen is drawn, so that the first
# run finds it ready (bench/engine_process.py: 113 ms to a loopback run's end cold, 22 ms warmed).
WARM_ENGINE_AFTER_S = 1.0


class WorkbenchApp(App[int]):
    """tlsbench's Textual front-end. Build it with `make_app()` (tlsbench.commands.workbench)."""

    CSS_PATH = "workbench.tcss"
    TITLE = "tlsbench"
    # q and ctrl+c quit where no text field has focus (a field keeps them: q is typed, ctrl+c copies);
    # ctrl+q quits from anywhere. These replace Textual's ctrl+c "Do you want to quit?" note.
    BINDINGS = bindings("app")
    SUB_TITLE = "TCP · SOCKS · TLS workbench"

    def __init__(self, store=None, *, spec=None, profile: str | None = None, run: bool = False) -> None:
        super().__init__()
        self.store = store
        self._start = dict(spec=spec, profile=profile, run=run)
        self._secrets: Redactor | None = None  # built when first needed (the redactor's import is not the first screen's)

    @property
    def secrets(self) -> Redactor:
        """Every password this workbench was given (its runs' proxies): masked in what it copies."""
        if self._secrets is None:
            from tlsbench.engine.records.redact import Redactor

            self._secrets = Redactor.of(self._start["spec"])
        return self._secrets

    def remember_secrets(self, spec) -> None:
        """Add a run's proxy passwords to what the clipboard masks."""
        from tlsbench.engine.records.redact import Redactor

        more = Redactor.of(spec)
        if not more.forms.keys() <= self.secrets.forms.keys():
            self._secrets = self.secrets | more

    def copy_to_clipboard(self, text: str) -> None:
        """Copy (OSC 52) with every known secret masked, whatever the text was built from."""
        super().copy_to_clipboard(self.secrets.redact_text(text))

    def get_default_screen(self) -> Screen:
        return WorkbenchScreen(self.store, **self._start)

    def on_mount(self) -> None:
        self._load_keymap()

    def _load_keymap(self) -> None:
        """keymap.toml in the config directory remaps keys by id; a bad one is one line, defaults apply."""
        from tlsbench.tui.keymap import load_keymap

        root = getattr(self.store, "root", None)
        if root is None:
            return
        keymap, problem = load_keymap(root)
        if problem is not None:
            self.notify(problem, title="Keymap", severity="warning", timeout=15, markup=False)
        elif keymap:
            self.set_keymap(keymap)

    def exit(self, *args, **kwargs) -> None:
        """Every way out (q, ctrl+q, ctrl+c, the too-small screen) records the profile selected now."""
        workbench = self.screen_stack[0] if self.screen_stack else None
        if isinstance(workbench, WorkbenchScreen) and workbench.is_mounted:
            workbench.remember_selected()
        super().exit(*args, **kwargs)

    def action_ctrl_c(self) -> None:
        """ctrl+c: quits, except in a text field, where it is Textual's (copy; else a note naming ctrl+q)."""
        from textual.widgets import Input, TextArea

        if isinstance(self.focused, (Input, TextArea)):
            self.action_help_quit()
        else:
            self.exit()

    def action_command_palette(self) -> None:
        """The palette lists the workbench's actions: it opens over the workbench, not over a dialog."""
        if isinstance(self.screen, WorkbenchScreen):
            super().action_command_palette()

    def on_ready(self) -> None:
        from tlsbench.tui import gc_pause

        gc_pause.release()  # held by the CLI while the first screen was built
        workbench = self.screen_stack[0] if self.screen_stack else None
        if isinstance(workbench, WorkbenchScreen):
            workbench.first_screen_drawn()
        if os.environ.get(QUIT_WHEN_DRAWN_ENV):
            self.set_timer(0.5, lambda: self.exit(0))
        else:
            self.set_timer(WARM_ENGINE_AFTER_S, self._warm_engine)

    def _warm_engine(self) -> None:
        import threading

        from tlsbench.engine.series.isolated import shared

        threading.Thread(target=shared().warm, name="tlsbench-engine-warm", daemon=True).start()

    def on_unmount(self) -> None:
        """No engine process outlives the workbench."""
        from tlsbench.engine.series.isolated import shutdown_shared

        shutdown_shared()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, WorkbenchScreen):
            return
        for tab, label in TABS:
            yield SystemCommand(f"Show the {label} tab (ctrl+t)", f"Switch to the {label} tab",
                                lambda tab=tab: screen.show_tab(tab))
        for entry in ACTIONS:
            if entry.action == "switch_tab":
                continue
            where = "" if entry.tab == "any" else f" — {dict(TABS)[entry.tab]} tab"
            yield SystemCommand(f"{entry.label} ({key_of(entry, self._keymap)}){where}", entry.help,
                                lambda entry=entry: self._palette_action(screen, entry.tab, entry.action))

    def _palette_action(self, screen: WorkbenchScreen, tab: str, action: str) -> None:
        """Run an action from the palette, showing its tab first when it belongs to the other one."""
        if tab in ("connection", "listener"):
            screen.show_tab(tab)
        self.call_after_refresh(lambda: self.call_later(screen.run_action, action))

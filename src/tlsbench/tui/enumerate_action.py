"""The workbench's "what does the server accept" action: probe --enumerate for the composed
connection, in a thread worker, shown in its own screen (tui/screens/enumeration.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from tlsbench.engine.cancel import CancelToken
from tlsbench.errors import InputError

if TYPE_CHECKING:
    from tlsbench.tui.workbench_parts import WorkbenchParts as _Screen
else:
    _Screen = object

ENUMERATE_CONCURRENCY = 4


class EnumerateAction(_Screen):
    """Mixed into the workbench screen: `action_enumerate`."""

    def action_enumerate(self) -> None:
        from tlsbench.tui.screens.enumeration import EnumerationScreen
        from tlsbench.tui.widgets.compose_form import ComposeForm

        form = self.query_one(ComposeForm)
        if not form.ready:
            return
        try:
            spec = form.build()
        except InputError as exc:
            form.mark_invalid(exc)
            self.notify(str(exc), title="Invalid input", severity="error", markup=False)
            return
        if not spec.tls.enabled:
            self.notify("Enumeration needs TLS: turn the TLS handshake on.", severity="warning")
            return
        token = CancelToken()
        screen = EnumerationScreen(spec.target, token)
        self.app.push_screen(screen)
        self._enumerate_in_thread(spec, token, screen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="enumerate")
    def _enumerate_in_thread(self, spec, token: CancelToken, screen) -> None:
        from tlsbench.engine.tls.enumeration import enumerate_server

        try:
            found = enumerate_server(spec, concurrency=ENUMERATE_CONCURRENCY, cancel=token)
        except Exception as exc:  # noqa: BLE001 - shown on the screen, never a traceback
            self.app.call_from_thread(screen.show_error, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(screen.show_result, found)

"""A one-row bar of clickable actions ('▶ Run ^r  ■ Cancel ^g …'): the mouse's way to the main keys.

One widget, never focused (the keys are in the footer); an action that cannot run now is dimmed.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widget import Widget


class ActionBar(Widget):
    DEFAULT_CSS = """
    ActionBar { height: 1; width: 1fr; padding: 0 1; }
    """

    def __init__(self, items: list[tuple[str, str, str]], *, id: str | None = None) -> None:
        """`items`: (action name, label, key text)."""
        super().__init__(id=id)
        self.items = list(items)
        self.disabled_actions: set[str] = set()
        self._spans: list[tuple[int, int, str]] = []

    def enabled(self, action: str) -> bool:
        return action not in self.disabled_actions

    def set_enabled(self, action: str, enabled: bool) -> None:
        before = set(self.disabled_actions)
        if enabled:
            self.disabled_actions.discard(action)
        else:
            self.disabled_actions.add(action)
        if before != self.disabled_actions:
            self.refresh()

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for action, label, key in self.items:
            start = out.cell_len
            if action in self.disabled_actions:
                out.append(f" {label} ", style="dim")
                out.append(key, style="dim")
            else:
                out.append(f" {label} ", style="bold reverse")
                out.append(key, style="bold")
            self._spans.append((start, out.cell_len, action))
            out.append("   ")
        return out

    async def on_click(self, event: events.Click) -> None:
        for start, end, action in self._spans:
            if start <= event.x < end and action not in self.disabled_actions:
                await self.screen.run_action(action)
                return

"""The footer: the keys of what is shown, as many as fit; the quit key and the command palette's key
always at the right.

One widget drawing one line (Textual's Footer builds a widget per key and is composed again at
every focus change, a visible share of the workbench's start). It follows the screen's bindings
(`check_action` hides the other tab's keys); a click on a key presses it.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; width: 1fr; background: $footer-background; color: $footer-description-foreground; }
    """
    COMPONENT_CLASSES = {"key-bar--key"}
    DEFAULT_CSS += """
    KeyBar > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._spans: list[tuple[int, int, str]] = []
        self.shown: list[str] = []  # the keys drawn last time, in order

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        self.refresh()

    def _entries(self) -> tuple[list[tuple[str, str, str, bool]], list[tuple[str, str, str, bool]]]:
        """([(key, key display, description, enabled)], the entries always drawn at the right: the quit
        key that works where the focus is, and the palette's)."""
        entries, seen, palette = [], set(), None
        quits: dict[str, tuple[str, str, str, bool]] = {}
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.key == self.app.COMMAND_PALETTE_BINDING:
                palette = (binding.key, self.app.get_key_display(binding), "palette", enabled)
                continue
            if binding.action in ("quit", "app.quit"):
                # q where no text field has focus, else ctrl+q (a field takes q as a letter).
                quits[binding.id or binding.key] = (binding.key, self.app.get_key_display(binding), "quit", enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            entries.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        quit_entry = quits.get("quit") or quits.get("quit-anywhere")
        return entries, [e for e in (quit_entry, palette) if e is not None]

    def render(self) -> Text:
        width = self.content_size.width or self.size.width
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        entries, right = self._entries()
        if not self.app.ENABLE_COMMAND_PALETTE:
            right = [e for e in right if e[2] != "palette"]
        tail, tail_spans = Text(), []
        for key, display, description, _enabled in right:
            start = tail.cell_len
            tail.append("▏")
            tail.append(display, style=key_style)
            tail.append(f" {description} ")
            tail_spans.append((start, tail.cell_len, key))
        out = Text(no_wrap=True, overflow="crop")
        self._spans, self.shown = [], []
        for key, display, description, enabled in entries:
            piece = Text()
            piece.append(display, style=key_style if enabled else "dim bold")
            piece.append(" ")
            piece.append(description, style="" if enabled else "dim")
            piece.append("  ")
            if out.cell_len + piece.cell_len + tail.cell_len > width:
                break  # what does not fit is in the command palette
            self._spans.append((out.cell_len, out.cell_len + piece.cell_len, key))
            self.shown.append(key)
            out.append_text(piece)
        if tail.cell_len:
            out.append(" " * max(0, width - out.cell_len - tail.cell_len))
            start = out.cell_len
            out.append_text(tail)
            self._spans.extend((start + a, start + b, key) for a, b, key in tail_spans)
            self.shown.extend(key for _a, _b, key in tail_spans)
        return out

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return

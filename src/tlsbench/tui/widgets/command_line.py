"""A command line shown to be read and pasted: wrapped between arguments, never inside one.

An option stays with its value (`-connect 127.0.0.1:44303`, `-servername NAME`); a wrapped line ends
with ` \\` and the next is indented, as a shell reads it, so a copy of the wrapped text still runs.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from tlsbench.tui.safe_text import data

# A shell word: unquoted characters and quoted stretches, glued.
_WORD = re.compile(r"""(?:[^\s'"]+|'[^']*'|"(?:\\.|[^"\\])*"|['"])+""")
INDENT = "    "


def units(command: str) -> list[str]:
    """The words of `command`, an option joined with the value that follows it."""
    words = _WORD.findall(command)
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-") and "=" not in word:
            out.append(f"{word} {words[i + 1]}")
            i += 2
        else:
            out.append(word)
            i += 1
    return out


def wrap_command(command: str, width: int) -> list[str]:
    """The lines of `command` within `width` cells (a unit wider than that gets a line of its own)."""
    lines: list[str] = []
    current = ""
    for unit in units(command):
        candidate = f"{current} {unit}" if current else unit
        room = width - (len(INDENT) if lines else 0) - 2  # the ` \` that ends a wrapped line
        if current and cell_len(candidate) > room:
            lines.append(current)
            current = unit
        else:
            current = candidate
    if current or not lines:
        lines.append(current)
    return [(INDENT if i else "") + text + (" \\" if i < len(lines) - 1 else "") for i, text in enumerate(lines)]


def command_text(command: str, width: int | None, style: str = "") -> Text:
    """`command` as Text, wrapped to `width` (None: one line), control characters made visible."""
    shown = data(command, keep_newlines=False, double_backslashes=False).plain
    if not width or width < 20:
        return Text(shown, style=style)
    return Text("\n".join(wrap_command(shown, width)), style=style)


class CommandLine(Widget):
    """One command line, wrapped to the width it is given."""

    DEFAULT_CSS = "CommandLine { height: auto; }"

    def __init__(self, command: str, style: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.command, self._command_style = command, style

    def render(self) -> Text:
        return command_text(self.command, self.content_size.width or None, self._command_style)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(command_text(self.command, width, self._command_style).plain.split("\n"))

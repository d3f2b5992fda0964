"""Turn untrusted strings into Rich `Text` that is never parsed as markup and shows control characters.

Every string that came from the network or from a file (certificate fields, banners, proxy replies,
error messages, profile names) goes through `data()` before it reaches a widget.
"""

from __future__ import annotations

from rich.text import Text

from tlsbench.visible import visible


def data(value: object, style: str = "", *, keep_newlines: bool = True, double_backslashes: bool = True) -> Text:
    """Literal text with control characters made visible; never markup."""
    return Text(visible("" if value is None else str(value), keep_newlines=keep_newlines,
                        double_backslashes=double_backslashes), style=style)


def line(*parts: tuple[object, str] | str | Text) -> Text:
    """Assemble a line from (untrusted value, style) pairs, fixed strings and Text pieces."""
    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple):
            out.append_text(data(part[0], part[1]))
        else:
            out.append(part)  # a fixed string written here, appended literally
    return out


def field(label: str, value: object, value_style: str = "", width: int = 14) -> Text:
    """'label  value' with the label dimmed and the value literal."""
    return line((f"{label:<{width}}", "dim"), (value, value_style))


def middle_ellipsis(text: str, width: int) -> str:
    """`text` cut to `width` cells in the middle, so that both ends stay (`mail.lab.te…:42587`,
    `lab-smtp-…starttls`): two names that differ only at the end can still be told apart. The tail
    starts at a separator (`:` `.` `-` `/` `_`) where one is near, so it reads as a whole piece."""
    from rich.cells import cell_len

    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    keep = width - 1
    tail_len = keep // 2
    tail = text[-tail_len:] if tail_len else ""
    for index, ch in enumerate(tail[:-2]):
        if ch in ":.-/_" and index <= len(tail) // 2:
            tail = tail[index:]
            break
    head = text[:keep - len(tail)]
    return f"{head}…{tail}"

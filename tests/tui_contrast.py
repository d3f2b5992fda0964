"""Focus you can see, measured on what is drawn: the background of every cell of a widget with and
without focus, compared by WCAG contrast ratio (relative luminance of sRGB colours)."""

from __future__ import annotations

from rich.segment import Segment
from rich.cells import cell_len


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def backgrounds(app, region) -> list[list[tuple[int, int, int] | None]]:
    """The background colour of each cell of `region` (rows of columns), as drawn now."""
    strips = app.screen._compositor.render_strips()
    rows = []
    for y in range(region.y, region.bottom):
        row: list[tuple[int, int, int] | None] = [None] * region.width
        x = 0
        for segment in strips[y] if y < len(strips) else []:
            text, style = segment.text, segment.style
            width = cell_len(text)
            bg = style.bgcolor.get_truecolor() if style and style.bgcolor else None
            for cx in range(x, x + width):
                if region.x <= cx < region.right:
                    row[cx - region.x] = tuple(bg) if bg is not None else None
            x += width
        rows.append(row)
    return rows


def focus_cells(before, after, ratio: float = 3.0) -> int:
    """How many cells' background changed by at least `ratio` between two drawings."""
    count = 0
    for row_b, row_a in zip(before, after):
        for b, a in zip(row_b, row_a):
            if b is not None and a is not None and contrast(a, b) >= ratio:
                count += 1
    return count


__all__ = ["Segment", "backgrounds", "contrast", "focus_cells", "luminance"]

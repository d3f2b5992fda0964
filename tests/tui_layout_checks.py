"""Checks of a drawn screen's layout: overlapping siblings, panels below their minimum, hidden rows.

They read Textual's compositor map (each widget's region and the clip it is seen through), so
they judge what is drawn, not what the CSS says.
"""

from __future__ import annotations

from itertools import combinations

from textual.css.scalar import Unit
from textual.widget import Widget


def _geometry(screen, widget: Widget):
    try:
        return screen.find_widget(widget)
    except Exception:  # not in the map: not displayed
        return None


def _shown(screen, widget: Widget) -> bool:
    if not widget.display or not widget.visible:
        return False
    geometry = _geometry(screen, widget)
    return geometry is not None and geometry.region.area > 0


def _is_overlay(widget: Widget) -> bool:
    return widget.styles.overlay == "screen" or widget.styles.position == "absolute"


def layout_problems(screen) -> list[str]:
    """Every pair of visible siblings in one layer that overlap (overlays excluded), every visible
    widget cut off by a parent that cannot scroll, and every visible widget narrower or shorter than
    its declared min-width / min-height (in cells)."""
    problems: list[str] = []
    for parent in [screen, *screen.walk_children(with_self=False)]:
        if parent is not screen and not _shown(screen, parent):
            continue
        children = [c for c in parent.children if isinstance(c, Widget) and _shown(screen, c) and not _is_overlay(c)]
        for a, b in combinations(children, 2):
            if (a.styles.layer or "") != (b.styles.layer or ""):
                continue
            ra, rb = screen.find_widget(a).region, screen.find_widget(b).region
            if ra.overlaps(rb):
                problems.append(f"{a!r} {ra} overlaps {b!r} {rb}")
        content = parent.content_region if parent is not screen else screen.region
        for child in children:
            region = screen.find_widget(child).region
            # A child sticking out of a parent that cannot scroll that way is cut off.
            if not parent.allow_horizontal_scroll and (region.x < content.x or region.right > content.right):
                problems.append(f"{child!r} {region} is cut off at the sides of {parent!r} {content}")
            if not parent.allow_vertical_scroll and (region.y < content.y or region.bottom > content.bottom):
                problems.append(f"{child!r} {region} is cut off at the top or bottom of {parent!r} {content}")
            for name, size in (("min_width", region.width), ("min_height", region.height)):
                minimum = getattr(child.styles, name)
                if minimum is not None and minimum.unit == Unit.CELLS and size < minimum.value:
                    problems.append(f"{child!r} is {size} cells, below its {name.replace('_', '-')} {minimum.value:g}")
    return problems


def fully_visible(screen, widget: Widget) -> bool:
    """The widget is displayed and all of it can be seen without scrolling anything."""
    if not _shown(screen, widget):
        return False
    geometry = _geometry(screen, widget)
    return geometry.clip.contains_region(geometry.region) and screen.region.contains_region(geometry.region)


def visible_lines(screen, widget: Widget) -> int:
    """How many rows of the widget can be seen."""
    geometry = _geometry(screen, widget)
    if geometry is None or not _shown(screen, widget):
        return 0
    return geometry.region.intersection(geometry.clip).height


def scrollbars(screen) -> dict[str, list[str]]:
    """{panel id: [widgets in it showing a vertical scrollbar]} for the bordered panels."""
    out: dict[str, list[str]] = {}
    for panel in screen.query("#profiles, #form, #findings, #waterfall, #chain, #socket, #lv-clients, #lv-details"):
        if not _shown(screen, panel):
            continue
        bars = [w for w in [panel, *panel.walk_children()] if isinstance(w, Widget) and _shown(screen, w)
                and w.show_vertical_scrollbar]
        out[panel.id] = [repr(w) for w in bars]
    return out

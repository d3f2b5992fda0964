"""Which arrangement of the workbench fits a terminal of a given size (pure: no widgets here).

Three decisions, each a state class on the screen that workbench.tcss acts on:

* `-form-inline` / `-form-drawer`: on a wide terminal the Compose form sits between the profiles
  and the results; on a narrower one it takes the results' place while it is open (F7).
* `-panels` / `-tabbed`: with room, the results are side by side (findings on top, stages and
  the chain, the socket beside them); without, one panel at a time behind a row of tabs.
* `-too-small`: below the minimum size a message says so instead of a broken screen.
"""

from __future__ import annotations

from typing import NamedTuple

MIN_WIDTH, MIN_HEIGHT = 80, 24
FORM_INLINE_MIN_WIDTH = 150  # profiles + form + results side by side from here on
PANELS_MIN_WIDTH, PANELS_MIN_HEIGHT = 84, 34  # of the results area, for the side-by-side panels
PROFILES_WIDTH, PROFILES_WIDTH_NARROW = 24, 22
FORM_WIDTH = 46


class Layout(NamedTuple):
    too_small: bool
    form_inline: bool
    tabbed: bool
    profiles_width: int

    @property
    def classes(self) -> dict[str, bool]:
        """State classes for the screen: {class: on}."""
        return {"-too-small": self.too_small, "-form-inline": self.form_inline,
                "-form-drawer": not self.form_inline, "-tabbed": self.tabbed, "-panels": not self.tabbed,
                "-narrow-profiles": self.profiles_width == PROFILES_WIDTH_NARROW}


def choose_layout(width: int, height: int) -> Layout:
    too_small = width < MIN_WIDTH or height < MIN_HEIGHT
    profiles = PROFILES_WIDTH if width >= 100 else PROFILES_WIDTH_NARROW
    form_inline = width >= FORM_INLINE_MIN_WIDTH
    results_width = width - profiles - (FORM_WIDTH if form_inline else 0)
    results_height = height - 2  # the tab row and the footer
    tabbed = results_width < PANELS_MIN_WIDTH or results_height < PANELS_MIN_HEIGHT
    return Layout(too_small, form_inline, tabbed, profiles)


def too_small_message(width: int, height: int) -> str:
    return (f"tlsbench needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {width}×{height}.\n"
            "Make the window larger (or the font smaller). ctrl+q quits.")

"""A pane whose content is imported, built and mounted the first time it is needed, not at launch."""

from __future__ import annotations

from typing import Callable

from textual.containers import Vertical
from textual.widget import MountError, Widget


class LazyPane(Vertical):
    """Holds `make()`'s widget once `ensure()` has been called (e.g. when its tab is first shown).

    Taking a factory rather than a widget also defers importing the widget's module, which is
    most of the cost of a hidden tab. Quitting before the mount finished is not an error.
    """

    def __init__(self, make: Callable[[], Widget], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._make = make
        self.content: Widget | None = None

    def ensure(self) -> Widget:
        if self.content is None:
            self.content = self._make()
            try:
                self.mount(self.content)
            except MountError:
                pass  # the app is closing
        return self.content

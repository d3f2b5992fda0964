"""Mount a widget just after the first frame, and never fail when the app quits before that."""

from __future__ import annotations

from typing import Callable

from textual.widget import MountError, Widget


class Deferred(Widget):
    """Like textual.lazy.Lazy: mounts `make()`'s widget in its place after the first refresh.

    Taking a factory rather than a widget also defers building the widget (and importing its
    module), which is most of the cost of a big form or a hidden tab.

    Lazy raises MountError when the app is closed before that refresh (a quit at launch, or the
    startup benchmark exiting on its first frame); here the pending mount is simply dropped.
    """

    DEFAULT_CSS = "Deferred { display: none; }"

    def __init__(self, make: Callable[[], Widget]) -> None:
        super().__init__()
        self._make = make

    async def mount_composed_widgets(self, widgets: list[Widget]) -> None:
        parent = self.parent
        if not isinstance(parent, Widget):
            return

        async def mount() -> None:
            if not (parent.is_attached and self.is_attached):
                return
            try:
                await parent.mount(self._make(), after=self)
                await self.remove()
            except MountError:
                pass  # the screen went away between the check and the mount: the app is closing

        self.call_after_refresh(mount)

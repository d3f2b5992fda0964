"""What the workbench screen gives the mixins it is made of (profile_actions.py, enumerate_action.py,
target_actions.py): its Textual methods and its own attributes, declared for the type checker.

Imported only under TYPE_CHECKING: at run time each mixin's base is `object`, and the real members
come from WorkbenchScreen (a textual Screen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from typing import overload

    from textual.app import App
    from textual.css.query import QueryType
    from textual.notifications import SeverityLevel
    from textual.widget import Widget


    from tlsbench.engine.spec import ConnectionSpec
    from tlsbench.tui.layout import Layout
    from tlsbench.profiles.store import ProfileStore
    from tlsbench.tui.widgets.profile_list import ProfileList

    class WorkbenchParts(Protocol):
        store: ProfileStore | None
        tab: str  # the tab shown: "connection" | "listener"
        running: bool  # a run is in flight
        run_id: int  # the run shown (each run gets the next number)
        arrangement: Layout | None  # the layout chosen for the terminal's size (tui/layout.py)

        # --- from textual's Screen ---
        @property
        def app(self) -> App[object]: ...

        @property
        def focused(self) -> Widget | None: ...

        def has_class(self, *names: str) -> bool: ...

        def set_class(self, add: bool, *class_names: str, update: bool = True) -> object: ...

        def add_class(self, *class_names: str, update: bool = True) -> object: ...

        def refresh_bindings(self) -> None: ...

        def call_after_refresh(self, callback, *args, **kwargs) -> bool: ...

        @overload
        def query_one(self, selector: str) -> Widget: ...

        @overload
        def query_one(self, selector: type[QueryType]) -> QueryType: ...

        @overload
        def query_one(self, selector: str, expect_type: type[QueryType]) -> QueryType: ...

        def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
                   timeout: float | None = None, markup: bool = True) -> None: ...

        # --- from WorkbenchScreen ---
        def show_tab(self, tab: str) -> None: ...

        def open_form(self, focus: str | None = None) -> None: ...

        def action_run(self) -> None: ...

        def action_cancel(self) -> None: ...

        def start_run(self, spec: ConnectionSpec, profile: str | None = None) -> None: ...

        # --- from ProfileActions, for the other mixins ---
        def _list(self) -> ProfileList: ...

"""Profile handling for the workbench screen: load, compose, save, rename, duplicate, delete.

A mixin so the screen module stays about layout and runs. Store errors are shown, never raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.tui.safe_text import line

if TYPE_CHECKING:
    from tlsbench.tui.workbench_parts import WorkbenchParts as _Screen
else:
    _Screen = object


class ProfileActions(_Screen):
    """Mixed into WorkbenchScreen; expects `self.store` (a ProfileStore or None)."""

    store = None
    _profiles: dict = {}
    _profile_problems: list = []

    def _list(self):
        from tlsbench.tui.widgets.profile_list import ProfileList

        return self.query_one(ProfileList)

    def _form(self):
        from tlsbench.tui.widgets.compose_form import ComposeForm

        return self.query_one(ComposeForm)

    def _error(self, exc: Exception) -> None:
        self.notify(str(exc), title="Profiles", severity="error", markup=False)

    def reload_profiles(self, current: str | None = None) -> None:
        if self.store is None:
            self._profiles, self._profile_problems = {}, []
        else:
            report = self.store.load_all()
            self._profiles, self._profile_problems = dict(report.profiles), list(report.problems)
        self._list().show(self._profiles, self._profile_problems, current or self._list().current)

    _last_used_read: str | None = None

    def default_profile(self) -> str | None:
        """The last used profile if it still loads, else the first one (the lab's on first run). A state
        file that cannot be read is said in one line; the first profile is then selected."""
        if self.store is None:
            return None
        problem = self.store.state_problem()
        if problem is not None:
            self.notify(f"{problem}; the last used profile is not known", title="Profiles", severity="warning",
                        markup=False)
        last = self.store.last_used()
        self._last_used_read = last
        if last in self._profiles:
            return last
        lab = sorted(n for n in self._profiles if n.startswith("lab"))
        return (lab or sorted(self._profiles) or [None])[0]

    def compose_profile(self, name: str) -> bool:
        profile = self._profiles.get(name)
        if profile is None:
            self.notify(f"no profile named {name!r}", severity="error", markup=False)
            return False
        self._form().load_spec(profile.spec)
        self._list().select(name)
        if profile.unavailable:  # the list has room for the mark only: the reason in full
            self.notify(f"{name} is not running: {profile.unavailable}", severity="warning", markup=False)
        # What was pasted before is not what is composed now: the bar no longer shows it.
        bar = self.query_one("#target-bar")
        if getattr(bar, "value", ""):
            setattr(bar, "value", "")
            bar.tooltip = None
        return True

    def on_profile_list_chosen(self, message) -> None:
        """Highlighting a profile composes it; Enter on it runs it."""
        if self.compose_profile(message.name) and message.run:
            self.action_run()

    def remember_selected(self) -> None:
        """At exit: the profile selected now is the one the next launch selects."""
        name = self._list().current
        if self.store is None or name not in self._profiles or name == self._last_used_read:
            return
        try:
            self.store.set_last_used(name)
        except Exception:  # noqa: BLE001 - at exit there is no one to tell; the next launch says why
            pass

    def remember_last_used(self, spec) -> None:
        name = self._list().current
        profile = self._profiles.get(name) if name else None
        if self.store is None or profile is None or profile.spec.target != spec.target:
            return
        try:
            self.store.set_last_used(name)
        except Exception as exc:  # state file problems must not stop a run
            self._error(exc)

    # --- actions --------------------------------------------------------------------------------

    def action_save_profile(self) -> None:
        if self.store is None:
            return
        spec = self._form().checked_spec()
        if spec is None:
            self.open_form()
            return
        from tlsbench.tui.screens.dialogs import NamePrompt

        def save(name: str | None) -> None:
            if not name:
                return
            from tlsbench.profiles.model import Profile

            old = self._profiles.get(name)
            try:
                self.store.save(Profile(name, spec, old.description if old else ""))
            except Exception as exc:
                self._error(exc)
                return
            self.reload_profiles(name)
            self.notify(f"saved profile {name} (passwords are never saved)", markup=False)

        self.app.push_screen(NamePrompt("Save the composed connection as profile:",
                                        self._list().current or suggest_name(spec, self._profiles)), save)

    def _selected(self) -> str | None:
        name = self._list().selected
        if name is None:
            self.notify("select a profile first", severity="warning")
        return name

    def action_rename_profile(self) -> None:
        old = self._selected()
        if old is None or self.store is None:
            return
        from tlsbench.tui.screens.dialogs import NamePrompt

        def rename(new: str | None) -> None:
            if not new or new == old:
                return
            try:
                self.store.rename(old, new)
            except Exception as exc:
                self._error(exc)
                return
            self.reload_profiles(new)

        self.app.push_screen(NamePrompt(f"Rename profile {old} to:", old), rename)

    def action_duplicate_profile(self) -> None:
        name = self._selected()
        if name is None or self.store is None:
            return
        from tlsbench.tui.screens.dialogs import NamePrompt

        def duplicate(new: str | None) -> None:
            if not new:
                return
            try:
                self.store.duplicate(name, new)
            except Exception as exc:
                self._error(exc)
                return
            self.reload_profiles(new)

        self.app.push_screen(NamePrompt(f"Name of the copy of {name}:", f"{name}-copy"), duplicate)

    def action_delete_profile(self) -> None:
        name = self._selected()
        if name is None or self.store is None:
            return
        from tlsbench.tui.screens.dialogs import ConfirmScreen

        def delete(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.store.delete(name)
            except Exception as exc:
                self._error(exc)
                return
            self._list().current = None
            self.reload_profiles()

        question = line(("Delete profile ", ""), (name, "bold"), ("?\n", ""),
                        ("Its file is removed from disk.", "dim"))
        self.app.push_screen(ConfirmScreen(question), delete)


def suggest_name(spec, taken) -> str:
    """A profile name from the target: `mail.lab.test-587`, made unique with -2, -3... ."""
    import re

    base = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{spec.host}-{spec.port}").strip(".-") or "connection"
    base = re.sub(r"\.{2,}", ".", base)[:90]
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


__all__ = ["ProfileActions", "suggest_name"]

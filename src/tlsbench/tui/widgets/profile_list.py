"""The Profiles list: saved connections on the left; selecting one composes it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tlsbench.tui.safe_text import data, line, middle_ellipsis


class ProfileList(Vertical):
    """Profile names from the store, plus the files that could not be read (with file and line)."""

    class Chosen(Message):
        """A profile was highlighted or selected; the form should compose it."""

        def __init__(self, profile_list: "ProfileList", name: str, run: bool = False) -> None:
            super().__init__()
            self.profile_list, self.name, self.run = profile_list, name, run

        @property
        def control(self) -> "ProfileList":
            return self.profile_list

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.profiles: dict = {}
        self.current: str | None = None  # the profile composed now; highlighting it again does nothing

    def compose(self) -> ComposeResult:
        yield OptionList(id="profile-options")
        yield Static("", id="profile-problems")

    def on_mount(self) -> None:
        self.border_title = "Profiles"

    def line_width(self) -> int:
        """Cells for a line of an option: the list's width less its border and a scrollbar."""
        from tlsbench.tui.layout import PROFILES_WIDTH, PROFILES_WIDTH_NARROW

        if self.size.width:  # inside the border already
            return max(8, self.size.width - 2)
        width = PROFILES_WIDTH_NARROW if self.app.size.width < 100 else PROFILES_WIDTH
        return max(8, width - 4)

    def on_resize(self, event) -> None:
        if getattr(self, "profiles", None) and getattr(self, "_drawn_for", None) != self.line_width():
            self.show(self.profiles, self._problems, self.current)

    @property
    def options(self) -> OptionList:
        return self.query_one("#profile-options", OptionList)

    def show(self, profiles: dict, problems=(), current: str | None = None) -> None:
        """Fill the list; `problems` are files that could not be loaded (shown, never touched)."""
        self.profiles = dict(profiles)
        self._problems = list(problems)
        self._drawn_for = self.line_width()
        options = self.options
        options.clear_options()
        entries = []
        room = self.line_width()
        for name, profile in sorted(self.profiles.items()):
            prompt = Text(middle_ellipsis(data(name, keep_newlines=False).plain, room), style="bold")
            spec = profile.spec
            via = "".join(f" via {hop.kind}" for hop in spec.proxies)
            prompt.append("\n")
            prompt.append(middle_ellipsis(data(f"{spec.target}{via}", keep_newlines=False).plain, room), style="dim")
            if profile.unavailable:  # the lab could not start its server: say so, and why
                prompt.append("\n⚠ not running: ", style="bold yellow")
                prompt.append_text(data(profile.unavailable, "yellow", keep_newlines=False))
            entries.append(Option(prompt, id=name))
        options.add_options(entries)  # one refresh for all of them
        self.current = current
        if current in self.profiles:
            options.highlighted = sorted(self.profiles).index(current)
        note = self.query_one("#profile-problems", Static)
        if problems:
            lines = [Text(f"⚠ {len(problems)} profile file(s) could not be read:", style="bold yellow")]
            for p in problems:
                where = f"{p.path}:{p.line}" if getattr(p, "line", None) else str(p.path)
                lines.append(line((where, "yellow"), (" ", ""), (p.message, "")))
            note.update(Text("\n").join(lines))
            note.display = True
        else:
            note.update("")
            note.display = False
        if not self.profiles:
            options.add_option(Option(Text("no saved profiles\nctrl+s saves the form", style="dim"),
                                      id="-none", disabled=True))

    def select(self, name: str) -> None:
        """Make `name` the composed profile and highlight it (the list itself is unchanged)."""
        self.current = name
        names = sorted(self.profiles)
        if name in names and self.options.highlighted != names.index(name):
            self.options.highlighted = names.index(name)

    @property
    def selected(self) -> str | None:
        options = self.options
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        return None if option.id == "-none" else option.id

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        # A highlight already moved on (keys faster than the screen, or select() putting it back) is
        # stale: acting on it would compose that profile, whose select() moves the highlight again,
        # and the two would go on composing profiles over the form for ever.
        if event.option_index != self.options.highlighted:
            return
        if event.option.id and event.option.id not in ("-none", self.current):
            self.current = event.option.id
            self.post_message(self.Chosen(self, event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id != "-none":
            self.post_message(self.Chosen(self, event.option.id, run=True))

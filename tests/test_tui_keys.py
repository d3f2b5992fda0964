"""The workbench by keyboard alone: launch focus, Enter runs, F7 opens the form, the footer follows
the tab, one meaning per key, the palette has every action. Runs go to the lab's real servers."""

from __future__ import annotations

import inspect

import pytest
from textual.widgets import Input, Select

from tests.tui_helpers import launched, wait_for_result
from tests.tui_layout_checks import fully_visible
from tlsbench.commands.lab import save_profiles
from tlsbench.commands.workbench import make_app
from tlsbench.profiles.store import ProfileStore
from tlsbench.tui.actions import ACTIONS

SMALL, LARGE = (80, 24), (160, 50)


@pytest.fixture
def lab_store(tmp_path, running_lab):
    store = ProfileStore(tmp_path / "config")
    save_profiles(running_lab, store)
    return store


def footer_keys(app) -> set[str]:
    return set(app.screen.query_one("#keys").shown)


async def wait_form(pilot) -> None:
    form = pilot.app.screen.query_one("#form")
    for _ in range(100):
        await pilot.pause()
        if form.active:
            return
    raise AssertionError("the form never became editable")


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x50"])
async def test_launch_focuses_the_profiles_and_two_keys_run_another_profile(size, lab_store):
    lab_store.set_last_used("lab-good-tls")
    app = make_app(store=lab_store)
    async with app.run_test(size=size) as pilot:
        await launched(pilot)
        options = app.screen.query_one("#profile-options")
        assert app.focused is options
        names = sorted(app.screen.query_one("#profiles").profiles)
        assert names[options.highlighted] == "lab-good-tls"  # the last used one
        await pilot.press("down", "enter")  # the next profile, run: two keys after launch
        result = await wait_for_result(pilot)
        expected = names[names.index("lab-good-tls") + 1]
        assert app.screen.current_profile == expected
        assert result.target == lab_store.get(expected).spec.target
        assert app.screen.run_id == 1


async def test_enter_runs_the_highlighted_profile_at_once(lab_store):
    app = make_app(store=lab_store, profile="lab-socks5-tls")
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        result = await wait_for_result(pilot)
        assert result.ok and result.stage("proxy").status == "ok"


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x50"])
async def test_f7_opens_the_form_on_the_selected_profile_and_escape_goes_back(size, lab_store):
    app = make_app(store=lab_store, profile="lab-good-tls")
    async with app.run_test(size=size) as pilot:
        await launched(pilot)
        await pilot.press("down")  # the profile after lab-good-tls
        names = lab_store.names()
        below = names[names.index("lab-good-tls") + 1]
        await pilot.press("f7")
        await wait_form(pilot)
        host, port = app.screen.query_one("#f-host", Input), app.screen.query_one("#f-port", Input)
        assert app.focused is host and fully_visible(app.screen, host)
        assert port.value == str(lab_store.get(below).spec.port)
        if size == SMALL:  # the form stands in for the results
            assert not app.screen.query_one("#results-column").display or \
                not fully_visible(app.screen, app.screen.query_one("#results"))
        await pilot.press("escape")  # the form → the results
        await pilot.pause()
        assert app.screen.query_one("#results-column") in app.focused.ancestors_with_self
        assert fully_visible(app.screen, app.screen.query_one("#run-header"))
        await pilot.press("escape")  # the results → the profile list
        await pilot.pause()
        assert app.focused is app.screen.query_one("#profile-options")


async def test_enter_in_a_form_field_moves_on_and_the_run_button_runs(lab_store):
    app = make_app(store=lab_store, profile="lab-good-tls")
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("f7")
        await wait_form(pilot)
        before = app.screen.run_id
        await pilot.press("enter")  # Host → Port, no run
        await pilot.pause()
        assert app.focused is app.screen.query_one("#f-port", Input) and app.screen.run_id == before
        app.screen.query_one("#form-run").focus()
        await pilot.press("enter")
        result = await wait_for_result(pilot)
        assert result.ok and app.screen.run_id == before + 1
        assert fully_visible(app.screen, app.screen.query_one("#run-header"))


async def test_the_focused_field_is_always_scrolled_into_view(lab_store):
    app = make_app(store=lab_store, profile="lab-socks5-tls")  # a long form: the proxy rows are shown
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("f7")
        await wait_form(pilot)
        app.screen.query_one("#f-app", Select).value = "send"  # and the last row too
        await pilot.pause()
        seen = []
        for _ in range(40):
            focused = app.focused
            if focused.id in seen:
                break
            seen.append(focused.id)
            assert fully_visible(app.screen, focused), f"{focused.id} is focused but not visible"
            await pilot.press("tab")
            await pilot.pause()
        assert {"f-host", "f-proxy", "f-cert", "f-key", "f-send"} <= set(seen)
        # typing goes where the eye is: the field below the fold received the text
        key = app.screen.query_one("#f-key", Input)
        key.focus()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        assert fully_visible(app.screen, key)
        await pilot.press("5")
        assert key.value == "5"


async def test_the_footer_shows_the_keys_of_the_tab_shown(lab_store):
    app = make_app(store=lab_store)
    async with app.run_test(size=LARGE) as pilot:
        await launched(pilot)
        connection = {a.key for a in ACTIONS if a.tab == "connection" and a.show}
        listener = {a.key for a in ACTIONS if a.tab == "listener" and a.show}
        assert connection <= footer_keys(app) and not listener & footer_keys(app)
        await pilot.press("ctrl+t")
        for _ in range(10):
            await pilot.pause()
        assert app.screen.tab == "listener"
        assert listener <= footer_keys(app) and not connection & footer_keys(app)
        await pilot.press("ctrl+y")  # a Connection key does nothing here
        await pilot.pause()
        assert app.screen.tab == "listener" and len(app.screen_stack) == 1
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen.tab == "connection" and app.focused is app.screen.query_one("#profile-options")
        await pilot.press("ctrl+t", "ctrl+r")  # ctrl+r from the Listener: the run, shown on its tab
        await pilot.pause()
        assert app.screen.tab == "connection" and app.screen.run_id == 1


def test_one_meaning_per_key():
    keys = [a.key for a in ACTIONS]
    assert len(keys) == len(set(keys))
    # No widget of the workbench binds one of these keys to something else.
    import tlsbench.tui.listener.listener_view as listener_view
    import tlsbench.tui.widgets.compose_form as compose_form
    import tlsbench.tui.widgets.stage_row as stage_row
    import tlsbench.tui.widgets.tab_strip as tab_strip
    import tlsbench.tui.widgets.waterfall as waterfall

    ours = {a.key: a.action for a in ACTIONS}
    for module in (listener_view, compose_form, stage_row, tab_strip, waterfall):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            for binding in cls.__dict__.get("BINDINGS", []):
                for key in binding.key.split(","):
                    assert key not in ours, f"{cls.__name__} binds {key} to {binding.action}"


async def test_the_palette_offers_every_action_of_both_tabs(lab_store):
    app = make_app(store=lab_store)
    async with app.run_test(size=LARGE) as pilot:
        await launched(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for entry in ACTIONS:
            if entry.action != "switch_tab":
                assert any(title.startswith(f"{entry.label} ({entry.key})") for title in commands), entry
        assert "Show the Listener tab (ctrl+t)" in commands and "Show the Connection tab (ctrl+t)" in commands
        # A Listener action from the Connection tab: the tab is shown, then the action runs.
        start = next(c for t, c in commands.items() if t.startswith("Start/Stop"))
        start.callback()
        for _ in range(100):
            await pilot.pause(0.05)
            view = app.screen.query_one("#listener").content
            if view is not None and view.listener is not None and view.listener.port:
                break
        assert app.screen.tab == "listener"
        assert view.listener is not None and view.listener.port
        await pilot.press("f5")  # and F5 stops it again
        for _ in range(100):
            await pilot.pause(0.05)
            if view.listener is None:
                break
        assert view.listener is None


async def test_keys_1_to_4_show_each_panel_on_a_small_terminal(lab_store):
    app = make_app(store=lab_store, profile="lab-sni-missing")
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        result = await wait_for_result(pilot)
        assert "sni-required" in result.codes()
        screen = app.screen
        for key, panel in (("2", "#chain"), ("3", "#socket"), ("4", "#findings"), ("1", "#waterfall")):
            await pilot.press(key)
            await pilot.pause()
            widget = screen.query_one(panel)
            assert widget.display and widget.region.area > 0, panel
            assert app.focused is widget or widget in app.focused.ancestors, (panel, app.focused)

        await pilot.press("4")
        await pilot.pause()
        assert "sni-required" in str(screen.query_one("#findings-body").render())


async def test_few_focus_stops_before_the_form_is_opened(lab_store):
    app = make_app(store=lab_store, profile="lab-good-tls")
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        await wait_for_result(pilot)
        chain = [w.id or type(w).__name__ for w in app.screen.focus_chain]
        # the target bar, the profiles, the stage rows (up/down move between them too); no buttons or tab bars
        assert chain[:2] == ["target-bar", "profile-options"] and len(chain) <= 9, chain
        assert app.focused.id == "profile-options"  # where launch put it; shift+tab is the bar above


async def test_narrowing_the_terminal_keeps_the_form_being_typed_in(lab_store):
    app = make_app(store=lab_store, profile="lab-good-tls")
    async with app.run_test(size=LARGE) as pilot:
        await launched(pilot)
        await pilot.press("f7")
        await wait_form(pilot)
        host = app.screen.query_one("#f-host", Input)
        assert app.focused is host
        await pilot.resize_terminal(*SMALL)
        for _ in range(5):
            await pilot.pause()
        assert app.screen.has_class("-form-drawer") and fully_visible(app.screen, host)
        await pilot.press("escape")
        await pilot.pause()
        assert fully_visible(app.screen, app.screen.query_one("#run-header"))


async def test_an_expanded_stage_row_is_scrolled_into_view(lab_store):
    app = make_app(store=lab_store, profile="lab-good-tls")
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("enter")
        await wait_for_result(pilot)
        await pilot.press("f6", "1")  # every row expanded: the last ones are below the fold
        await pilot.pause()
        waterfall = app.screen.query_one("#waterfall")
        rows = list(waterfall.rows.values())
        rows[-1].action_toggle()  # folded again, then opened by keyboard from its own focus
        rows[-1].focus()
        await pilot.pause()
        await pilot.press("enter")
        for _ in range(10):
            await pilot.pause()
        from tests.tui_layout_checks import visible_lines

        body = rows[-1].query_one(".stage-body")
        assert rows[-1].expanded and visible_lines(app.screen, body) >= min(3, body.region.height)

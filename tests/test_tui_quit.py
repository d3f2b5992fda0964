"""Quitting at once is clean, and the parts not on the first screen are built when first needed."""

from tests.tui_helpers import SIZE, app_for, launched


async def test_quit_straight_after_launch(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.exit(0)  # straight after the first frame
        await pilot.pause()
    assert app.return_code == 0
    assert app._exception is None


async def test_the_form_fields_and_the_listener_are_built_when_first_used(tmp_path):
    from tlsbench.tui.listener import ListenerView

    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        form = app.screen.query_one("#form")
        assert not form.active and app.screen.query("#form-preview") and not app.screen.query(ListenerView)
        await pilot.press("f7")  # the form: built and focused
        for _ in range(50):
            await pilot.pause()
            if form.active:
                break
        assert form.active and app.focused.id == "f-host"
        await pilot.press("ctrl+t")  # the Listener tab: built when first shown
        await pilot.pause()
        assert len(app.screen.query(ListenerView)) == 1


async def test_the_form_is_built_unseen_once_the_screen_is_quiet(tmp_path):
    from tlsbench.tui.screens.workbench import PREBUILD_AFTER_S

    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        form = app.screen.query_one("#form")
        await pilot.pause(PREBUILD_AFTER_S + 0.5)
        for _ in range(100):
            await pilot.pause()
            if app.screen.query("#f-host"):
                break
        host = app.screen.query_one("#f-host")
        assert not form.active and not host.region.area  # built, not shown: the preview still is
        await pilot.press("f7")
        await pilot.pause()
        assert form.active and app.focused is host and host.region.area


async def test_quitting_while_the_form_is_being_built_is_clean(tmp_path):
    # The fields are built unseen a moment after launch; a quit can land at any point of that.
    for rounds in (0, 1, 2, 3, 5, 8):
        app = app_for(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await launched(pilot)
            app.screen.query_one("#form").prebuild()
            for _ in range(rounds):
                await pilot.pause()
            app.exit(0)
        assert app._exception is None, rounds


async def test_the_collector_paused_for_the_first_screen_runs_again_once_it_is_drawn(tmp_path):
    import gc

    from tlsbench.tui import gc_pause

    app = app_for(tmp_path)
    gc_pause.hold()  # as the CLI does before building the app
    try:
        assert not gc.isenabled()
        async with app.run_test(size=SIZE) as pilot:
            await launched(pilot)
            assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc_pause.release()
        gc.unfreeze()
        gc.enable()


def test_a_paused_collector_is_left_alone_when_the_pause_was_not_ours():
    import gc

    from tlsbench.tui import gc_pause

    gc.disable()
    try:
        gc_pause.hold()
        gc_pause.release()
        assert not gc.isenabled()  # whoever paused it ends it
    finally:
        gc.enable()


def _styles_of(screen) -> dict:
    out = {}
    for node in screen.walk_children(with_self=True):
        parts = [node.styles.css]
        for name in sorted(getattr(node, "COMPONENT_CLASSES", ())):
            parts.append(f"{name}: {node.get_component_styles(name).css}")
        out[f"{type(node).__name__}#{node.id}"] = parts
    return out


async def test_the_first_screen_is_styled_as_textuals_restyle_on_showing_it_would_style_it(tmp_path, monkeypatch):
    # The workbench skips Textual's restyle of every widget when its screen is first shown (each was
    # styled when mounted, moments before): the styles must be those that restyle gives.
    from textual.screen import Screen

    from tlsbench.tui.screens.workbench import WorkbenchScreen

    for size in (SIZE, (160, 50)):
        styles = []
        for restyled in (False, True):
            if restyled:  # Textual's own handling of the screen being shown
                monkeypatch.setattr(WorkbenchScreen, "post_message", Screen.post_message)
            app = app_for(tmp_path)
            async with app.run_test(size=size) as pilot:
                await launched(pilot)
                styles.append(_styles_of(app.screen))
        monkeypatch.undo()
        assert styles[0] == styles[1]

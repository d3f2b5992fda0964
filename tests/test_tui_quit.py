"""Quitting at once, before the deferred parts (form fields, Listener tab) are mounted, is clean."""

from tests.tui_helpers import SIZE, app_for


async def test_quit_before_the_deferred_parts_are_mounted(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.exit(0)  # straight after the first frame, as the startup benchmark does
        await pilot.pause()
    assert app.return_code == 0
    assert app._exception is None


async def test_the_deferred_parts_arrive_after_the_first_frame(tmp_path):
    from tlsbench.tui.listener import ListenerView

    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await pilot.pause()
            if app.screen.query(ListenerView) and app.screen.query_one("#form").ready:
                break
        assert app.screen.query_one("#form").ready
        assert len(app.screen.query(ListenerView)) == 1

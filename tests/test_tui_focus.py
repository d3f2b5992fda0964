"""Every focusable widget of the workbench shows its focus: some of its cells (at least five, or all of
a smaller one) change background by a contrast ratio of at least 3:1 between blurred and focused, as
drawn (the compositor's segments, not the CSS). Profile list, target bar, tabs, results panels, the
form's fields, the Listener tab and the dialogs, at 80x24."""

from __future__ import annotations

import pytest
from textual.widget import Widget

from tests.tui_contrast import backgrounds, focus_cells
from tests.tui_helpers import app_for, launched, settle, wait_for_result
from tests.tui_layout_checks import _shown
from tlsbench.engine.spec import build_spec

SIZE = (80, 24)


def frame(screen, widget):
    """Where the focus of `widget` may show: its region, or its panel's when it is the panel's only
    focusable part (the profile list lights its panel's title)."""
    parent = widget.parent
    if isinstance(parent, Widget) and parent.border_title and \
            [w for w in parent.walk_children(Widget) if w.focusable] == [widget]:
        return screen.find_widget(parent).region
    return screen.find_widget(widget).region


async def check_focus(pilot, screen, skip=()) -> list[str]:
    """[problem] for every shown focusable widget of `screen` whose focus cannot be seen."""
    app = pilot.app
    problems = []
    widgets = [w for w in screen.walk_children(Widget) if w.focusable and _shown(screen, w) and w.id not in skip]
    assert widgets
    for widget in widgets:
        other = next(w for w in widgets if w is not widget and widget not in w.ancestors_with_self
                     and w not in widget.ancestors_with_self)
        other.focus()
        await pilot.pause()
        widget.scroll_visible(animate=False)
        await pilot.pause()
        region = frame(screen, widget).intersection(screen.region)
        before = backgrounds(app, region)
        widget.focus()
        await pilot.pause()
        await pilot.pause()
        if frame(screen, widget).intersection(screen.region) != region:
            continue  # it moved into view: what matters then is where it went, checked once it is there
        changed = focus_cells(before, backgrounds(app, region))
        if changed < min(5, region.area):
            problems.append(f"{widget!r}: {changed} cells change by 3:1 on focus")
    return problems


async def test_the_workbench_shows_focus(tmp_path, tls_server, lab_certs):
    server = tls_server("good")
    app = app_for(tmp_path, spec=build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)), run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for_result(pilot)
        await pilot.press("escape", "escape")
        problems = await check_focus(pilot, app.screen)
        for panel in ("2", "3", "4"):
            await pilot.press(panel)
            await pilot.pause()
            problems += await check_focus(pilot, app.screen)
        await pilot.press("f7")
        await pilot.pause()
        problems += await check_focus(pilot, app.screen)
        await pilot.press("ctrl+t")
        for _ in range(20):
            await pilot.pause()
        problems += await check_focus(pilot, app.screen)
        assert not problems, "\n".join(sorted(set(problems)))


@pytest.mark.parametrize("key", ["ctrl+s", "ctrl+y", "f4", "f12"])
async def test_the_dialogs_show_focus(key, tmp_path, tls_server, lab_certs):
    server = tls_server("good")
    app = app_for(tmp_path, spec=build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)), run=True)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await wait_for_result(pilot)
        await pilot.press(key)
        for _ in range(20):
            await pilot.pause()
        assert len(app.screen_stack) == 2
        focusable = [w for w in app.screen.walk_children(Widget) if w.focusable and _shown(app.screen, w)]
        if len(focusable) > 1:
            problems = await check_focus(pilot, app.screen)
            assert not problems, "\n".join(problems)

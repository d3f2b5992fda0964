"""No state without a way out: "Why?" → `u` puts the variant in the form, and from there Esc, F7 and
ctrl+r all lead back to the results (the form used to stay on screen for good on a narrow terminal)."""

from __future__ import annotations

import pytest

from tests.tui_helpers import app_for, launched, wait_for_result
from tests.tui_layout_checks import fully_visible, layout_problems
from tests.test_tui_diagnosis import wait_for_diagnosis
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


async def why_then_use(pilot) -> None:
    await wait_for_result(pilot)
    await pilot.press("f12")
    d = await wait_for_diagnosis(pilot)
    assert d.works == "tls-1.3"
    await pilot.press("u")
    for _ in range(50):
        await pilot.pause()
        if pilot.app.screen.query("#results") and pilot.app.screen.query_one("#form").active:
            break


def results_shown(app) -> bool:
    screen = app.screen
    return fully_visible(screen, screen.query_one("#run-header")) and not screen.query_one("#form").region.area


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("way_out", ["escape", "f7", "ctrl+r"])
async def test_the_variant_in_the_form_then_back_to_the_results(size, way_out, tmp_path, tls_server, lab_certs):
    server = tls_server("good", tls_version="1.3")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), tls_max="1.2")
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=size) as pilot:
        await launched(pilot)
        await why_then_use(pilot)
        screen = app.screen
        form = screen.query_one("#form")
        assert form.region.area and form.build().tls.max_version != "1.2"  # the variant, in the form
        assert layout_problems(screen) == []  # the form takes the results' place: nothing beside it
        before = screen.run_id
        await pilot.press(way_out)
        await pilot.pause()
        if way_out == "ctrl+r":
            assert screen.run_id == before + 1
            result = await wait_for_result(pilot)
            assert result.ok  # the variant's run, shown
        assert results_shown(app), way_out
        assert layout_problems(screen) == []

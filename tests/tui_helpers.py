"""Shared helpers for the workbench tests: building the app, waiting for runs, reading the screen."""

from __future__ import annotations

import html
import re

from tlsbench.commands.workbench import make_app
from tlsbench.profiles.store import ProfileStore

SIZE = (160, 48)


def app_for(tmp_path, **kwargs):
    return make_app(store=ProfileStore(tmp_path / "config"), **kwargs)


async def launched(pilot, rounds: int = 100) -> None:
    """Wait until the workbench screen is mounted and has composed its starting connection."""
    for _ in range(rounds):
        await pilot.pause()
        if pilot.app.screen.query("#form") and pilot.app.screen.query("#results"):
            await pilot.pause()
            return
    raise AssertionError("the workbench never mounted")


async def settle(pilot, rounds: int = 100) -> None:
    """Wait until the form's editable fields exist (they are built when the form is first used)."""
    await launched(pilot)
    form = pilot.app.screen.query_one("#form")
    form.activate()
    for _ in range(rounds):
        await pilot.pause()
        if form.active:
            await pilot.pause()
            return
    raise AssertionError("the form never became editable")


async def wait_for_result(pilot, rounds: int = 400):
    """Let the app process events until the current run has a result (bounded, not timed)."""
    results = pilot.app.screen.query_one("#results")
    for _ in range(rounds):
        await pilot.pause(0.05)
        if results.result is not None and not pilot.app.screen.running:
            await pilot.pause()
            return results.result
    raise AssertionError("the run did not finish")


def screen_text(app) -> str:
    """The visible screen as plain text, one line per terminal row, exactly as composed."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def screen_segments(app) -> list[str]:
    """Every text segment the screen would send to the terminal (to look for control characters)."""
    return [segment.text for strip in app.screen._compositor.render_strips() for segment in strip]


def svg_text(app) -> str:
    """The SVG screenshot's text, tags stripped and entities decoded."""
    svg = app.export_screenshot()
    body = re.sub(r"<[^>]+>", "", svg.split("</style>", 1)[-1])
    return html.unescape(body).replace("\xa0", " ")


def fill(app, **values) -> None:
    """Set form inputs by widget id suffix, e.g. fill(app, host="localhost", port="443")."""
    from textual.widgets import Input

    for key, value in values.items():
        app.screen.query_one(f"#f-{key.replace('_', '-')}", Input).value = value

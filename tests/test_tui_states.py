"""The workbench's states (tui/states.py) walked with real keys at 80x24 and 120x40.

From each zone and each dialog, six keys chosen with a fixed seed from the keys the table declares
there; after every key the drawn workbench is in the state the table says (focus, what the main
area shows, the dialogs open), nothing is cut off by a parent that cannot scroll, and a ctrl+r
shows the run it starts. The table's own rules (results within two keys of every state, Escape
closes the top-most dialog) are checked over every state it reaches.
"""

from __future__ import annotations

import random

import pytest

from tests.tui_layout_checks import fully_visible, layout_problems
from tlsbench.commands.workbench import make_app
from tlsbench.errors import InputError
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore
from tlsbench.tui.states import (DEPENDS_ON_DATA, DIALOGS, WORKBENCH, State, keys_of, reachable, results_visible,
                                 shortest_path, step)

SEED = 17
LENGTH = 6
START = State()
NAMES = {cls: name for name, cls in DIALOGS.items()}


def test_the_table_keeps_its_rules():
    states = reachable(START)
    assert {s.zone for s in states} == set(WORKBENCH) and len(states) > 30
    for state in states:
        path = shortest_path(state, results_visible)
        assert path is not None and len(path) <= 2, (state, path)
        if state.dialogs:
            assert step(state, "escape").dialogs == state.dialogs[:-1], state
        elif state.zone == "form":
            assert results_visible(step(state, "escape")), state
        elif state.zone == "results":
            assert step(state, "escape").zone == "profiles"
        if not state.dialogs and state.composed and state.zone in ("form", "results", "target", "listener"):
            assert results_visible(step(state, "ctrl+r")), state


def observe(app) -> State:
    workbench = app.screen_stack[0]
    dialogs = tuple(NAMES.get(type(s).__name__, type(s).__name__) for s in app.screen_stack[1:])
    try:
        workbench.query_one("#form").build()
        composed = True
    except InputError:
        composed = False
    return State(workbench.zone(), "form" if workbench.has_class("-form-open") else "results", dialogs, composed)


async def press(pilot, state: State, key: str) -> State:
    """Press `key`, wait (bounded, never timed) until the app settles, and return the table's state."""
    app = pilot.app
    workbench = app.screen_stack[0]
    before = workbench.run_id
    expected = step(state, key)
    await pilot.press(key)
    for _ in range(400):
        await pilot.pause(0.01)
        if observe(app) == expected and not workbench.running:
            break
    if workbench.run_id != before:  # ctrl+r (or Enter on a profile) started a run: it is shown
        results = workbench.query_one("#results")
        assert results.spec is not None and not workbench.running
        assert fully_visible(workbench, workbench.query_one("#run-header")), (state, key)
    return expected


async def walk(pilot, keys_from, rng: random.Random, trail: list) -> State:
    state = keys_from
    for _ in range(LENGTH):
        where = state.dialogs[-1] if state.dialogs else state.zone
        choices = sorted(k for k in keys_of(state) if (where, k) not in DEPENDS_ON_DATA)
        key = rng.choice(choices)
        trail.append(key)
        state = await press(pilot, state, key)
        seen = observe(pilot.app)
        assert seen == state, f"after {' '.join(trail)}: drawn {seen}, the table says {state}"
        problems = layout_problems(pilot.app.screen)
        assert problems == [], f"after {' '.join(trail)}: {problems}"
    return state


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_walk_the_states_with_real_keys(size, tmp_path, tls_server, lab_certs):
    server = tls_server("good")
    store = ProfileStore(tmp_path / "config")
    store.save(Profile("walk", build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)), ""))
    rng = random.Random(SEED)
    starts = [next(s for s in sorted(reachable(START)) if s.zone == zone and not s.dialogs and s.composed)
              for zone in WORKBENCH]
    starts += [State("profiles", "results", (name,), True) for name in ("why", "copy", "history", "name",
                                                                        "palette", "repeat", "pcap")]
    app = make_app(store=store, profile="walk", run=True)
    async with app.run_test(size=size) as pilot:
        workbench = app.screen
        for _ in range(400):
            await pilot.pause(0.02)
            if workbench.query("#results") and workbench.query_one("#results").result is not None \
                    and not workbench.running:
                break
        state = observe(app)
        assert state == START, state
        while starts:  # the nearest start next: fewer keys spent getting there
            paths = [(len(p), i, p) for i, start in enumerate(starts)
                     if (p := shortest_path(state, lambda s, start=start: s == start)) is not None]
            assert len(paths) == len(starts), "a start the table cannot reach"
            _, index, path = min(paths)
            start = starts.pop(index)
            trail: list[str] = []
            for key in path:
                trail.append(key)
                state = await press(pilot, state, key)
            assert observe(app) == start, f"{' '.join(trail)} did not reach {start}: {observe(app)}"
            state = await walk(pilot, start, rng, trail)

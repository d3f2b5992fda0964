"""Arrow keys faster than the screen answers: the profile list's highlight moves several times before
any of its messages is handled. Only the last highlight composes a profile, once; nothing then keeps
composing profiles over what was put in the form afterwards (a Why? variant, say)."""

from __future__ import annotations

from tests.tui_helpers import app_for, launched
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore


async def test_a_burst_of_highlights_composes_the_last_profile_only(tmp_path):
    store = ProfileStore(tmp_path / "config")
    for i in range(9):
        store.save(Profile(name=f"p{i}", spec=build_spec(f"h{i}.test:{1000 + i}", pin="127.0.0.1")))
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await launched(pilot)
        workbench = app.screen
        options = workbench.query_one("#profile-options")
        composed: list[str] = []
        original = workbench.compose_profile

        def counting(name: str) -> bool:
            composed.append(name)
            return original(name)

        workbench.compose_profile = counting
        start = options.highlighted or 0
        for step in range(1, 8):  # seven highlights before any message is handled
            options.highlighted = start + step
        for _ in range(20):
            await pilot.pause(0.02)
        last = f"p{start + 7}"
        assert composed == [last], composed
        form = workbench.query_one("#form")
        assert form.spec is not None and form.spec.host == f"h{start + 7}.test"
        # What is put in the form next stays there: no late highlight composes over it.
        variant = build_spec("127.0.0.1:44303", no_sni=True)
        form.load_spec(variant)
        for _ in range(20):
            await pilot.pause(0.02)
        assert form.spec == variant and composed == [last], composed

"""The workbench at 80x24, 100x30, 120x40, 160x50 and 200x60, after real runs in the lab.

At each size: no two visible sibling widgets of one layer overlap (pop-ups and overlays aside),
no panel is below its declared minimum, and after a run of a direct and of a one-proxy connection
the verdict, every stage row with its time and the first finding's title are on screen without
scrolling. The same holds with the form open and on the Listener tab. Below 80x24 a message says so.
"""

from __future__ import annotations

import pytest

from tests.tui_helpers import launched, screen_text, wait_for_result
from tests.tui_layout_checks import fully_visible, layout_problems, scrollbars
from tlsbench.commands.lab import save_profiles
from tlsbench.commands.workbench import make_app
from tlsbench.engine.findings.model import sort_findings
from tlsbench.profiles.store import ProfileStore

SIZES = [(80, 24), (100, 30), (120, 40), (160, 50), (200, 60)]


@pytest.fixture
def lab_store(tmp_path, running_lab):
    store = ProfileStore(tmp_path / "config")
    saved, problems = save_profiles(running_lab, store)
    assert not problems and "lab-socks5-tls" in saved
    return store


async def run_profile(pilot, name: str):
    """Highlight the profile in the list and press Enter, as a person would."""
    screen = pilot.app.screen
    options = screen.query_one("#profile-options")
    options.focus()
    options.highlighted = sorted(screen.query_one("#profiles").profiles).index(name)
    await pilot.pause()
    before = screen.run_id
    await pilot.press("enter")
    assert screen.run_id == before + 1
    return await wait_for_result(pilot)


def assert_result_readable(app, result) -> None:
    screen = app.screen
    text = screen_text(app)
    header = screen.query_one("#run-header")
    assert fully_visible(screen, header), "the verdict is not fully on screen"
    assert ("OK in" if result.ok else "FAILED") in text
    waterfall = screen.query_one("#waterfall")
    assert set(waterfall.rows) == {record.name for record in result.stages}
    for record in result.stages:
        head = waterfall.rows[record.name].query_one(".stage-head")
        assert fully_visible(screen, head), f"stage row {record.name} needs scrolling"
        if record.status != "skipped":
            assert f"{record.duration_ms:.1f} ms" in text, record.name
    if result.findings:
        title = sort_findings(result.findings)[0].title
        holder = screen.query_one("#finding-line" if screen.has_class("-tabbed") else "#findings-body")
        assert title in str(holder.render()).replace("\n", " ")
        assert title[:25] in text, "the first finding's title is not on screen"
        first_line = holder.region.intersection(holder.region.__class__(holder.region.x, holder.region.y,
                                                                        holder.region.width, 1))
        assert screen.find_widget(holder).clip.contains_region(first_line)


# ctrl+s: name, ctrl+y: copy / share, f4: history, f12: why?, f10: repeat, f8: delete (asks), ctrl+n: enumerate
DIALOG_KEYS = ("ctrl+s", "ctrl+y", "f4", "f12", "f10", "f8", "ctrl+n", "ctrl+p")


async def check_dialog(pilot, key: str) -> None:
    app = pilot.app
    await pilot.press(key)
    for _ in range(50):
        await pilot.pause()
        if len(app.screen_stack) > 1:
            break
    assert len(app.screen_stack) == 2, f"{key} opened no dialog"
    await pilot.pause(0.2)
    problems = layout_problems(app.screen)
    assert problems == [], (key, problems)
    await pilot.press("escape")
    for _ in range(50):
        await pilot.pause()
        if len(app.screen_stack) == 1:
            break
    assert len(app.screen_stack) == 1, f"Esc did not close the dialog of {key}"


async def check_chain(pilot) -> None:
    """The chain tree, every certificate expanded: no horizontal scrollbar (its lone thumb read as a stray
    block), and the leaf's validity says how many days are left with both dates whole."""
    app = pilot.app
    await pilot.press("2")
    await pilot.pause()
    tree = app.screen.query_one("#chain-tree")
    assert not tree.show_horizontal_scrollbar and layout_problems(app.screen) == []
    lines = [str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1)]
    validity = next(i for i, text in enumerate(lines) if text.startswith("validity"))
    width = tree.scrollable_content_region.width
    assert "days left" in lines[validity]
    for text in lines[validity + 1:validity + 3]:
        assert "Z" in text and (len(text) + 9) <= width, (text, width)  # indent + label + date fit
    await pilot.press("1")


async def check_clients(pilot) -> None:
    """The Listener with a client that spoke plain HTTP to it: its result is on screen, whole enough to
    read, and no scrollbar thumb hangs below the table."""
    import asyncio
    import socket

    app = pilot.app
    view = app.screen.query_one("#listener").content
    await pilot.press("f5")
    for _ in range(200):
        await pilot.pause(0.05)
        if view.listener is not None and view.listener.port:
            break

    def plain_client(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            sock.settimeout(5)
            try:
                sock.recv(100)
            except OSError:
                pass

    await asyncio.to_thread(plain_client, view.listener.port)
    table = view.query_one("#lv-clients")
    for _ in range(100):
        await pilot.pause(0.05)
        if table.row_count and str(table.get_cell_at((0, 6))):
            break
    await pilot.pause(0.2)
    result = str(table.get_cell_at((0, 6)))
    assert result and result[:12] in screen_text(app), result
    assert not table.show_horizontal_scrollbar
    assert layout_problems(app.screen) == []
    await pilot.press("f5")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_layout_at_each_size(size, lab_store):
    app = make_app(store=lab_store, profile="lab-good-tls")
    async with app.run_test(size=size) as pilot:
        await launched(pilot)
        assert layout_problems(app.screen) == []
        # a direct connection that fails with a finding, then one through a SOCKS5 proxy
        for name in ("lab-plaintext-port", "lab-socks5-tls"):
            result = await run_profile(pilot, name)
            await pilot.pause()
            assert_result_readable(app, result)
            assert layout_problems(app.screen) == []
            assert all(len(bars) <= 1 for bars in scrollbars(app.screen).values()), scrollbars(app.screen)
        await pilot.press("f6")  # everything expanded: still no overlap
        await pilot.pause()
        assert layout_problems(app.screen) == []
        await check_chain(pilot)
        for key in DIALOG_KEYS:  # every dialog of the Connection tab fits, then Esc closes it
            await check_dialog(pilot, key)
        await pilot.press("f7")  # the form, open on the selected profile
        for _ in range(50):
            await pilot.pause()
            if app.screen.query_one("#form").active:
                break
        assert fully_visible(app.screen, app.screen.query_one("#f-host"))
        assert layout_problems(app.screen) == []
        await pilot.press("ctrl+t")  # the Listener tab
        for _ in range(20):
            await pilot.pause()
        assert layout_problems(app.screen) == []
        assert fully_visible(app.screen, app.screen.query_one("#lv-start"))
        await check_clients(pilot)


@pytest.mark.parametrize("size", [(79, 24), (80, 23), (60, 20)])
async def test_below_the_minimum_size_a_message_says_so(size, tmp_path):
    app = make_app(store=ProfileStore(tmp_path / "config"))
    async with app.run_test(size=size) as pilot:
        await launched(pilot)
        text = screen_text(app)
        assert "at least 80×24" in text and f"{size[0]}×{size[1]}" in text
        assert not app.screen.query_one("#tabs").display

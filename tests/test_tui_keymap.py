"""Keys people know: q / ctrl+q quit, the key bar names the quit key, n starts a new connection,
save suggests a name, a relaunch selects the last used profile, and keymap.toml remaps keys by id
(every binding has one, in tui/actions.py); a bad keymap or state file is one line, defaults apply."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from textual.binding import Binding
from textual.widgets import Input

import tlsbench.tui
from tests.tui_helpers import app_for, launched
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore
from tlsbench.tui.actions import ALL_KEYS
from tlsbench.tui.keymap import KEYMAP_FILE, load_keymap

SMALL = (80, 24)
CLOSED = "127.0.0.1:1"  # nothing listens: a run fails at once, which is all these tests need


def all_bindings():
    for info in pkgutil.walk_packages(tlsbench.tui.__path__, "tlsbench.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                for binding in cls.__dict__.get("BINDINGS", []):
                    yield cls, binding


def test_every_binding_has_an_id_from_the_one_table():
    ids = [entry.id for entry in ALL_KEYS]
    assert len(ids) == len(set(ids))
    found = list(all_bindings())
    assert len(found) >= 40
    for cls, binding in found:
        assert isinstance(binding, Binding) and binding.id in ids, (cls, binding)
        assert binding.description, (cls, binding)


@pytest.mark.parametrize("text, words", [
    ("run = [", "Invalid"), ("nosuch = \"x\"", "'nosuch' is not a key id"),
    ("run = 3", "is not a key such as"), ("run = \"ctrl r\"", "is not a key such as"),
    ("run = \"\\u001b[31m\"", "is not a key such as"), (b"\xff\xfe", "not UTF-8"),
    ("x" * 70000, "more than a keymap may be"),
])
def test_a_bad_keymap_is_one_line_and_no_keys_change(tmp_path, text, words):
    (tmp_path / KEYMAP_FILE).write_bytes(text if isinstance(text, bytes) else text.encode())
    keymap, problem = load_keymap(tmp_path)
    assert keymap == {} and problem is not None
    assert "\n" not in problem and "\x1b" not in problem and problem.endswith("the default keys apply")
    assert words.lower() in problem.lower(), problem


def test_a_keymap_maps_ids_to_keys(tmp_path):
    (tmp_path / KEYMAP_FILE).write_text('# mine\nrun = "ctrl+e"\nquit = "q, x"\n')
    assert load_keymap(tmp_path) == ({"run": "ctrl+e", "quit": "q,x"}, None)
    assert load_keymap(tmp_path / "absent") == ({}, None)


async def test_keymap_toml_remaps_a_key_and_a_bad_one_leaves_the_defaults(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / KEYMAP_FILE).write_text('run = "ctrl+e"\n')
    app = app_for(tmp_path, spec=build_spec(CLOSED))
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert app.screen.run_id == 1
        assert any(t.startswith("Run (ctrl+e)") for t in (c.title for c in app.get_system_commands(app.screen)))
    (config / KEYMAP_FILE).write_text('run = "ctrl+e"\nbogus = "z"\n')
    app = app_for(tmp_path, spec=build_spec(CLOSED))
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("'bogus' is not a key id" in n and "\n" not in n for n in notes), notes
        await pilot.press("ctrl+e")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.screen.run_id == 1  # ctrl+r ran, ctrl+e did not


async def test_q_quits_where_no_text_field_has_focus_and_the_key_bar_says_which_key(tmp_path):
    app = app_for(tmp_path, spec=build_spec(CLOSED))
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        bar = app.screen.query_one("#keys")
        await pilot.pause()
        assert "q" in bar.shown and "quit" in str(bar.render())
        await pilot.press("f7")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.focused, Input):
                break
        host = app.focused
        assert isinstance(host, Input)
        bar.refresh()
        await pilot.pause()
        assert "ctrl+q" in bar.shown and "q" not in bar.shown  # in a field q is a letter
        await pilot.press("end", "q", "ctrl+c")  # typed; ctrl+c copies in a field
        await pilot.pause()
        assert host.value.endswith("q") and app.is_running
        await pilot.press("escape", "escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_ctrl_q_quits_from_a_dialog(tmp_path):
    app = app_for(tmp_path, spec=build_spec(CLOSED))
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("ctrl+s")
        for _ in range(20):
            await pilot.pause()
        assert type(app.screen).__name__ == "NamePrompt"
        await pilot.press("q")  # typed into the name
        assert app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert not app.is_running


async def test_n_starts_a_new_connection_and_save_suggests_a_name(tmp_path):
    store = ProfileStore(tmp_path / "config")
    store.save(Profile("mail.lab.test-42587", build_spec("mail.lab.test:42587"), ""))
    app = app_for(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("n")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.focused, Input):
                break
        assert app.focused.id == "f-host" and app.focused.value == ""
        assert app.screen.query_one("#profiles").current is None
        await pilot.press(*"mail.lab.test", "enter", *"42587", "ctrl+s")
        for _ in range(20):
            await pilot.pause()
        assert app.screen.query_one("#name", Input).value == "mail.lab.test-42587-2"  # the first one is taken


async def test_a_relaunch_selects_the_profile_selected_at_exit(tmp_path):
    store = ProfileStore(tmp_path / "config")
    for name in ("alpha", "beta", "gamma"):
        store.save(Profile(name, build_spec(CLOSED), ""))
    app = app_for(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        await pilot.press("down", "down")  # highlighted, never run
        await pilot.pause()
        assert app.screen.query_one("#profiles").current == "gamma"
        await pilot.press("q")
        await pilot.pause()
    app = app_for(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        assert app.screen.query_one("#profiles").current == "gamma"


@pytest.mark.parametrize("content", [b"last_used = [\n", b"x" * (2 << 20), b"\xff\xfe"], ids=["bad", "huge", "binary"])
async def test_a_bad_state_file_is_one_line_and_the_first_profile_is_selected(tmp_path, content):
    store = ProfileStore(tmp_path / "config")
    for name in ("alpha", "beta"):
        store.save(Profile(name, build_spec(CLOSED), ""))
    store.state_path.write_bytes(content)
    app = app_for(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await launched(pilot)
        assert app.screen.query_one("#profiles").current == "alpha"
        notes = [str(n.message) for n in app._notifications]
        assert len(notes) == 1 and "\n" not in notes[0] and "state.toml" in notes[0], notes
    assert store.state_path.read_bytes() == content  # left as it was

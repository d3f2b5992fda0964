"""The nesting scanners that run before tomllib, tomlkit and json (tlsbench.file_limits), by property.

They never raise on any text; on JSON they count exactly the depth json.loads builds; on TOML they
never count less than the depth tomllib builds (so nothing deeper than the limit reaches a parser)
and at most twice it (so every shallow file a parser takes is still read).
"""

from __future__ import annotations

import json
import os
import tomllib
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tlsbench.file_limits import MAX_DEPTH, json_depth, json_problem, read_toml, toml_deep_line, toml_depth
from tlsbench.safe_files import FileMissing, FileRefused

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def real_depth(value: Any) -> int:
    """Containers inside each other in a parsed value (a scalar: 0, an empty list: 1)."""
    if isinstance(value, dict):
        return 1 + max((real_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((real_depth(v) for v in value), default=0)
    return 0


text_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
keys = st.one_of(st.sampled_from(["a", "b.c", "x y", '"q"', "'", "[t]", "#", "=", "{", "a.b.c"]), text_values)
scalars = st.one_of(st.integers(), st.booleans(), text_values,
                    st.sampled_from(['"""', "'''", "\\", '"', "]]", "[[", "{", "#", "\n", 'a"""b""']))
json_values = st.recursive(st.one_of(scalars, st.none(), st.floats(allow_nan=False, allow_infinity=False)),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                           max_leaves=30)
toml_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(keys, inner, max_size=4), max_leaves=30)
documents = st.dictionaries(keys, toml_values, max_size=5)


def _toml_text(data: dict[str, Any]) -> str:
    try:
        return tomlkit.dumps(data)
    except Exception:  # noqa: BLE001 - tomlkit cannot write every shape (e.g. some mixed arrays)
        assume(False)
        raise


# --- JSON --------------------------------------------------------------------------------------------

@SETTINGS
@given(json_values, st.booleans())
def test_json_depth_is_exact_on_what_json_writes(value, indent):
    text = json.dumps(value, indent=1 if indent else None, ensure_ascii=False)
    assert json_depth(text) == json_depth(text.encode()) == real_depth(json.loads(text))


@SETTINGS
@given(st.text())
@example('"\\')
@example('["\\"]"')
@example("]" * 40 + "[" * 40)
def test_json_depth_never_raises_and_bounds_what_json_accepts(text):
    depth = json_depth(text)
    assert depth >= 0 and json_depth(text.encode("utf-8", "surrogatepass")) == depth
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return
    assert depth == real_depth(value)


def test_json_problem_names_the_depth_and_leaves_shallow_lines_alone():
    assert json_problem('{"a": [1, [2, {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]]]}') is None
    assert json_problem("[" * 5000 + "]" * 5000) == f"nested 5000 levels deep, more than {MAX_DEPTH}"
    assert json_problem("[" * 33) is not None  # unclosed: json.loads would recurse all the same


# --- TOML --------------------------------------------------------------------------------------------

@SETTINGS
@given(documents)
def test_toml_depth_bounds_what_tomllib_builds(data):
    text = _toml_text(data)
    real = real_depth(tomllib.loads(text))
    assert real <= toml_depth(text) <= 2 * real


@SETTINGS
@given(documents, st.data())
def test_toml_depth_bounds_any_edit_tomllib_still_accepts(data, draw):
    """Cut, doubled or inserted characters: whatever tomllib still reads is never deeper than counted."""
    text = _toml_text(data)
    at = draw.draw(st.integers(0, len(text)))
    edit = draw.draw(st.sampled_from(["cut", "insert", "double"]))
    if edit == "cut":
        text = text[:at] + text[at + draw.draw(st.integers(1, 4)):]
    elif edit == "insert":
        text = text[:at] + draw.draw(st.sampled_from(list("[]{}\"'#.=,\n\\") + ['"""', "'''"])) + text[at:]
    else:
        text = text[:at] + text[at:at + 8] + text[at:]
    depth = toml_depth(text)
    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    assert depth >= real_depth(value)


@SETTINGS
@given(st.text())
@example('x = """\\')
@example("[[a]]\n[[a.b]]\n[a.b.c]")
@example("a = {b = {c = [1, {d = 2}]}, e = [}")
def test_toml_depth_never_raises(text):
    depth = toml_depth(text)
    assert depth >= 1
    line = toml_deep_line(text)
    assert (line is None) == (depth <= MAX_DEPTH)


@pytest.mark.parametrize("text, real", [
    ("a = 1", 1), ("a.b.c = 1", 3), ("[t]\nx = [1]", 3), ("x = {a.b = [1]}", 4), ("[[proxy]]\nhost = 'h'", 3),
    ("x = '''[[['''", 1), ('s = "[[[" # [[[[', 1), ('x = """a""""\ny = [[1]]', 3), ('[a."b.c".d]', 4),
])
def test_toml_depth_of_small_files(text, real):
    assert real_depth(tomllib.loads(text)) == real
    assert toml_depth(text) == real


@pytest.mark.parametrize("text", ["x = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 40 + "1" + "}" * 40,
                                  "a" + ".b" * 5000 + " = 1", "[a" + ".b" * 40 + "]", "x = " + "[" * 5000])
def test_deep_toml_is_one_line_from_read_toml(tmp_path, text):
    path = tmp_path / "deep.toml"
    path.write_text('ok = 1\n' + text + "\n")
    with pytest.raises(FileRefused) as caught:
        read_toml(path, what="settings file")
    assert str(caught.value) == f"{path}: line 2: nested more than {MAX_DEPTH} levels deep; not read"


def test_read_toml_says_what_is_wrong_in_one_line(tmp_path):
    path = tmp_path / "x.toml"
    with pytest.raises(FileMissing):
        read_toml(path)
    path.write_bytes(b"a = 1\nb = \xff\n")
    with pytest.raises(FileRefused, match=r"line 2: not UTF-8 text \(byte 0xff\)$"):
        read_toml(path)
    path.write_text("a = = 1\n")
    with pytest.raises(FileRefused, match=r"not valid TOML: .*line 1"):
        read_toml(path)
    path.write_bytes(b"\xef\xbb\xbf[history]\nkeep = 3\n")
    assert read_toml(path) == {"history": {"keep": 3}}


@pytest.mark.parametrize("kind", ["fifo", "directory", "dangling link", "huge"])
def test_read_toml_refuses_what_is_not_a_small_regular_file_without_waiting(tmp_path, kind):
    """The shared reader for the config directory's small TOML files (settings, keymap, last used)."""
    path = tmp_path / "keymap.toml"
    if kind == "fifo":
        os.mkfifo(path)  # a reader that opened it would wait for a writer for ever
    elif kind == "directory":
        path.mkdir()
    elif kind == "dangling link":
        path.symlink_to(tmp_path / "nowhere")
    else:
        path.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(FileRefused) as caught:
        read_toml(path, what="keymap")
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)

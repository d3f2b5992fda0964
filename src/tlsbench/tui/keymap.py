"""A person's keymap: `keymap.toml` in the config directory remaps keys by their id (tui/actions.py).

    run = "ctrl+e"          # one key
    quit = "q,x"            # or several, comma-separated

A file that cannot be used is reported in one line and the default keys apply: all of the file
or none of it, so a typo never leaves half a keymap in force.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

KEYMAP_FILE = "keymap.toml"
MAX_BYTES = 64 * 1024  # a keymap is a few lines; never slurp something huge
# Textual key names: letters, digits, `+` for modifiers, `_` in names such as question_mark.
_KEY = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")


def load_keymap(config_dir: Path) -> tuple[dict[str, str], str | None]:
    """({binding id: keys}, None), or ({}, one line saying why the file is not used)."""
    from tlsbench.safe_files import FileMissing, FileRefused, read_regular
    from tlsbench.tui.actions import ALL_KEYS

    path = config_dir / KEYMAP_FILE
    try:
        raw = read_regular(path, limit=MAX_BYTES, what="keymap")
    except FileMissing:
        return {}, None
    except FileRefused as exc:
        return {}, _problem(path, exc.reason)
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return {}, _problem(path, "not UTF-8 text")
    except tomllib.TOMLDecodeError as exc:
        return {}, _problem(path, str(exc))
    known = {entry.id for entry in ALL_KEYS}
    keymap: dict[str, str] = {}
    for name, value in table.items():
        if name not in known:
            return {}, _problem(path, f"{_shown(name)} is not a key id (see the key table in the docs)")
        keys = value.split(",") if isinstance(value, str) else []
        if not keys or not all(_KEY.match(key.strip()) for key in keys):
            return {}, _problem(path, f"{name}: {_shown(value)} is not a key such as \"ctrl+r\" or \"f7\"")
        keymap[name] = ",".join(key.strip() for key in keys)
    return keymap, None


def _shown(value: object) -> str:
    from tlsbench.engine.findings.checks import escape_text

    text = value if isinstance(value, str) else repr(value)
    return repr(escape_text(text[:40]))


def _problem(path: Path, reason: str) -> str:
    from tlsbench.visible import visible

    return visible(f"{path}: {reason}; the default keys apply", keep_newlines=False)

"""The `[history]` table of `settings.toml` in the config directory: whether runs are kept, how many.

    [history]
    enabled = true          # false: no run is written
    keep = 200              # runs kept per profile (the oldest go first)
    keep_exchanged = true   # false: the --send text and the server's answers are left out

A missing file (or a file without `[history]`) means these defaults. A file that cannot be read
(tlsbench.file_limits.read_toml: too large, nested too deeply, not TOML), or a bad value, is a `SettingsError` naming the file and the key: the caller says so in one line
and writes no history for that run (a bad setting is never guessed at).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from tlsbench.errors import InputError

FILE_NAME = "settings.toml"
MAX_KEEP = 10_000


class SettingsError(InputError):
    """settings.toml cannot be used; the message names the file (and the key)."""

    title = "settings error"


class HistorySettings(NamedTuple):
    enabled: bool = True
    keep: int = 200
    keep_exchanged: bool = True


DEFAULTS = HistorySettings()


def settings_path(config_dir: Path | None = None) -> Path:
    if config_dir is None:
        from tlsbench.locations import config_dir as default_dir

        config_dir = default_dir(create=False)
    return Path(config_dir) / FILE_NAME


def load_history_settings(config_dir: Path | None = None) -> HistorySettings:
    """The history settings from settings.toml (defaults when it is missing); SettingsError otherwise."""
    from tlsbench.visible import visible
    from tlsbench.file_limits import read_toml
    from tlsbench.safe_files import FileMissing, FileRefused

    path = settings_path(config_dir)
    try:
        data = read_toml(path, what="settings file")
    except FileMissing:
        return DEFAULTS
    except FileRefused as exc:  # not a regular file, too large or deep, not UTF-8, not TOML: one line
        raise SettingsError(str(exc)) from None
    return parse_history_table(data.get("history"), visible(str(path), keep_newlines=False))


def parse_history_table(table: Any, where: str) -> HistorySettings:
    """Check the [history] table's values; every key is known and of its type, or SettingsError."""
    if table is None:
        return DEFAULTS
    if not isinstance(table, dict):
        raise SettingsError(f"{where}: history must be a table ([history])")
    from tlsbench.visible import visible

    for key in table:
        if key not in HistorySettings._fields:
            raise SettingsError(f"{where}: [history] {visible(str(key), keep_newlines=False)}: unknown key "
                                f"(known: {', '.join(HistorySettings._fields)})")
    values: dict[str, Any] = {}
    for key in ("enabled", "keep_exchanged"):
        if key in table:
            if not isinstance(table[key], bool):
                raise SettingsError(f"{where}: [history] {key}: expected true or false, "
                                    f"not {_shown_value(table[key])}")
            values[key] = table[key]
    if "keep" in table:
        keep = table["keep"]
        if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= MAX_KEEP:
            raise SettingsError(f"{where}: [history] keep: expected a whole number from 1 to {MAX_KEEP}, "
                                f"not {_shown_value(keep)} (to keep no runs: enabled = false)")
        values["keep"] = keep
    return DEFAULTS._replace(**values)


def _shown_value(value: Any) -> str:
    from tlsbench.visible import visible

    text = repr(value)
    return visible(text if len(text) <= 40 else text[:37] + "...", keep_newlines=False)

"""Update a hand-edited TOML document in place: only changed values are touched.

Comments, blank lines, key order and keys tlsbench does not know are kept; keys tlsbench owns
that no longer apply (e.g. `pin` after the pin was removed) are dropped.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from tlsbench.engine.spec import PROXY_PASSWORD_ENV
from tlsbench.profiles.codec import KNOWN_KEYS, TABLES

NEW_FILE_HEADER = ("tlsbench connection profile: edit freely, comments and extra keys are kept.",
                   "Passwords are never stored here: password_env names the variable that holds one.")


# What the loader assumes for a key left out of a file (tlsbench.profiles.codec).
ABSENT_MEANS: dict[tuple[str, str], Any] = {
    ("", "timeout"): 10.0, ("tls", "enabled"): True, ("tls", "sni"): "host", ("tls", "verify"): "system",
    ("app", "http"): False,
    # A proxy user without password_env reads $TLSBENCH_PROXY_PASSWORD, as on the command line.
    ("proxy", "password_env"): PROXY_PASSWORD_ENV,
}
_NOTHING = object()


class UpdateError(Exception):
    """The existing document cannot take the new values without losing something; one line."""


def new_document(data: Mapping[str, Any]) -> str:
    doc = tomlkit.document()
    for line in NEW_FILE_HEADER:
        doc.add(tomlkit.comment(line))
    _fill(doc, data)
    return doc.as_string()


def update_document(text: str, data: Mapping[str, Any]) -> str:
    """Return `text` with the values of `data` applied; raise UpdateError when that is unsafe."""
    doc = tomlkit.parse(text)  # the caller checked it parses
    try:
        _merge(doc, data, "")
        result = doc.as_string()
        tomllib.loads(result)  # never write something that would not load again
    except UpdateError:
        raise
    except Exception as exc:  # tomlkit raises several unrelated types for conflicting edits
        raise UpdateError(f"cannot merge the new values into the file as written ({exc})") from None
    return result


def _fill(container: Any, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, Mapping):
            table = tomlkit.table()
            _fill(table, value)
            container.add(tomlkit.nl())
            container.add(key, table)
        else:
            container.add(key, value)


def _same(current: Any, value: Any) -> bool:
    """Equal for the file's purpose: 10 and 10.0 are the same timeout; true and 1 are not."""
    numbers = (int, float)
    if isinstance(current, numbers) and isinstance(value, numbers) \
            and not isinstance(current, bool) and not isinstance(value, bool):
        return current == value
    return type(current) is type(value) and current == value


def _merge(container: Any, data: Mapping[str, Any], level: str) -> None:
    for key, value in data.items():
        if isinstance(value, Mapping):
            existing = container.get(key)
            if existing is None:
                # A table the person never wrote: add only what differs from what absence means.
                wanted = {k: v for k, v in value.items()
                          if not _same(ABSENT_MEANS.get((key, k), _NOTHING), v)}
                if wanted:
                    fresh = tomlkit.table()
                    _fill(fresh, wanted)
                    container.add(tomlkit.nl())
                    container.add(key, fresh)
            elif isinstance(existing, (Table, dict)) and not isinstance(existing, AoT):
                _merge(existing, value, key)
            else:
                raise UpdateError(f"{key!r} is not a table in the file; fix it by hand")
        else:
            existing = container.get(key)
            current = existing.unwrap() if hasattr(existing, "unwrap") else existing
            if key not in container and _same(ABSENT_MEANS.get((level, key), _NOTHING), value):
                continue  # the file already says this by leaving the key out; keep it short
            if key not in container or not _same(current, value):
                container[key] = value
    # Drop the keys tlsbench owns at this level that no longer apply; leave everything else.
    for key in KNOWN_KEYS.get(level, ()):
        if key not in data and key in container:
            del container[key]
    if level == "":
        for table in TABLES:
            if table not in data and table in container:
                existing = container[table]
                if not isinstance(existing, (Table, dict)):
                    raise UpdateError(f"{table!r} is not a table in the file; fix it by hand")
                for key in KNOWN_KEYS[table]:
                    if key in existing:
                        del existing[key]
                if len(existing) == 0:
                    del container[table]

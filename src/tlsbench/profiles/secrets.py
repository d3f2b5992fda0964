"""Passwords written into a profile by hand: found, never used, never shown.

tlsbench never reads a password from a profile (a profile is a file people copy and share); it
stores `password_env`, the name of a variable that holds the password, or asks at run time. A
`password = "…"` a person typed into a profile anyway is named as ignored — by `profiles show`, by a
`probe --profile` run, and in the problems the workbench lists — and its value is masked wherever
the file's text is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["ADVICE", "MASK", "find_passwords", "ignored_note", "masked_text"]

MASK = "***"
ADVICE = ('passwords are never read from profiles: use password_env = "VARIABLE" (the name of an environment '
          "variable that holds it), or give none and type it when asked")
# Key names that can only mean a password or a secret (password_env, the variable's name, is not one).
_SECRET_KEY = re.compile(r"(proxy[_-]?)?(password|passwd|pass|pwd|secret|passphrase)", re.IGNORECASE)


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and _SECRET_KEY.fullmatch(key) is not None


def find_passwords(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, key) of every password-like key in profile data: ("[proxy]", "password"), ("", "pass")."""
    found: list[tuple[str, str]] = []

    def walk(table: Mapping[str, Any], where: str, depth: int) -> None:
        for key, value in table.items():
            if _is_secret_key(key):
                found.append((where, key))
            elif depth < 4 and isinstance(value, Mapping):
                walk(value, f"{where}.{key}" if where else str(key), depth + 1)
            elif depth < 4 and isinstance(value, list):
                tables = [v for v in value if isinstance(v, Mapping)]
                for i, item in enumerate(tables, 1):
                    label = f"{where}.{key}" if where else str(key)
                    walk(item, label + (f" #{i}" if len(tables) > 1 else ""), depth + 1)

    walk(data, "", 0)
    return found


def ignored_note(found: list[tuple[str, str]]) -> str | None:
    """'[proxy] password is ignored: passwords are never read from profiles: use …', or None."""
    if not found:
        return None
    names = ", ".join(f"[{where}] {key}" if where else key for where, key in found)
    verb = "is" if len(found) == 1 else "are"
    return f"{names} {verb} ignored: {ADVICE}"


def masked_text(text: str) -> str:
    """The profile's text with the value of every password-like key replaced by "***".

    Through tomlkit, so comments and layout stay as the person wrote them; any value form (basic,
    literal, multi-line, escaped, inline table) is covered. Text tomlkit cannot read is not shown.
    """
    import tomlkit

    try:
        document = tomlkit.parse(text)
        changed = _mask(document, 0)
        return document.as_string() if changed else text
    except Exception:  # noqa: BLE001 - tomlkit reads what tomllib read; if not, show nothing rather than a secret
        return "# (the file's text is not shown: it holds a password tlsbench could not mask)\n"


def _mask(table: Any, depth: int) -> bool:
    changed = False
    for key in list(table.keys()):
        value = table[key]
        if _is_secret_key(key):
            table[key] = MASK
            changed = True
        elif depth < 4 and isinstance(value, dict):
            changed = _mask(value, depth + 1) or changed
        elif depth < 4 and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    changed = _mask(item, depth + 1) or changed
    return changed

"""The Profile value (a named, validated ConnectionSpec) and the rules for profile names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tlsbench.errors import TlsbenchError
from tlsbench.engine.spec import ConnectionSpec

# Letters, digits, dot, dash, underscore; no leading dot or dash (no hidden files, no "..", no options).
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")


class ProfileError(TlsbenchError):
    """A profile is missing, broken, or cannot be written. The message is one line."""

    title = "profile error"

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


@dataclass(frozen=True)
class Profile:
    name: str
    spec: ConnectionSpec
    description: str = ""
    # Why the server it reaches is not running (the lab marks its profiles so); "" when nothing is known.
    unavailable: str = ""
    # The file it was read from (None for a profile not yet saved); not part of its value.
    path: Path | None = field(default=None, compare=False)
    # Set when the file holds a password by hand: which keys, and that they are ignored (profiles/secrets.py).
    password_note: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ProfileProblem:
    """One profile file that could not be read, parsed or validated."""

    path: Path
    line: int | None
    message: str

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def check_name(name: str) -> str:
    """Return the name, or raise ProfileError when it is not a safe file name."""
    if not isinstance(name, str) or not name:
        raise ProfileError("profile name is empty")
    if not _NAME.fullmatch(name) or ".." in name:
        raise ProfileError(f"profile name {name!r} is not allowed: use letters, digits, '.', '-' and '_' "
                           "(not starting with '.' or '-', no '..', at most 100 characters)")
    return name


def is_valid_name(name: str) -> bool:
    try:
        check_name(name)
    except ProfileError:
        return False
    return True

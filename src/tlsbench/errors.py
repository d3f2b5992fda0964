"""Error types shared by the engine, its front-ends and the file helpers (safe_files, locations)."""

from __future__ import annotations


class TlsbenchError(Exception):
    """Base of every error tlsbench raises on purpose. `title` is a short phrase for the UI."""

    title = "tlsbench error"


class InputError(TlsbenchError):
    """The user asked for something invalid (bad host, port, file, option). Exit code 2.

    The message is one line naming what is wrong; front-ends print it as is.
    """

    title = "invalid input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # the spec field at fault, so a form can mark it


class Cancelled(TlsbenchError):
    """The run was cancelled by the user while a stage was in flight."""

    title = "cancelled"

"""Atomic, private writes of a person's files: a half-written profile never replaces a good one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tlsbench.locations import ensure_private_dir


def write_private_text(path: Path, text: str) -> Path:
    """Replace `path` with `text` atomically (mode 0600); returns the file actually written.

    A symlinked file is resolved first so the link itself survives (os.replace would turn it into a
    regular file). The temporary file lives in the same directory so os.replace stays atomic.
    """
    target = Path(os.path.realpath(path))
    ensure_private_dir(target.parent)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, 0o600)  # mkstemp already makes it 0600; be explicit in case of odd platforms
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)
    return target


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every file system allows opening a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

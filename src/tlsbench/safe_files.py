"""Reading and writing a person's files as data from a stranger: the one place for both.

Everything tlsbench reads from its config and data directories (profiles, state, certificates)
goes through `read_regular()`: the path must be, or link to, a regular file no larger than a
limit, and the read never blocks. A FIFO, a device, a socket or a directory is refused at once:
the kind is checked with stat() before opening, and again with fstat() on a descriptor opened
with O_NONBLOCK, so a file swapped for a FIFO in between still cannot hang the reader.

Writing goes through `replace_checked()`: tlsbench never writes over a file it would refuse to
read as what it is meant to be. An existing file (or the file a symlink points to) must read
back as that kind of file, as the caller's `accept` says; then the new text is written atomically
beside it (temporary file, fsync, rename) so that a link stays a link and is written through.
Every refusal is a `FileRefused` (an InputError: one line, exit 2) naming the file and why.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from tlsbench.errors import InputError

__all__ = ["FileMissing", "FileRefused", "file_kind", "read_regular", "replace_checked", "write_atomic"]

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class FileRefused(InputError):
    """A file tlsbench will not read or write as asked; the message names the file and why."""

    title = "file refused"

    def __init__(self, path: os.PathLike | str, reason: str, *, field: str | None = None) -> None:
        from tlsbench.visible import visible

        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{visible(str(path), keep_newlines=False)}: {reason}", field=field)


class FileMissing(FileRefused):
    """Nothing at the path at all (not even a dangling link)."""


def file_kind(mode: int) -> str:
    """'a FIFO (named pipe)', 'a directory', ... for what a stat mode says the file is."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _stat_reason(path: str, exc: OSError) -> tuple[str, bool]:
    """Why stat() failed, in words, and whether nothing at all is there."""
    if exc.errno == errno.ELOOP:
        return "is a symbolic link loop", False
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            try:
                return f"is a symbolic link to a missing file ({os.readlink(path)})", False
            except OSError:
                return "is a symbolic link to a missing file", False
        return "not found", True
    if exc.errno == errno.ENOTDIR:
        return "not found (a part of the path is not a directory)", True
    return f"cannot be read: {exc.strerror or exc}", False


def check_regular(path: os.PathLike | str, *, limit: int | None = None, what: str = "file") -> os.stat_result:
    """stat() the path (following links) and refuse anything but a regular file within `limit` bytes."""
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except OSError as exc:
        reason, missing = _stat_reason(name, exc)
        raise (FileMissing if missing else FileRefused)(path, reason) from None
    _check_mode(path, st, limit, what)
    return st


def _check_mode(path, st: os.stat_result, limit: int | None, what: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        link = " links to" if os.path.islink(path) else " is"
        raise FileRefused(path, f"{link.strip()} {file_kind(st.st_mode)}, not a regular file; left alone")
    if limit is not None and st.st_size > limit:
        raise FileRefused(path, f"is {st.st_size} bytes, more than a {what} may be ({limit}); left alone")


def read_regular(path: os.PathLike | str, *, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes, read without ever blocking.

    Raises FileMissing when nothing is there, FileRefused for anything else it will not read.
    """
    check_regular(path, limit=limit, what=what)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        reason, missing = _stat_reason(os.fspath(path), exc)
        if exc.errno == errno.ENXIO:  # a socket (or a FIFO's odd cousin) swapped in after stat()
            reason, missing = "is not a regular file; left alone", False
        raise (FileMissing if missing else FileRefused)(path, reason) from None
    try:
        _check_mode(path, os.fstat(fd), limit, what)  # it may have changed since stat()
        chunks, total = [], 0
        while total <= limit:
            try:
                chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            except BlockingIOError:  # cannot happen for a regular file; never wait
                raise FileRefused(path, "would block; not a regular file") from None
            except OSError as exc:
                raise FileRefused(path, f"cannot be read: {exc.strerror or exc}") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileRefused(path, f"grew past {limit} bytes while being read; left alone")
    return data


def write_target(path: os.PathLike | str) -> tuple[Path, os.stat_result | None]:
    """The file a write to `path` really replaces (a symlink's target), and its stat when it exists.

    Refuses a dangling link, a link loop and anything that is not a regular file.
    """
    name = os.fspath(path)
    try:
        os.lstat(name)
    except FileNotFoundError:
        return Path(name), None
    except OSError as exc:
        raise FileRefused(path, f"cannot be checked: {exc.strerror or exc}") from None
    try:
        st = os.stat(name)
    except OSError as exc:
        reason, _missing = _stat_reason(name, exc)
        raise FileRefused(path, f"{reason}; not written over") from None
    if not stat.S_ISREG(st.st_mode):
        verb = "links to" if os.path.islink(name) else "is"
        raise FileRefused(path, f"{verb} {file_kind(st.st_mode)}, not a regular file; not written over")
    return Path(os.path.realpath(name)), st


def check_replaceable(path: os.PathLike | str, *, accept: Callable[[bytes], str | None], limit: int,
                      what: str, field: str | None = None) -> None:
    """Before work whose result is written to `path`: refuse (FileRefused, one line) a missing folder,
    a directory, a FIFO or device, or an existing file that `accept` does not take (it returns why not,
    or None) — what `replace_checked` would refuse after the work, said before it."""
    expanded = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(os.path.dirname(os.path.abspath(expanded))):
        raise FileRefused(path, "its folder does not exist", field=field)
    target, st = write_target(expanded)
    if st is not None:
        reason = accept(read_regular(target, limit=limit, what=what))
        if reason is not None:
            raise FileRefused(path, f"{reason}; tlsbench does not write over it", field=field)


def replace_checked(path: os.PathLike | str, new: Callable[[bytes | None], bytes], *,
                    accept: Callable[[bytes], str | None], limit: int, what: str = "file",
                    mode: int = 0o600) -> Path:
    """Write `new(existing)` to `path` atomically, but only over a file that `accept` takes as a `what`.

    `accept(existing_bytes)` returns None for a file that is what it should be, else the reason it
    is not; the file is then left exactly as it is (FileRefused). `new` gets the existing bytes (None
    for a new file) and returns what to write. A symlink is written through: the file it points to
    is replaced and the link survives. An existing file keeps its permission bits; a new one gets
    `mode`. Returns the path of the file actually written.
    """
    target, st = write_target(path)
    existing = None
    if st is not None:
        existing = read_regular(target, limit=limit, what=what)
        reason = accept(existing)
        if reason is not None:
            via = f" (the file {path} links to)" if Path(path) != target else ""
            raise FileRefused(target, f"{reason}{via}; tlsbench does not write over it: fix, move or delete "
                                      "it by hand")
        mode = stat.S_IMODE(st.st_mode) & 0o777
    return write_atomic(target, new(existing), mode=mode)


def write_atomic(target: Path, data: bytes, *, mode: int = 0o600) -> Path:
    """Replace `target` (no symlink resolution here) with `data`: temp file, fsync, rename, fsync dir."""
    directory = target.parent
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)
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

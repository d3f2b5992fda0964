"""The lab's temporary directories: made with an owner mark, removed when their server stops, and
the ones a killed lab left behind removed at the next start.

Each directory holds a `.tlsbench-owner` file with the creating process's pid and start time
(from /proc, so a reused pid is not mistaken for the owner). A directory whose owner is gone is
stale. Directories from versions that wrote no mark are stale when no process has a file or its
working directory in them and they have not changed for a while.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

OWNER_FILE = ".tlsbench-owner"
# Names the lab and its servers give their directories (ManagedProcess uses tlsbench-<program>-).
PREFIXES = ("tlsbench-lab-", "tlsbench-microsocks-", "tlsbench-pproxy-", "tlsbench-danted-", "tlsbench-nginx-",
            "tlsbench-openssl-")
UNMARKED_MIN_AGE_S = 600.0  # an unmarked directory younger than this may be being set up right now


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    now = _start_time(pid)
    if now is not None:
        return started in (None, "", now)  # the same pid started at another time is someone else
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_temp_dir(prefix: str) -> Path:
    """A new directory under the system's temporary folder, marked as this process's."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid()) or ''}\n", encoding="ascii")
    return path


def _owner(path: Path) -> tuple[int, str | None] | None:
    try:
        parts = (path / OWNER_FILE).read_text(encoding="ascii").split()
        return int(parts[0]), (parts[1] if len(parts) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None


def _paths_in_use() -> list[str]:
    """Every open file and working directory of the processes this user may look at."""
    used: list[str] = []
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return used
    for pid in pids:
        try:
            used.append(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            pass
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                used.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    return used


def stale_temp_dirs(base: str | os.PathLike | None = None) -> list[Path]:
    """The lab directories under `base` (default: the temporary folder) that nobody owns any more."""
    root = Path(base or tempfile.gettempdir())
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(PREFIXES) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    stale, unmarked = [], []
    for path in candidates:
        owner = _owner(path)
        if owner is None:
            unmarked.append(path)
        elif not _alive(*owner):
            stale.append(path)
    if unmarked:
        in_use = _paths_in_use() if os.path.isdir("/proc") else None
        now = time.time()
        for path in unmarked:
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue
            inside = str(path) + os.sep
            if in_use is not None and age >= UNMARKED_MIN_AGE_S and \
                    not any(p == str(path) or p.startswith(inside) for p in in_use):
                stale.append(path)
    return stale


def remove_stale_temp_dirs(base: str | os.PathLike | None = None) -> list[Path]:
    """Remove what `stale_temp_dirs` finds; returns what was removed."""
    removed = []
    for path in stale_temp_dirs(base):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def remove_temp_dir(path: Path) -> None:
    """Remove a directory made by `make_temp_dir` (only if it carries this process's mark)."""
    owner = _owner(path)
    if owner is not None and owner[0] == os.getpid():
        shutil.rmtree(path, ignore_errors=True)

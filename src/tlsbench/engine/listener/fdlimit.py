"""The open-file limit: each client of the listener holds one descriptor.

`raise_open_files()` lifts the soft RLIMIT_NOFILE to the hard limit (what the system allows a
process without privileges) and says what it did; `open_files()` reads the limit in force and
how many descriptors are open. Linux counts them in /proc/self/fd; elsewhere the count is None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

try:
    import resource
except ImportError:  # not on POSIX
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True)
class OpenFiles:
    soft: int | None  # the limit in force (None: unknown or unlimited)
    hard: int | None
    was: int | None = None  # the soft limit before it was raised
    error: str | None = None  # why it could not be raised

    @property
    def raised(self) -> bool:
        return self.was is not None and self.soft is not None and self.soft > self.was

    def to_dict(self) -> dict:
        return {"limit": self.soft, "hard": self.hard, "was": self.was, "raised": self.raised, "error": self.error}

    def describe(self) -> str:
        if self.soft is None:
            return "open files: no limit known"
        if self.raised:
            return (f"open files: limit raised from {self.was:,} to {self.soft:,} (the hard limit): "
                    f"room for about {max(self.soft - 16, 0):,} clients")
        note = f" (could not raise it: {self.error})" if self.error else " (already the hard limit)"
        return f"open files: limit {self.soft:,}{note}: room for about {max(self.soft - 16, 0):,} clients"


def _limit(value: int) -> int | None:
    return None if resource is None or value == resource.RLIM_INFINITY else value


def open_files() -> OpenFiles:
    if resource is None:
        return OpenFiles(None, None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return OpenFiles(_limit(soft), _limit(hard))


def raise_open_files() -> OpenFiles:
    """Soft limit -> hard limit (never lowers it). Returns what is in force afterwards."""
    if resource is None:
        return OpenFiles(None, None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard or (hard != resource.RLIM_INFINITY and soft != resource.RLIM_INFINITY and soft > hard):
        return OpenFiles(_limit(soft), _limit(hard), was=_limit(soft))
    target = hard
    error = None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        # macOS refuses RLIM_INFINITY for the soft limit; Linux caps at fs.nr_open
        error = str(exc)
    now_soft, now_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return OpenFiles(_limit(now_soft), _limit(now_hard), was=_limit(soft), error=error)


def descriptors_in_use() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None

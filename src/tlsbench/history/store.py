"""The history files: one JSON line per run, one file per profile, under `<data dir>/history/`.

Writing: each record is one line appended with a single write() on an O_APPEND descriptor, so a
line is either wholly there or not (a crash cannot leave half a record before the next one). The
file is created 0600, the directory 0700; a symbolic link, FIFO or anything but a regular file in
a history file's place is refused and left alone. When a file holds more than `keep` runs by a
quarter, it is rewritten atomically (temporary file, fsync, rename) with the newest `keep`: the
rewrite is amortised, never once per run. Appends and rewrites hold an flock on the file (waited
for at most LOCK_WAIT_S) and an append checks it still writes to the file at the path, so a run
appended while another process trims is never lost.

Reading: a line that is not a well-typed record (corrupt, cut short, too long or deep, another
tool's: history/decode.py) is skipped and counted; callers say "N unreadable lines skipped in FILE"
in one line. A trim keeps the newest `keep` records and leaves such lines out: they never count as
runs, so they never push a real run out.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from tlsbench.engine.records import jsonout
from tlsbench.errors import InputError

SUFFIX = ".jsonl"
MAX_FILE = 256 << 20  # 10,000 runs of a large TLS result still fit
LOCK_WAIT_S = 2.0
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


class HistoryError(InputError):
    """A history file or directory cannot be used; the message names it."""

    title = "history error"


class HistoryRead(NamedTuple):
    path: Path
    runs: list[dict[str, Any]]  # oldest first
    skipped: int  # lines that were not records

    def skipped_note(self) -> str | None:
        from tlsbench.visible import visible

        if not self.skipped:
            return None
        lines = "line" if self.skipped == 1 else "lines"
        return f"{self.skipped} unreadable {lines} skipped in {visible(str(self.path), keep_newlines=False)}"


class HistoryBatch(NamedTuple):
    """Some runs of a history file, newest first, as a reader streams them (`HistoryStore.newest`)."""

    path: Path
    runs: list[dict[str, Any]]  # newest first, each older than the previous batch's
    skipped: int  # lines that were not records, so far
    done: bool  # the file has been read to its first line

    def skipped_note(self) -> str | None:
        return HistoryRead(self.path, [], self.skipped).skipped_note()


class ProfileRuns(NamedTuple):
    profile: str
    run_count: int
    skipped: int
    path: Path
    last_at: str | None


def file_name(profile: str) -> str:
    """A file name for any profile name: stable, never hidden, never a path; valid names read as is."""
    out = []
    for i, char in enumerate(profile):
        if char in _SAFE and not (i == 0 and char in ".-"):
            out.append(char)
        else:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
    name = "".join(out)
    if len(name) > 180 or not name:
        import hashlib

        digest = hashlib.sha256(profile.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[:160]}~{digest}"
    return name + SUFFIX


def trim_at(keep: int) -> int:
    """The line count past which a file is rewritten to its newest `keep` runs."""
    return keep + max(1, keep // 4)


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The record on one line, or None when it is not a well-typed record of ours (history/decode.py)."""
    from tlsbench.history.decode import BadRecord, decode_line

    try:
        return decode_line(line)
    except BadRecord:
        return None


class HistoryStore:
    def __init__(self, root: Path | None = None) -> None:
        self._in_data_dir = root is None
        if root is None:
            from tlsbench.locations import data_dir

            root = data_dir(create=False) / "history"
        self.root = Path(root)
        self._counts: dict[str, tuple[int, int, int]] = {}  # path -> (inode, size, lines) after our write

    def path_for(self, profile: str) -> Path:
        return self.root / file_name(profile)

    # --- writing --------------------------------------------------------------------------------

    def append(self, record: dict[str, Any], *, keep: int) -> Path:
        """Append one record to its profile's file; trim the file when it has grown past trim_at(keep)."""
        from tlsbench.locations import ensure_private_dir

        line = _fitted_line(record)
        if self._in_data_dir:
            from tlsbench.locations import data_dir

            data_dir()  # created 0700 (and refused in one line when it cannot be)
        ensure_private_dir(self.root, "history directory")
        path = self.path_for(record["profile"])
        fd = self._open_locked(path)
        try:
            before = os.fstat(fd)
            if before.st_size and os.pread(fd, 1, before.st_size - 1) != b"\n":
                line = b"\n" + line  # a line cut short by someone else stays apart (and is skipped)
            _write_all(fd, line, path)
            lines = self._count_after(fd, path, before)
            if lines > trim_at(keep):
                lines = self._trim(fd, path, keep, record["profile"])
            after = os.stat(path)  # after a trim, the new file
            self._counts[str(path)] = (after.st_ino, after.st_size, lines)
        finally:
            os.close(fd)  # releases the lock
        return path

    def _open_locked(self, path: Path) -> int:
        flags = (os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW
                 | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fd = os.open(path, flags, 0o600)
            except OSError as exc:
                raise HistoryError(_refusal(path, exc)) from None
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                from tlsbench.safe_files import file_kind

                raise HistoryError(f"{_shown(path)}: is {file_kind(st.st_mode)}, not a regular file; left alone")
            if not _lock(fd, deadline):
                os.close(fd)
                raise HistoryError(f"{_shown(path)}: locked by another tlsbench for over {LOCK_WAIT_S:g} s; "
                                   "this run is not recorded")
            try:
                same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)  # trimmed (replaced) by another process while we waited: open the new file

    def _count_after(self, fd: int, path: Path, before: os.stat_result) -> int:
        """The lines in the file after our append: from our own last count when nothing else wrote
        since (the workbench, many runs in one process), else counted."""
        known = self._counts.get(str(path))
        if known is not None and known[0] == before.st_ino and known[1] == before.st_size:
            return known[2] + 1
        return _count_lines(fd)

    def _trim(self, fd: int, path: Path, keep: int, profile: str) -> int:
        """Rewrite the file (held locked by `fd`) with its newest `keep` runs of `profile`.

        Only well-typed records count: lines that are not runs (cut short, edited by hand, another
        profile's) go, and never push a real run out. A partial last line goes too.
        """
        from tlsbench.safe_files import write_atomic

        data = _read_fd(path)
        lines = data.split(b"\n")
        runs = []
        for line in lines[:-1]:  # lines[-1]: after the last newline (empty or cut)
            record = parse_line(line) if line.strip() else None
            if record is not None and record["profile"] == profile:
                runs.append(line)
        kept = runs[-keep:]
        write_atomic(path, b"".join(x + b"\n" for x in kept), mode=0o600)
        return len(kept)

    # --- reading --------------------------------------------------------------------------------

    def read(self, profile: str) -> HistoryRead:
        """Every readable run of a profile, oldest first (none when it has no file)."""
        return self.read_path(self.path_for(profile), profile)

    def read_path(self, path: Path, profile: str | None = None) -> HistoryRead:
        from tlsbench.safe_files import FileMissing, FileRefused, read_regular

        try:
            data = read_regular(path, limit=MAX_FILE, what="history file")
        except FileMissing:
            return HistoryRead(path, [], 0)
        except FileRefused as exc:
            raise HistoryError(str(exc)) from None
        runs: list[dict[str, Any]] = []
        skipped = 0
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            record = parse_line(raw)
            if record is None or (profile is not None and record["profile"] != profile):
                skipped += 1
            else:
                runs.append(record)
        return HistoryRead(path, runs, skipped)

    def newest(self, profile: str, first: int = 30) -> Iterator[HistoryBatch]:
        """The runs of a profile newest first, in batches: `first` runs (a screen's worth), then the
        rest. Decoding a line is the cost (a 234-run file: ~65 ms in all), so a screen that shows the
        first batch at once need not wait for the oldest run. The last batch has `done`; an unreadable
        file raises HistoryError before the first."""
        from tlsbench.safe_files import FileMissing, FileRefused, read_regular

        path = self.path_for(profile)
        try:
            data = read_regular(path, limit=MAX_FILE, what="history file")
        except FileMissing:
            yield HistoryBatch(path, [], 0, True)
            return
        except FileRefused as exc:
            raise HistoryError(str(exc)) from None
        runs: list[dict[str, Any]] = []
        skipped = 0
        for raw in reversed(data.split(b"\n")):  # splitting copies ~1 ms of a 4.5 MB file; decoding is the cost
            if not raw.strip():
                continue
            record = parse_line(raw)
            if record is None or record["profile"] != profile:
                skipped += 1
                continue
            runs.append(record)
            if len(runs) == first:
                yield HistoryBatch(path, runs, skipped, False)
                runs, first = [], -1
        yield HistoryBatch(path, runs, skipped, True)

    def profiles(self) -> tuple[list[ProfileRuns], list[str]]:
        """Every profile with a history file, by name, and one line per file that could not be read."""
        found: list[ProfileRuns] = []
        problems: list[str] = []
        try:
            entries = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            return [], [f"{_shown(self.root)}: {exc.strerror or exc}"]
        for entry in entries:
            if not entry.endswith(SUFFIX) or entry.startswith("."):
                continue
            try:
                read = self.read_path(self.root / entry)
            except HistoryError as exc:
                problems.append(str(exc))
                continue
            names = {r["profile"] for r in read.runs if file_name(r["profile"]) == entry}
            if len(names) != 1:
                if read.runs or read.skipped:
                    problems.append(f"{_shown(read.path)}: holds no runs of one profile; left alone")
                continue
            name = names.pop()
            runs = [r for r in read.runs if r["profile"] == name]
            found.append(ProfileRuns(name, len(runs), read.skipped + len(read.runs) - len(runs), read.path,
                                     runs[-1]["at"] if runs else None))
            if found[-1].skipped:
                note = HistoryRead(read.path, runs, found[-1].skipped).skipped_note()
                if note:
                    problems.append(note)
        return sorted(found, key=lambda p: p.profile), problems


PEM_NOT_KEPT = "(not kept: the run's line would be longer than a history line may be)"


def _fitted_line(record: dict[str, Any]) -> bytes:
    """The record's line, within what a reader reads back (decode.MAX_LINE): a run whose certificates
    make it longer keeps their fingerprints, not their PEM text; one still longer is not written."""
    from tlsbench.file_limits import MAX_LINE

    def encode(value: dict[str, Any]) -> bytes:
        return jsonout.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"

    line = encode(record)
    if len(line) <= MAX_LINE:
        return line
    line = encode({**record, "result": _without_pem(record.get("result"))})
    if len(line) <= MAX_LINE:
        return line
    raise HistoryError(f"this run's record is {len(line)} bytes, more than a history line may be ({MAX_LINE}); "
                       "it is not recorded")


def _without_pem(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: PEM_NOT_KEPT if k == "pem" and isinstance(v, str) else _without_pem(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_pem(v) for v in value]
    return value


def _lock(fd: int, deadline: float) -> bool:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    try:
        written = os.write(fd, data)
    except OSError as exc:
        raise HistoryError(f"{_shown(path)}: cannot be written: {exc.strerror or exc}") from None
    if written != len(data):  # a full disk mid-line: cut the partial line off again
        try:
            os.ftruncate(fd, os.fstat(fd).st_size - written)
        except OSError:
            pass
        raise HistoryError(f"{_shown(path)}: cannot be written: only {written} of {len(data)} bytes fitted")


def _count_lines(fd: int) -> int:
    """Newlines in the file, through a read-only map: memchr over the pages, no copy (a 4.5 MB file
    of 234 TLS runs: 0.2 ms, against 6 ms to read it into memory and count)."""
    import mmap

    if os.fstat(fd).st_size == 0:
        return 0
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:
        count, at = 0, view.find(b"\n")
        while at != -1:
            count += 1
            at = view.find(b"\n", at + 1)
    return count


def _read_fd(path: Path) -> bytes:
    from tlsbench.safe_files import FileRefused, read_regular

    try:
        return read_regular(path, limit=MAX_FILE, what="history file")
    except FileRefused as exc:
        raise HistoryError(str(exc)) from None


def _refusal(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{_shown(path)}: is a symbolic link; a history file must be a regular file; left alone"
    if exc.errno == errno.ENXIO:
        return f"{_shown(path)}: is not a regular file; left alone"
    return f"{_shown(path)}: cannot be written: {exc.strerror or exc}"


def _shown(path: Path) -> str:
    from tlsbench.visible import visible

    return visible(str(path), keep_newlines=False)

"""Server programs that die with the process that started them, even when it is killed.

Two guards, because each alone has a gap:

- `PR_SET_PDEATHSIG`: the kernel signals a child when its parent goes. It fires when the *thread*
  that forked the child exits, so every child is spawned from one long-lived thread here (the
  spawner), never from a short worker thread. It is cleared when a child changes its user
  (setpriv is told to keep it; postfix's master changes its effective user itself) and is not
  inherited by a server's own workers.
- A PID file: every child started is recorded (pid, start time, program) in a file named after
  this process. A small watcher process, started with the first child, sweeps the file as soon as
  this process is gone (it holds a pipe from it: the end of the pipe is the end of this process,
  however it ended); the next start sweeps what is left. A sweep ends only what `/proc/PID`
  (command line and start time) shows is still the recorded process, so a reused PID is never killed.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from tlsbench.errors import InputError
from tlsbench.lab.tempdirs import _alive, _start_time

PR_SET_PDEATHSIG = 1
_libc: Any = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)  # resolved here: the forked child must not load anything
    _prctl = _libc.prctl
except (OSError, AttributeError):  # not Linux: the PID file is the only guard
    _prctl = None


def death_signal(sig: int) -> Callable[[], None] | None:
    """A `preexec_fn` that asks the kernel to send `sig` to the child when its parent thread ends."""
    if _prctl is None:
        return None
    prctl, parent = _prctl, os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed: as if it fired
            os.kill(os.getpid(), int(sig))

    return arm


# --- the spawner thread ---------------------------------------------------------------------------

_jobs: "queue.SimpleQueue[tuple[Callable[[], Any], Future]]" = queue.SimpleQueue()
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()


def _spawn_loop() -> None:
    while True:
        make, done = _jobs.get()
        if done.set_running_or_notify_cancel():
            try:
                done.set_result(make())
            except BaseException as exc:  # handed to the caller, raised there
                done.set_exception(exc)


def spawn(make: Callable[[], Any]) -> Any:
    """Run `make` (which starts a child) on the spawner thread, which lives as long as the process:
    a death signal armed there fires only when the whole process ends."""
    global _spawner
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawn_loop, name="tlsbench-spawner", daemon=True)
            _spawner.start()
    done: Future = Future()
    _jobs.put((make, done))
    return done.result()


def popen(argv: list[str], *, pdeathsig: int = signal.SIGTERM, **kwargs) -> subprocess.Popen:
    """`subprocess.Popen` from the spawner thread, with the death signal armed in the child."""
    return spawn(lambda: subprocess.Popen(argv, preexec_fn=death_signal(pdeathsig), **kwargs))


# --- the PID file ---------------------------------------------------------------------------------

def records_dir() -> Path:
    """`<data dir>/lab/children`, private to this user (where a lab keeps its certificates too)."""
    from tlsbench.locations import data_dir, ensure_private_dir

    return ensure_private_dir(data_dir() / "lab" / "children", "the lab's PID files")


_records_lock = threading.Lock()


def _own_file(directory: Path) -> Path:
    return directory / f"{os.getpid()}-{_start_time(os.getpid()) or 0}.pids"


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a] or None


def _program(argv0: str) -> str:
    # nginx retitles itself "nginx: master process /usr/sbin/nginx ...": the first word names it
    words = argv0.split()
    return os.path.basename(words[0] if words else "").split(":")[0] or "?"


_watcher: subprocess.Popen | None = None
_watcher_lock = threading.Lock()


def _start_watcher() -> None:
    """The watcher: reads a pipe from this process until its end, then sweeps (see `watch`)."""
    global _watcher
    if _watcher is not None:
        return
    code = "import sys; sys.stdin.buffer.read(); from tlsbench.lab.children import watch; watch(%d, %r)" % (
        os.getpid(), _start_time(os.getpid()) or "")
    src = str(Path(__file__).resolve().parents[2])  # tlsbench as this process imports it
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (src, os.environ.get("PYTHONPATH")))))
    try:
        # Its own session: a Ctrl-C meant for the lab must not end the watcher first.
        _watcher = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    except OSError:
        pass  # the next start's sweep remains


def watch(owner: int, started: str, patience: float = 10.0) -> None:
    """In the watcher: wait until the owner is really gone (its pipe closes a moment before), sweep."""
    deadline = time.monotonic() + patience
    while _running(owner, started or None) and time.monotonic() < deadline:
        time.sleep(0.02)
    sweep()


def _running(pid: int, started: str | None) -> bool:
    fields = _stat_fields(pid)
    if fields is not None and fields[0] in ("Z", "X"):
        return False  # exited, not yet reaped by its parent
    return _alive(pid, started)


def record(pid: int, argv: list[str]) -> None:
    """Note a child in this process's PID file (best effort: a missing record loses only the sweep)."""
    started = _start_time(pid)
    if started is None or not argv:
        return
    with _watcher_lock:
        _start_watcher()
    if _program(argv[0]) == "setpriv" and "--" in argv[:-1]:
        argv = argv[argv.index("--") + 1:]  # setpriv execs the server: /proc will name the server
    try:
        with _records_lock, open(_own_file(records_dir()), "a", encoding="utf-8") as fh:
            fh.write(f"{pid} {started} {_program(argv[0])}\n")
    except (OSError, InputError):
        pass


def forget(pid: int) -> None:
    """Drop a stopped child's record; the file goes when it names nothing more."""
    try:
        path = _own_file(records_dir())
        with _records_lock:
            lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.split(" ", 1)[0] != str(pid)]
            if lines:
                path.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
            else:
                path.unlink()
    except (OSError, InputError):
        pass


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()  # fields from 3 (state) on; the name may hold spaces


def _matches(pid: int, started: str, program: str) -> bool:
    """The process now at `pid` is the one recorded: same start time, same program."""
    argv = _cmdline(pid)
    return _start_time(pid) == started and argv is not None and _program(argv[0]) == program


def _session_members(leader: int, started: str) -> list[int]:
    """Processes still in the session the recorded child led (a server's workers). Linux does not
    reuse a number while a session or group still carries it, so these are the child's own."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == leader:
            continue
        fields = _stat_fields(int(name))
        # fields[3] is the session id (field 6), fields[19] the start time (field 22)
        if fields and len(fields) > 19 and fields[3] == str(leader) and int(fields[19]) >= int(started):
            found.append(int(name))
    return found


def sweep(directory: Path | None = None) -> list[int]:
    """End the children recorded by processes that are gone; returns the pids signalled."""
    try:
        directory = directory or records_dir()
        files = list(directory.glob("*.pids"))
    except (OSError, InputError):
        return []
    killed: list[int] = []
    for path in files:
        owner, _, owner_started = path.stem.partition("-")
        if not owner.isdigit() or _running(int(owner), owner_started or None):
            continue  # a lab still running (another one, or this very process)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split(" ")
            if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
                continue
            pid, started, program = int(parts[0]), parts[1], parts[2]
            if _matches(pid, started, program):
                targets = [pid, *_session_members(pid, started)]
            elif _stat_fields(pid) is None:  # the leader is gone; its workers may not be
                targets = _session_members(pid, started)
            else:
                continue  # the number was free, so reused: nothing of ours is left under it
            for target in targets:
                try:
                    os.kill(target, signal.SIGKILL)
                    killed.append(target)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            path.unlink()
        except OSError:
            pass
    return killed

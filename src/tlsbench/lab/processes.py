"""Starting and stopping the real server programs the lab and the tests rely on.

`ManagedProcess` runs one program in its own process group, waits until its TCP port accepts,
and stops it (terminate, then kill) — as a context manager too. Every process started here is
remembered so `stop_all()` (also run at exit) can end what a caller forgot, and dies with this
process even when it is killed (`tlsbench.lab.children`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Self, Sequence, TypeVar

from tlsbench.lab import children
from tlsbench.lab.tempdirs import make_temp_dir, remove_temp_dir

# binary -> Debian package that provides it (named in ServerUnavailable)
DEBIAN_PACKAGES = {
    "openssl": "openssl",
    "gnutls-serv": "gnutls-bin",
    "tshark": "tshark",
    "dumpcap": "tshark",
    "nginx": "nginx-light",
    "microsocks": "microsocks",
    "danted": "dante-server",
    "curl": "curl",
    "socat": "socat",
    "squid": "squid-openssl",
    "tinyproxy": "tinyproxy",
    "postfix": "postfix",
    "exim4": "exim4-daemon-light",
    "dovecot": "dovecot-core",
    "vsftpd": "vsftpd",
    "postgres": "postgresql",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "slapd": "slapd",
    "ldapsearch": "ldap-utils",
    "prosody": "prosody",
    "nnrpd": "inn2",
    "innd": "inn2",
    "inspircd": "inspircd",
    "haproxy": "haproxy",
    "tshark": "tshark",
    "setpriv": "util-linux",
    "unbound": "unbound",
}
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class LabError(RuntimeError):
    """Base of the lab's errors; the message is one line a person can act on."""


class ServerUnavailable(LabError):
    """A program the lab needs is not installed."""

    def __init__(self, binary: str, package: str | None = None) -> None:
        self.binary = binary
        self.package: str | None = package or DEBIAN_PACKAGES.get(binary, binary)
        super().__init__(f"{binary} is not installed (Debian package: {self.package}; "
                         f"apt-get install {self.package})")


class ServerStartError(LabError):
    """A program started but never accepted on its port, or died first."""


def find_binary(name: str) -> str | None:
    """Full path of `name`, searching PATH and the sbin directories (not on a user's PATH)."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN_DIRS))


def require_binary(name: str, package: str | None = None) -> str:
    """find_binary, or ServerUnavailable naming the Debian package."""
    found = find_binary(name)
    if found is None:
        raise ServerUnavailable(name, package)
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just said is free on `host` (free now; a caller may still lose a race)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # As the servers themselves do: connections in TIME_WAIT do not make a port busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


_LIVE: set["ManagedProcess"] = set()
_LIVE_LOCK = threading.Lock()


class ManagedProcess:
    """One server program bound to host:port. Output goes to log files, never to a pipe that
    could fill up and stall the server."""

    # What stop() sends first; a subclass whose program only wastes time shutting down may
    # send SIGKILL (squid spends 2 s in its shutdown steps with nothing to save).
    stop_signal: int = signal.SIGTERM

    def __init__(self, argv: Sequence[str], *, host: str, port: int, name: str | None = None,
                 cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                 ready_timeout: float = 10.0, log_dir: str | os.PathLike | None = None,
                 ready_check: Callable[[], bool] | None = None, own_log_dir: bool = False) -> None:
        """Without `log_dir` the process gets a temporary directory of its own, removed when it
        stops (`own_log_dir=True` does the same for a directory the caller made with make_temp_dir)."""
        self.argv = [str(a) for a in argv]
        self.host, self.port = host, port
        self.name = name or Path(self.argv[0]).name
        self.cwd, self.env = cwd, env
        self.ready_timeout = ready_timeout
        self._ready_check = ready_check
        self._own_log_dir = own_log_dir or log_dir is None
        self.log_dir = Path(log_dir) if log_dir else make_temp_dir(f"tlsbench-{self.name}-")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.log_dir / f"{self.name}.stdout"
        self.stderr_path = self.log_dir / f"{self.name}.stderr"
        self.proc: subprocess.Popen | None = None

    # --- life cycle ---
    def start(self) -> Self:
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # Own session: stopping the group also ends workers the program forked (nginx, danted).
            self.proc = children.popen(self.argv, pdeathsig=self.stop_signal, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err, cwd=self.cwd, env=self.env,
                                       start_new_session=True)
        children.record(self.proc.pid, self.argv)
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        check = self._ready_check or (lambda: port_accepts(self.host, self.port))
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerStartError(f"{self.name} exited with code {self.proc.returncode} before "
                                       f"accepting on {self.address}: {self.stderr_tail()}")
            if check():
                return
            if time.monotonic() >= deadline:
                raise ServerStartError(f"{self.name} did not accept on {self.address} within "
                                       f"{self.ready_timeout:g}s: {self.stderr_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            # The leader first: nginx and danted then end and reap their own workers.
            try:
                proc.send_signal(self.stop_signal)
            except ProcessLookupError:
                pass
            if not _exited_unreaped(proc.pid, timeout):
                self._signal(signal.SIGKILL)
                _exited_unreaped(proc.pid, timeout)
            # Workers left in the group after the leader exited (nginx/danted children): signalled
            # while the leader is a zombie not yet reaped, so that its number — the group's id — cannot
            # have been given to another process (with pid_max at 32768 a busy machine reuses numbers
            # within seconds, and a new session leader would have the group id a late killpg aims at).
            self._signal(signal.SIGKILL)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            children.forget(proc.pid)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self._own_log_dir:
            remove_temp_dir(self.log_dir)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # the group id is the pid: start_new_session=True
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "ManagedProcess":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- looking at it ---
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def stdout_text(self) -> str:
        try:
            return self.stdout_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, lines: int = 5) -> str:
        text = (self.stderr_text().strip() or self.stdout_text().strip())
        tail = " | ".join(text.splitlines()[-lines:])
        return tail or "(no output)"

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} {self.address} pid={self.pid}>"


_Process = TypeVar("_Process", bound=ManagedProcess)  # what start_on_free_port's `make` builds


def start_on_free_port(make: Callable[[int], _Process], host: str = "127.0.0.1",
                       preferred: int | None = None, attempts: int = 4) -> _Process:
    """Start `make(port)` on `preferred` when free, else on a free port; retry when the port was
    taken between choosing it and the program binding it."""
    last: Exception | None = None
    for i in range(attempts):
        port = preferred if (i == 0 and preferred and port_is_free(host, preferred)) else free_port(host)
        proc = make(port)
        try:
            return proc.start()
        except ServerStartError as exc:
            last = exc
            if "in use" not in str(exc).lower():
                raise
    raise ServerStartError(f"no free port found after {attempts} attempts: {last}")


def live_processes() -> list[ManagedProcess]:
    with _LIVE_LOCK:
        return list(_LIVE)


def _exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` for the child `pid` to exit, without reaping it (it stays a zombie, its
    number still taken); True once it has. A child that is already gone counts as exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                state = fh.read().rpartition(b")")[2].split()[0]
        except (OSError, IndexError):
            return True
        if state in (b"Z", b"X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def stop_all() -> None:
    """Stop every process started here and not yet stopped."""
    for proc in live_processes():
        proc.stop()


atexit.register(stop_all)

"""`tlsbench lab --no-ui` and `tlsbench serve` started the way a script starts them (`&` from a
non-interactive shell, which leaves SIGINT ignored): every stop signal ends them cleanly, and the
lab's servers never outlive the lab, not even when it is killed."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import need_binary
from tlsbench.lab import children

pytestmark = pytest.mark.servers


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _alive(pid: int, started: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and fields[19] == started


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` (by parent), with its start time."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        fields = _stat(int(name)) if name.isdigit() else None
        if fields:
            parents[int(name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                fields = _stat(child)
                if fields:
                    found[child] = fields[19]
                    frontier.append(child)
    return found


class Background:
    """`bash -c 'CMD >out 2>err & echo $!; wait $!; echo $? >rc'`: CMD inherits SIGINT ignored, as
    from any script; bash stays to record its exit status."""

    def __init__(self, tmp: Path, argv: list[str], env: dict[str, str]) -> None:
        self.out, self.err, self.rc = tmp / "out", tmp / "err", tmp / "rc"
        command = (f"{shlex.join(argv)} >{shlex.quote(str(self.out))} 2>{shlex.quote(str(self.err))} & "
                   f"echo $!; wait $!; echo $? >{shlex.quote(str(self.rc))}")
        self.shell = subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, text=True, env=env)
        assert self.shell.stdout is not None
        self.pid = int(self.shell.stdout.readline())

    def wait_for(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.out.read_text() if self.out.exists() else ""
            if text in out:
                return out
            if self.shell.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"never printed {text!r}; stderr: {self.err.read_text() if self.err.exists() else ''}")

    def exit_code(self, timeout: float = 30) -> int:
        try:
            self.shell.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.shell.wait()
            pytest.fail("did not stop on the signal")
        return int(self.rc.read_text())

    def close(self) -> None:
        if self.shell.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.shell.wait()


def _env(tmp: Path) -> dict[str, str]:
    return dict(os.environ, TLSBENCH_CONFIG_DIR=str(tmp / "config"), TLSBENCH_DATA_DIR=str(tmp / "data"),
                NO_COLOR="1")


def _gone(pids: dict[int, str], timeout: float = 20) -> dict[int, str]:
    """The processes of `pids` still alive once `timeout` has passed (or none, as soon as none is)."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: started for pid, started in pids.items() if _alive(pid, started)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _lab(tmp_path: Path) -> Background:
    need_binary("openssl")
    return Background(tmp_path, [sys.executable, "-m", "tlsbench", "lab", "--no-ui"], _env(tmp_path))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_lab_started_from_a_script_stops_cleanly_on(tmp_path, sig):
    lab = _lab(tmp_path)
    try:
        lab.wait_for("serving")
        servers = descendants(lab.pid)
        assert servers  # s_server, microsocks, nginx, ...
        os.kill(lab.pid, sig)
        assert lab.exit_code() == 0
        err = lab.err.read_text()
        assert "Traceback" not in err and err.strip() == "lab stopped", err
        assert _gone(servers) == {}
    finally:
        lab.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_serve_started_from_a_script_stops_cleanly_on(tmp_path, sig):
    serve = Background(tmp_path, [sys.executable, "-m", "tlsbench", "serve", "--port", "0"], _env(tmp_path))
    try:
        serve.wait_for("listening on")
        os.kill(serve.pid, sig)
        assert serve.exit_code() == 0
        assert "Traceback" not in serve.err.read_text()
        assert "stopped;" in serve.out.read_text()
        assert descendants(serve.pid) == {}
    finally:
        serve.close()


def test_a_killed_lab_takes_its_servers_along(tmp_path):
    lab = _lab(tmp_path)
    try:
        lab.wait_for("serving")
        servers = descendants(lab.pid)
        assert servers
        os.kill(lab.pid, signal.SIGKILL)
        assert lab.exit_code() == 128 + signal.SIGKILL
        # The kernel's death signal, and for a server that changed its user (postfix) the watcher.
        assert _gone(servers) == {}
    finally:
        lab.close()


def _record_file(directory: Path, entries: list[tuple[int, str, str]]) -> Path:
    """A PID file as a lab that is gone (a pid no process has: 2**22 + 1 is above pid_max) left it."""
    path = directory / f"{2 ** 22 + 1}-12345.pids"
    path.write_text("".join(f"{pid} {started} {program}\n" for pid, started, program in entries))
    return path


def test_the_sweep_ends_a_recorded_server_but_never_a_reused_pid(tmp_path):
    directory = tmp_path / "records"
    directory.mkdir()
    ours = subprocess.Popen(["sleep", "300"], start_new_session=True)
    stranger = subprocess.Popen(["sleep", "301"], start_new_session=True)
    try:
        ours_started, stranger_started = _stat(ours.pid)[19], _stat(stranger.pid)[19]
        path = _record_file(directory, [
            (ours.pid, ours_started, "sleep"),
            # the stranger's pid, recorded for another program (the number was reused) ...
            (stranger.pid, stranger_started, "openssl"),
            # ... and for the same program that started at another time
            (stranger.pid, str(int(stranger_started) - 1), "sleep"),
        ])
        assert children.sweep(directory) == [ours.pid]
        assert ours.wait(10) == -signal.SIGKILL
        assert stranger.poll() is None
        assert not path.exists()
    finally:
        for proc in (ours, stranger):
            proc.kill()
            proc.wait()


def test_the_sweep_leaves_the_records_of_a_running_lab_alone(tmp_path):
    directory = tmp_path / "records"
    directory.mkdir()
    ours = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        mine = directory / f"{os.getpid()}-{_stat(os.getpid())[19]}.pids"
        mine.write_text(f"{ours.pid} {_stat(ours.pid)[19]} sleep\n")
        assert children.sweep(directory) == []
        assert ours.poll() is None and mine.exists()
    finally:
        ours.kill()
        ours.wait()


def test_the_next_lab_start_sweeps_what_a_lab_that_escaped_the_death_signal_left(tmp_path):
    # A server that changed its user loses the death signal; its record is what remains. Here: a
    # `sleep` recorded as the lab's, and an unrelated `sleep` the file also names, whose command
    # line does not match its record.
    from tlsbench.lab.lab import Lab

    need_binary("openssl")
    directory = children.records_dir()
    left = subprocess.Popen(["sleep", "300"], start_new_session=True)
    unrelated = subprocess.Popen(["sleep", "302"], start_new_session=True)
    path = _record_file(directory, [(left.pid, _stat(left.pid)[19], "sleep"),
                                    (unrelated.pid, _stat(unrelated.pid)[19], "s_server")])
    try:
        with Lab(data_dir=tmp_path, preferred_ports={}).start():
            assert left.wait(10) == -signal.SIGKILL
            assert unrelated.poll() is None
            assert not path.exists()
    finally:
        for proc in (left, unrelated):
            proc.kill()
            proc.wait()
        path.unlink(missing_ok=True)


def test_a_killed_workbench_takes_its_lab_along(tmp_path):
    # `tlsbench lab` with the workbench: the lab runs in a child (`lab --no-ui`). Here the workbench is
    # a stand-in that says the lab child's pid and waits; killing it must end the lab and its servers.
    need_binary("openssl")
    code = ("import os, sys, time; import tlsbench.commands.workbench as wb; from tlsbench.commands import lab; "
            "wb.run_workbench = lambda **kw: (print(os.getpid(), flush=True), time.sleep(120)); "
            "sys.exit(lab.main([]))")
    workbench = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_env(tmp_path))
    try:
        assert int(workbench.stdout.readline()) == workbench.pid  # the lab serves: the workbench opened
        labs = descendants(workbench.pid)
        assert labs  # the lab process, its servers, its watcher
        workbench.kill()
        workbench.wait(10)
        assert _gone(labs, timeout=30) == {}
    finally:
        workbench.kill()
        workbench.wait()
        workbench.stdout.close()

"""`--watch … --json-lines` and `--count … --json-lines` stopped by Ctrl-C (SIGINT, once or more, at any
moment) while stdout is a pipe: every line is one whole JSON object, and the summary is the last line.

A run's line is ~11 KB. With a reader slower than the runs (the pipe full), tlsbench waits in the middle
of writing a line; a signal then cut that write short and the rest of the line was lost (the summary
continued 4096 bytes into a run's object)."""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import struct
import termios
import time

import pytest

pytestmark = pytest.mark.servers

TRIES = 10  # per mode: each a new process, stopped at a random moment
PIPE_FULL = 65536 - 12000  # a pipe holds 64 KiB: with this much unread, the next line cannot go out whole


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def _stopped_series(args: list[str], rng: random.Random) -> tuple[bytes, int, str]:
    """Run the series with stdout a pipe nobody reads until the pipe is full (the writer then waits in
    the middle of a line), send Ctrl-C once or more, then read everything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")}
    proc = subprocess.Popen([sys.executable, "-m", "tlsbench", "probe", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        deadline = time.monotonic() + 60
        while _unread(proc.stdout.fileno()) < PIPE_FULL and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(rng.choice((1, 1, 2, 3))):  # one Ctrl-C, or several
            time.sleep(rng.uniform(0.0, 0.05))
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, proc.returncode, err.decode(errors="replace")


@pytest.mark.parametrize("mode", [["--watch", "0.02"], ["--count", "100000", "--concurrency", "2"]],
                         ids=["watch", "count"])
def test_every_line_is_whole_json_after_ctrl_c(tls_server, lab_certs, mode):
    server = tls_server("good")
    args = [f"localhost:{server.port}", "--pin", "127.0.0.1", "--cafile", str(lab_certs.ca_cert), "--json-lines",
            *mode]
    rng = random.Random(16)
    for attempt in range(TRIES):
        out, code, proc_err = _stopped_series(args, rng)
        # 130; or killed by a Ctrl-C that came after the summary, while Python was exiting (its handlers are
        # the default ones by then): the checks below then still see every line, summary included.
        assert code in (130, -signal.SIGINT), (attempt, code, proc_err)
        lines = out.decode("ascii").split("\n")
        assert lines[-1] == "", (attempt, "the output does not end with a newline")
        objects = []
        for number, line in enumerate(lines[:-1]):
            try:
                objects.append(json.loads(line))
            except ValueError:
                pytest.fail(f"try {attempt}: line {number} is not one JSON object: {line[:80]}…{line[-160:]}")
        assert objects[-1]["schema"] == "tlsbench.repeat/1" and objects[-1]["interrupted"] is True
        runs = objects[:-1]
        assert runs and all(o["schema"] == 3 and "run" in o for o in runs)
        assert max(len(line) for line in lines) > 4096  # the lines are long enough to be cut

"""Run a command with its stderr on a pseudo-terminal (where tlsbench draws its live status line)."""

from __future__ import annotations

import os
import pty
import subprocess
from typing import Any


def run_with_tty_stderr(argv: list[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess, bytes]:
    """subprocess.run(argv) with stdout piped and stderr a terminal; returns the process and what
    reached the terminal."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL, **kwargs)
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other end is closed and everything was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return proc, seen

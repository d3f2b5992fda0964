"""Launch-to-first-frame: the workbench vs a minimal Textual app, measured the same way in one run.

    .venv/bin/python bench/startup.py [-n 7]

Each sample starts a fresh Python process on a pseudo-terminal (160x48). The parent notes
time.monotonic() just before spawning; the app writes time.monotonic() when Textual reports its
first frame (the App `Ready` event) and exits. CLOCK_MONOTONIC is shared by every process on
Linux, so the difference is the launch-to-first-frame time. Samples alternate between the two
apps; the script prints the medians and their ratio (target: workbench within 1.3x).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = "TLSBENCH_FIRST_FRAME_FILE"

MINIMAL = f"""
import os, time
from textual.app import App
from textual.widgets import Footer, Header, Static

class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

    def on_ready(self):
        with open(os.environ[{ENV!r}], "w") as fh:
            fh.write(repr(time.monotonic()))
        self.exit()

Minimal().run()
"""

WORKBENCH = """
import sys
from tlsbench.cli import main
sys.exit(main([]))
"""


def _drain(fd: int) -> None:
    # Read everything the app draws so it never blocks on a full pty buffer.
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def sample(code: str, config_dir: str) -> float:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    reader = threading.Thread(target=_drain, args=(master,), daemon=True)
    reader.start()
    with tempfile.NamedTemporaryFile("r", suffix=".t", delete=False) as stamp:
        path = stamp.name
    env = dict(os.environ, **{ENV: path, "TLSBENCH_CONFIG_DIR": config_dir, "TERM": "xterm-256color"})
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True, start_new_session=True)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(slave)
        reader.join(timeout=2)
        os.close(master)
    text = Path(path).read_text()
    os.unlink(path)
    if not text:
        raise RuntimeError("the app did not report a first frame")
    return float(text) - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="launch-to-first-frame benchmark")
    parser.add_argument("-n", type=int, default=7, help="samples per app (default 7)")
    args = parser.parse_args(argv)
    config = tempfile.mkdtemp(prefix="tlsbench-bench-")
    sample(MINIMAL, config), sample(WORKBENCH, config)  # warm the file cache for both
    minimal, workbench = [], []
    for _ in range(args.n):
        minimal.append(sample(MINIMAL, config))
        workbench.append(sample(WORKBENCH, config))
    m, w = statistics.median(minimal), statistics.median(workbench)
    print(f"minimal Textual app : median {m * 1000:7.1f} ms  (samples: {', '.join(f'{x*1000:.0f}' for x in minimal)})")
    print(f"tlsbench workbench  : median {w * 1000:7.1f} ms  (samples: {', '.join(f'{x*1000:.0f}' for x in workbench)})")
    ratio = w / m
    print(f"ratio workbench/minimal: {ratio:.2f}x (target <= 1.30x) {'OK' if ratio <= 1.3 else 'OVER'}")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main(sys.argv[1:]))

"""F4 History on a long history file, as a person sees it in a terminal.

    .venv/bin/python bench/history.py [-n 7] [--runs 234] [--size 80x24]

Starts one local `openssl s_server` (lab certificates), runs `tlsbench probe --profile` against it
once and writes that real record `--runs` times into the profile's history file (a file of that
many TLS runs, as a person's would be). Then, per sample, launches the workbench on a
pseudo-terminal (pyte emulates the screen, as bench/startup.py does), presses Enter (a run, so
that there is a current run to compare), then F4, and stamps the screen changes:

* first rows: F4 to the first screen showing the history list with a run from the file (`#2`);
* every row: F4 to the screen whose title counts every run, with nothing left to read.

The file is read in a thread (tui/screens/history.py): the first rows wait only for the newest
30 runs to be decoded. Prints medians and bests.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tlsbench.lab.certs import make_lab_certs  # noqa: E402
from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server  # noqa: E402

TIMEOUT_S = 30.0
WORKBENCH = "import sys\nfrom tlsbench.cli import main\nsys.exit(main([]))\n"
F4 = b"\x1bOS"  # xterm's F4


def _fill_history(env: dict[str, str], runs: int) -> Path:
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", "--profile", "bench-history"],
                          env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"bench: the probe failed: {done.stdout[-300:]} {done.stderr[-300:]}")
    path = Path(env["TLSBENCH_DATA_DIR"]) / "history" / "bench-history.jsonl"
    record = json.loads(path.read_bytes().splitlines()[-1])
    lines = [json.dumps(dict(record, at=f"2026-01-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00.000Z"))
             for i in range(runs)]
    path.write_text("\n".join(lines) + "\n")
    return path


class Terminal:
    """A workbench process on a pty and the screen it draws (pyte)."""

    def __init__(self, env: dict[str, str], size: tuple[int, int]) -> None:
        import pyte

        cols, rows = size
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen([sys.executable, "-c", WORKBENCH], stdin=slave, stdout=slave, stderr=slave,
                                     env=dict(env, TERM="xterm-256color"), close_fds=True, start_new_session=True)
        os.close(slave)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, shown, since: float) -> float:
        """Seconds from `since` to the arrival of the output that made `shown(text)` true."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if not select.select([self.master], [], [], 0.5)[0]:
                continue
            chunk = os.read(self.master, 65536)
            stamp = time.monotonic()
            self.stream.feed(chunk)
            if shown(self.text()):
                return stamp - since
        raise RuntimeError("never shown; last screen:\n" + self.text())

    def press(self, keys: bytes) -> float:
        stamp = time.monotonic()
        os.write(self.master, keys)
        return stamp

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        os.close(self.master)


def sample(env: dict[str, str], size: tuple[int, int], runs: int) -> tuple[float, float]:
    term = Terminal(env, size)
    try:
        term.wait_for(lambda t: "bench-history" in t and "palette" in t, time.monotonic())
        term.press(b"\r")
        term.wait_for(lambda t: "tls handshake" in t and " ok" in t.lower(), time.monotonic())
        time.sleep(0.3)  # the run's own history write
        pressed = term.press(F4)
        first = term.wait_for(lambda t: "History of bench-history" in t and "#2 " in t, pressed)
        def every_row(t: str) -> bool:
            return "History of bench-history (" in t and "reading the history file" not in t
        every = first if every_row(term.text()) else term.wait_for(every_row, pressed)
        return first, every
    finally:
        term.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="F4 History on a long history file")
    parser.add_argument("-n", type=int, default=7, help="samples (default 7)")
    parser.add_argument("--runs", type=int, default=234, help="runs in the history file (default 234)")
    parser.add_argument("--size", default="80x24", help="COLSxROWS (default 80x24)")
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.runs = 1, 40
    size = tuple(int(x) for x in args.size.lower().split("x"))
    tmp = tempfile.mkdtemp(prefix="tlsbench-bench-")
    try:
        certs = make_lab_certs(Path(tmp) / "certs")
        with openssl_server(TlsServerOptions(cert=certs.good)) as server:
            from tlsbench.engine.spec import build_spec
            from tlsbench.profiles.model import Profile
            from tlsbench.profiles.store import ProfileStore

            env = dict(os.environ, TLSBENCH_CONFIG_DIR=f"{tmp}/config", TLSBENCH_DATA_DIR=f"{tmp}/data",
                       COLUMNS=str(size[0]), LINES=str(size[1]))
            env.pop("TEXTUAL", None)
            store = ProfileStore(Path(env["TLSBENCH_CONFIG_DIR"]))
            store.save(Profile("bench-history", build_spec(f"localhost:{server.port}", cafile=str(certs.ca_cert))))
            store.set_last_used("bench-history")
            path = _fill_history(env, args.runs)
            print(f"history file: {args.runs} runs, {path.stat().st_size / 1e6:.1f} MB; {args.size}")
            samples = [sample(env, size, args.runs) for _ in range(args.n)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, values in (("F4 to the first rows", [s[0] for s in samples]),
                         ("F4 to every row", [s[1] for s in samples])):
        print(f"  {name:<22}: median {statistics.median(values) * 1000:6.1f} ms, best {min(values) * 1000:6.1f} ms"
              f"  (samples: {', '.join(f'{v * 1000:.0f}' for v in values)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

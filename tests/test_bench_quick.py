"""Every benchmark in bench/ still runs: each is started with `--quick` (a few samples against the
servers it starts itself) and must finish with exit 0 and print its figures. The figures are not
checked: timings are reported by the benchmarks, never asserted in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each benchmark, and a line its report always has.
BENCHES = {
    "probe.py": "whole process vs minimal client parsing the leaf",
    "fidelity.py": "| tls |",
    "startup.py": "ratio of the medians",
    "history.py": "F4 to the first rows",
    "batch.py": "handshakes per second",
    "batch_profile.py": "of which OpenSSL's handshake",
    "engine_process.py": "to RunFinished",
    "listener.py": "handshakes/s",
    "listener_redraw.py": "listener in a child process",
}


def test_every_benchmark_is_listed() -> None:
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")}
    assert scripts == set(BENCHES)


@pytest.mark.parametrize("script", sorted(BENCHES))
def test_the_benchmark_runs(script: str, tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), TLSBENCH_CONFIG_DIR=str(tmp_path / "config"),
               TLSBENCH_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert BENCHES[script] in done.stdout, done.stdout[-2000:]

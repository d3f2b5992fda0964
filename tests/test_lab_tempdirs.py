"""The lab leaves no temporary directories behind: removed when it stops, and the ones a killed lab
left removed at the next start (real microsocks and a real Lab, in a private temporary folder)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import need
from tlsbench.lab import tempdirs
from tlsbench.lab.tempdirs import OWNER_FILE, make_temp_dir, remove_stale_temp_dirs, stale_temp_dirs


@pytest.fixture
def private_tmp(monkeypatch):
    """tempfile's folder for this test only (tempfile.tempdir is what mkdtemp and gettempdir read).

    Made in the system's temporary folder and searchable by all: the lab's servers run as their own
    users (postfix, dovecot), which cannot enter pytest's private tmp_path."""
    base = Path(tempfile.mkdtemp(prefix="tempdirs-test-"))
    base.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def left_by_a_killed_process(base) -> list[str]:
    """Directories made by a process that was then killed with SIGKILL (no clean-up ran)."""
    code = ("import sys, time; from tlsbench.lab.tempdirs import make_temp_dir; "
            "[print(make_temp_dir(p), flush=True) for p in ('tlsbench-lab-', 'tlsbench-microsocks-')]; "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, TMPDIR=str(base)))
    paths = [proc.stdout.readline().strip() for _ in range(2)]
    proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()
    return paths


def test_a_server_removes_its_directory_when_it_stops(private_tmp):
    from tlsbench.lab.socks_servers import microsocks

    proxy = need(microsocks)
    assert proxy.log_dir.parent == private_tmp and (proxy.log_dir / OWNER_FILE).exists()
    proxy.stop()
    assert not proxy.log_dir.exists()
    assert list(private_tmp.iterdir()) == []


def test_stale_directories_are_told_from_live_ones(private_tmp):
    dead = left_by_a_killed_process(private_tmp)
    mine = make_temp_dir("tlsbench-lab-")  # this live process owns it
    old = private_tmp / "tlsbench-pproxy-old"  # from a version that wrote no mark, unused for long
    old.mkdir()
    held = private_tmp / "tlsbench-microsocks-held"  # unmarked but a live process has a file open in it
    held.mkdir()
    young = private_tmp / "tlsbench-microsocks-young"  # unmarked and new: maybe being set up right now
    young.mkdir()
    unrelated = private_tmp / "somebody-else-old"
    unrelated.mkdir()
    long_ago = time.time() - 2 * tempdirs.UNMARKED_MIN_AGE_S
    for path in (old, held, unrelated):
        os.utime(path, (long_ago, long_ago))
    with open(held / "server.log", "w") as log:
        os.utime(held, (long_ago, long_ago))
        stale = {str(p) for p in stale_temp_dirs()}
        assert stale == {*dead, str(old)}
        removed = remove_stale_temp_dirs()
    assert {str(p) for p in removed} == stale
    assert all(p.exists() for p in (mine, held, young, unrelated))
    assert not any(os.path.exists(p) for p in dead)


def test_the_lab_cleans_up_at_start_and_at_stop(private_tmp, tmp_path):
    from tlsbench.lab.lab import Lab

    dead = left_by_a_killed_process(private_tmp)
    lab = need(Lab(data_dir=tmp_path / "data", preferred_ports={}).start)
    try:
        assert not any(os.path.exists(p) for p in dead)  # what the killed one left is gone
        assert any(p.name.startswith("tlsbench-lab-") for p in private_tmp.iterdir())
    finally:
        lab.stop()
    assert list(private_tmp.iterdir()) == []

"""A config or data directory that cannot be used is one line and exit 2, for every command."""

import os
import subprocess
import sys

import pytest

CASES = [
    ("TLSBENCH_CONFIG_DIR", ["--profile", "x"]),
    ("TLSBENCH_CONFIG_DIR", ["probe", "--profile", "x"]),
    ("TLSBENCH_CONFIG_DIR", ["profiles", "list"]),
    ("TLSBENCH_DATA_DIR", ["serve", "--tls"]),
    ("TLSBENCH_DATA_DIR", ["cert"]),
    ("TLSBENCH_DATA_DIR", ["lab", "--no-ui"]),
    ("TLSBENCH_DATA_DIR", ["lab"]),
]


@pytest.mark.parametrize("variable, argv", CASES)
def test_a_file_in_the_way_of_a_directory(tmp_path, variable, argv):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be\n")
    env = dict(os.environ, **{variable: str(blocker)})
    done = subprocess.run([sys.executable, "-m", "tlsbench", *argv], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert str(blocker) in lines[0]
    assert blocker.read_text() == "a file where a directory should be\n"

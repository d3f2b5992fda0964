"""`tlsbench [HOST:PORT] ...` input checks happen before Textual starts: one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tlsbench.commands.workbench import main


@pytest.mark.parametrize("argv, words", [
    (["127.0.0.1:70000"], "out of range"),
    (["example.com"], "has no port"),
    (["example.com:443", "--tls-min", "9"], "tls-min"),
    (["--run"], "--run needs"),
    (["--profile", "no-such-profile"], "no-such-profile"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TLSBENCH_CONFIG_DIR", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_cli_dispatch_exits_2_without_importing_textual(tmp_path):
    code = ("import sys; from tlsbench.cli import main; rc = main(['[::1]:99999']); "
            "print('textual' in sys.modules); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"TLSBENCH_CONFIG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert proc.stdout.strip() == "False"
    assert proc.stderr.startswith("tlsbench: error:") and proc.stderr.count("\n") == 1

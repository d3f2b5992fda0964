"""scripts/setup without --test (what ./scripts/lab runs): the packages the lab's profiles need, the
mail servers of the STARTTLS profiles included, asked of apt the way ./scripts/test asks — never a
removal, and the MTA chosen by mta_packages. apt and dpkg are stand-ins that only record what they
are asked (a real install is not something a test may do to the machine)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STANDINS = {
    # dpkg-query: nothing installed, no MTA
    "dpkg-query": "exit 1",
    "apt-get": 'echo "apt-get $*" >> "$LOG"',
    "debconf-set-selections": 'cat >> "$LOG"',
    "service": 'echo "service $*" >> "$LOG"',
    "update-rc.d": "true",
    "systemctl": 'echo "systemctl $*" >> "$LOG"',
    "sudo": '"$@"',
}


def run_setup(tmp_path: Path, mta_line: str = "") -> list[str]:
    """scripts/setup copied into a checkout of its own whose .venv is a stand-in too (nothing to install)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "setup", repo / "scripts" / "setup")
    (repo / "pyproject.toml").write_text("")
    venv_bin = repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text("#!/bin/sh\nexit 0\n")
    (venv_bin / "python").chmod(0o755)
    stamp = repo / ".venv" / ".tlsbench-installed"
    stamp.write_text("extras=\n")
    os.utime(stamp, (os.path.getmtime(repo / "pyproject.toml") + 10,) * 2)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    standins = dict(STANDINS)
    if os.geteuid() != 0:
        standins["id"] = "echo 0"
    if mta_line:  # dpkg-query answers the MTA question with this line, and nothing else
        standins["dpkg-query"] = "case \"$*\" in *Provides*) printf '%s\\n' \"$MTA_LINE\" ;; *) exit 1 ;; esac"
    for name, body in standins.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    log = tmp_path / "apt.log"
    log.touch()
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", LOG=str(log), MTA_LINE=mta_line,
               TMPDIR=str(tmp_path))
    result = subprocess.run([str(repo / "scripts" / "setup")], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines()


def _install(lines: list[str]) -> list[str]:
    installs = [line.split() for line in lines if line.startswith("apt-get install")]
    assert len(installs) == 1, lines
    return installs[0]


def test_the_lab_asks_for_dovecot_and_an_mta_and_never_a_removal(tmp_path):
    words = _install(run_setup(tmp_path))
    assert "--no-remove" in words
    assert {"openssl", "microsocks", "nginx-light", "dovecot-imapd", "postfix"} <= set(words)


def test_the_lab_uses_the_machine_s_own_mta(tmp_path):
    words = _install(run_setup(tmp_path, "install ok installed\texim4-daemon-light\tmail-transport-agent"))
    assert "dovecot-imapd" in words and "postfix" not in words and "--no-remove" in words

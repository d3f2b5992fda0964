"""scripts/setup's choices that protect the machine: which MTA it asks for (never one that would
replace the installed MTA) and how a failed install is explained. The functions are taken from the
script itself and fed the output of dpkg-query and apt-get as a machine would give it."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parent.parent / "scripts" / "setup"


def function(name: str) -> str:
    """The text of one shell function of scripts/setup."""
    lines = SETUP.read_text().splitlines()
    start = lines.index(f"{name}() {{")
    end = lines.index("}", start)
    return "\n".join(lines[start:end + 1])


def run_function(name: str, tmp_path: Path, dpkg_rows: str = "", apt_log: str = "") -> subprocess.CompletedProcess:
    fake = tmp_path / "bin"
    fake.mkdir()
    query = fake / "dpkg-query"
    # What `dpkg-query -W -f='${Status}\t${Package}\t${Provides}\n'` prints, one package a row.
    query.write_text("#!/bin/sh\nprintf '%s' \"$DPKG_ROWS\"\n")
    query.chmod(0o755)
    log = tmp_path / "apt.log"
    log.write_text(apt_log)
    script = f"set -u\nAPT_LOG={log}\n{function(name)}\n{name}\n"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "DPKG_ROWS": dpkg_rows}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=10)


OK = "install ok installed"


@pytest.mark.parametrize("rows, wanted, note", [
    ("", "postfix", ""),  # no MTA: one is installed
    (f"{OK}\tpostfix\tmail-transport-agent, default-mta\n", "", ""),
    (f"{OK}\texim4-daemon-light\tmail-transport-agent\n{OK}\texim4-base\t\n", "", ""),
    (f"{OK}\topensmtpd\tmail-transport-agent\n", "", "this machine's MTA is opensmtpd"),
    # a removed package's leftover configuration does not count as an installed MTA
    ("deinstall ok config-files\tpostfix\tmail-transport-agent\n", "postfix", ""),
])
def test_an_mta_is_asked_for_only_where_none_is(tmp_path, rows, wanted, note):
    done = run_function("mta_packages", tmp_path, dpkg_rows=rows)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ([wanted] if wanted else [])
    assert (note in done.stderr) if note else done.stderr == ""


def test_packages_are_never_removed_to_install_others():
    install = function("apt_install")
    calls = [line for line in install.splitlines() if "apt-get install" in line]
    assert calls and all("--no-remove" in line for line in calls)


def test_a_failed_maintainer_script_is_named(tmp_path):
    log = textwrap.dedent("""\
        Setting up inn2 (2.7.1-1+deb12u1) ...
        innconfval: hostname does not resolve or domain not set in inn.conf
        dpkg: error processing package inn2 (--configure):
         installed inn2 package post-installation script subprocess returned error exit status 1
        Errors were encountered while processing:
         inn2
        E: Sub-process /usr/bin/dpkg returned an error code (1)
        """)
    done = run_function("apt_failure", tmp_path, apt_log=log)
    assert done.stdout.strip() == "inn2: post-installation script subprocess returned error exit status 1"


def test_an_apt_error_is_quoted_when_no_package_failed(tmp_path):
    log = "Reading package lists...\nE: Unable to locate package nginx-lite\n"
    done = run_function("apt_failure", tmp_path, apt_log=log)
    assert done.stdout.strip() == "Unable to locate package nginx-lite"

"""The lab's STARTTLS situations (the MTA, postfix or exim4, with and without STARTTLS, dovecot's IMAP)
as root, and the lab run by an ordinary user: those situations marked not running, saying why, the rest serving."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from test_lab_command import probe
from tlsbench.lab.lab import STARTTLS_ENTRIES

pytestmark = pytest.mark.servers


@pytest.fixture
def root_lab(running_lab):
    if os.geteuid() != 0:
        pytest.skip("the STARTTLS situations need root (their absence is tested below)")
    return running_lab


def test_smtp_with_starttls(root_lab):
    entry = root_lab.entry("lab-smtp-starttls")
    assert entry.spec.starttls.protocol == "smtp" and entry.spec.host == "mail.lab.test"
    assert "--starttls smtp" in entry_command(entry)
    code, report = probe(entry.spec)
    assert code == 0, report["findings"]
    stage = next(s for s in report["stages"] if s["name"] == "starttls")
    texts = [line["text"] for line in stage["detail"]["exchange"]]
    assert texts[0].startswith("220 mail.lab.test ESMTP") and "STARTTLS" in texts
    assert report["tls"]["sni"] == "mail.lab.test" and report["tls"]["verified"] is True


def test_smtp_without_starttls(root_lab):
    code, report = probe(root_lab.entry("lab-smtp-no-starttls").spec)
    assert code == 1 and report["findings"][0]["code"] == "starttls-not-offered"
    # The MTA's own refusal of STARTTLS (postfix answers 502, exim4 503), quoted as evidence.
    assert any(re.match(r"50[23] \S", str(e["value"])) for e in report["findings"][0]["evidence"]), report["findings"]


def test_imap_with_starttls(root_lab):
    code, report = probe(root_lab.entry("lab-imap-starttls").spec)
    assert code == 0, report["findings"]
    app = next(s for s in report["stages"] if s["name"] == "app")
    assert "AUTH=PLAIN" in app["detail"]["only_after_tls"] and "LOGINDISABLED" in app["detail"]["only_before_tls"]


def entry_command(entry) -> str:
    from tlsbench.lab.lab import probe_command

    return probe_command(entry.spec)


def test_an_ordinary_user_gets_the_lab_without_them(tmp_path):
    """`tlsbench lab --no-ui` run as `nobody` (setpriv, when the tests run as root)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root to become an ordinary user")
    nobody = pwd.getpwnam("nobody")
    home = tempfile.mkdtemp(prefix="tlsbench-nobody-")
    try:
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        argv = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--",
                sys.executable, "-m", "tlsbench", "lab", "--no-ui"]
        env = {**os.environ, "TLSBENCH_CONFIG_DIR": f"{home}/config", "TLSBENCH_DATA_DIR": f"{home}/data",
               "HOME": home, "NO_COLOR": "1"}
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home, env=env)
        lines = []
        deadline = time.monotonic() + 60
        try:
            for line in proc.stdout:
                lines.append(line)
                if "serving" in line or time.monotonic() > deadline:
                    break
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = "".join(lines) + out
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert re.search(r"^note: not root: lab-smtp-starttls, lab-smtp-no-starttls, lab-imap-starttls skipped "
                         r"\(the MTA and dovecot start as root", text, re.M), text
        assert re.search(r"^lab-good-tls\s", text, re.M)
        for name in STARTTLS_ENTRIES:  # kept, marked, saying why
            assert re.search(rf"^{name}\s.*\[not running\]\n.*\n\s+NOT RUNNING: not root: ", text, re.M), text
            with open(f"{home}/config/profiles/{name}.toml") as fh:
                assert 'unavailable = "not root: the mail servers start as root' in fh.read()
        assert os.path.exists(f"{home}/config/profiles/lab-good-tls.toml")
    finally:
        shutil.rmtree(home, ignore_errors=True)

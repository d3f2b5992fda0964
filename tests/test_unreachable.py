"""tcp-unreachable for real, without a packet leaving the host: the probe runs in a new, empty
network namespace (`unshare -n`), where even 127.0.0.1 has no route because `lo` is down."""

import json
import os
import shutil
import subprocess
import sys

import pytest


def _unshare() -> str:
    path = shutil.which("unshare")
    probe = path and subprocess.run([path, "-n", "true"], capture_output=True)
    if not path or probe.returncode != 0:
        reason = "unshare -n is not available (needs root or user namespaces)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def test_no_route_is_tcp_unreachable_with_the_errno_as_evidence():
    done = subprocess.run([_unshare(), "-n", sys.executable, "-m", "tlsbench", "probe", "127.0.0.1:9", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    tcp = next(s for s in result["stages"] if s["name"] == "tcp")
    assert tcp["status"] == "failed" and tcp["detail"]["errno_name"] == "ENETUNREACH"
    finding = result["findings"][0]
    assert finding["code"] == "tcp-unreachable" and finding["stage"] == "tcp"
    assert any("ENETUNREACH" in e["value"] for e in finding["evidence"])

"""A run of `probe --count … --json-lines` records what a single `probe --json` records.

Repeated runs reuse what an earlier run of the series already worked out (a certificate parsed, a
chain's detail and findings, a message decoded): each run's record must still be the whole record,
field by field the single run's, apart from times, ports and what truly changes from one connection to
the next (an ECDSA signature's length, the kernel's TCP figures).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.servers

TIME_KEYS = {"at_ms", "started_ms", "duration_ms", "total_ms"}
# Kernel figures of this connection (round-trip times, the segment size it saw, its ports).
SOCKET_KEYS = {"local_port", "rtt_ms", "rttvar_ms", "rto_ms", "rcv_mss"}
_MS = re.compile(r"\d+(\.\d+)? ms")


def _probe(*args: str, code: int = 0) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")}
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == code, done.stderr
    return done.stdout


def _masked(value, port: int, path: str = ""):
    """The record with its times, its local port and this connection's own figures replaced by '*'."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in TIME_KEYS or key in SOCKET_KEYS:
                out[key] = "*"
            elif key == "state" and path.endswith(".tcp_info"):
                out[key] = "*"  # ESTABLISHED or CLOSE_WAIT: whether the server's close came before the snapshot
            elif key == "length" and value.get("name") == "CertificateVerify":
                out[key] = "*"  # an ECDSA signature is 70 to 72 bytes of DER
            elif key == "bytes_received":
                out[key] = "*"  # the same, in the handshake's byte count
            else:
                out[key] = _masked(item, port, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [_masked(item, port, f"{path}[]") for item in value]
    if isinstance(value, str):
        return _MS.sub("* ms", re.sub(rf"(?<![\w+/]){port}(?![\w+/])", "PORT", value))
    return value


def _differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b))
                for d in _differences(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{path}.{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"[:300]]


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_every_run_of_a_series_records_what_a_single_run_does(tls_server, lab_certs, concurrency, tmp_path):
    server = tls_server("good")
    target = [f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert)]
    single = json.loads(_probe(*target, "--json"))
    assert single["ok"] and single["chain"] and single["tls"]["messages"] and single["findings"] is not None
    # With its events kept (--save-run), the messages are decoded as they arrive rather than after the
    # handshake: the record is the same.
    live = json.loads(_probe(*target, "--json", "--save-run", str(tmp_path / "run.json")))
    assert _differences(_masked(single, single["socket"]["local_port"]),
                        _masked(live, live["socket"]["local_port"])) == []
    lines = _probe(*target, "--count", "12", "--concurrency", concurrency, "--json-lines").splitlines()
    runs = [json.loads(line) for line in lines[:-1]]
    assert sorted(r.pop("run") for r in runs) == list(range(1, 13))
    want = _masked(single, single["socket"]["local_port"])
    for number, run in enumerate(runs, 1):
        got = _masked(run, run["socket"]["local_port"])
        assert _differences(want, got) == [], f"line {number}"


@pytest.mark.parametrize("cert", ["expired", "wrong_host"])
def test_a_failed_run_of_a_series_records_what_a_single_failed_run_does(tls_server, lab_certs, cert):
    """The same for a handshake that fails verification: its trace, findings and chain are the single run's."""
    server = tls_server(cert)
    target = [f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert)]
    single = json.loads(_probe(*target, "--json", code=1))
    assert not single["ok"] and single["findings"] and single["tls"]["messages"] and single["chain"]
    lines = _probe(*target, "--count", "6", "--concurrency", "3", "--json-lines", code=1).splitlines()
    runs = [json.loads(line) for line in lines[:-1]]
    assert sorted(r.pop("run") for r in runs) == list(range(1, 7))
    want = _masked(single, single["socket"]["local_port"])
    for run in runs:
        assert _differences(want, _masked(run, run["socket"]["local_port"])) == []


def test_the_mask_leaves_what_a_run_records(tls_server, lab_certs):
    """The comparison can fail: a record of another server (another certificate) differs."""
    first = json.loads(_probe(f"localhost:{tls_server('good').port}", "--cafile", str(lab_certs.ca_cert), "--json"))
    other = json.loads(_probe(f"localhost:{tls_server('good_rsa').port}", "--cafile", str(lab_certs.ca_cert),
                              "--json"))
    diffs = _differences(_masked(first, first["socket"]["local_port"]), _masked(other, other["socket"]["local_port"]))
    assert any(".chain[0].sha256" in d for d in diffs) and any("signature_algorithm" in d for d in diffs)

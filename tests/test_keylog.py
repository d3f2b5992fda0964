"""The key log (--keylog FILE, $SSLKEYLOGFILE): created 0600 before OpenSSL opens it, refused for
what is not a regular file, shown as a warning, and good enough for tshark to decrypt a capture
of the run taken on loopback with dumpcap."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from conftest import in_ci, need_binary

pytestmark = pytest.mark.servers


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=60, env=env)


class Capture:
    """dumpcap on the loopback interface for one port, as a context manager."""

    def __init__(self, port: int, path) -> None:
        self.port, self.path = port, path

    def __enter__(self):
        dumpcap = need_binary("dumpcap")
        self.proc = subprocess.Popen([dumpcap, "-i", "lo", "-f", f"tcp port {self.port}", "-w", str(self.path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline:  # dumpcap says when it captures
            line = self.proc.stderr.readline()
            seen += line
            if "Capturing on" in line:
                return self
            if not line and self.proc.poll() is not None:
                break
        self.proc.kill()
        message = f"dumpcap cannot capture on lo here: {seen.strip()}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)  # let the last packets reach the capture
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def tshark_fields(pcap, port: int, display_filter: str, field: str, keylog=None) -> list[str]:
    tshark = need_binary("tshark")
    args = [tshark, "-r", str(pcap), "-d", f"tcp.port=={port},tls", "-Y", display_filter, "-T", "fields", "-e", field]
    if keylog is not None:
        args[3:3] = ["-o", f"tls.keylog_file:{keylog}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return out.stdout.split()


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_tshark_decrypts_the_run_with_the_key_log(tls_server, lab_certs, tmp_path, version):
    server = tls_server("good", tls_version=version)
    keylog = tmp_path / "keys.log"
    pcap = tmp_path / "run.pcapng"
    with Capture(server.port, pcap):
        out = cli(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--keylog", str(keylog))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"WARNING: --keylog: the TLS session secrets are written to {keylog}" in out.stderr
    assert "keylog-enabled" in out.stdout
    assert stat.S_IMODE(keylog.stat().st_mode) == 0o600
    label = "CLIENT_TRAFFIC_SECRET_0" if version == "1.3" else "CLIENT_RANDOM"
    assert label in keylog.read_text()
    # Without the secrets the HTTP request inside TLS is not readable; with them it is (the client's
    # traffic secret), and in TLS 1.3 so is the server's encrypted Certificate (the server's secrets).
    assert tshark_fields(pcap, server.port, "http.request", "http.request.method") == []
    assert tshark_fields(pcap, server.port, "http.request", "http.request.method", keylog) == ["GET"]
    if version == "1.3":
        cert = "tls.handshake.type == 11"
        assert tshark_fields(pcap, server.port, cert, "frame.number") == []
        assert len(tshark_fields(pcap, server.port, cert, "frame.number", keylog)) == 1


def test_sslkeylogfile_is_honoured_and_appended_to(tls_server, lab_certs, tmp_path):
    server = tls_server("good")
    keylog = tmp_path / "env-keys.log"
    keylog.write_text("# mine\n")
    keylog.chmod(0o640)
    env = dict(os.environ, SSLKEYLOGFILE=str(keylog))
    out = cli(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--json", env=env)
    data = json.loads(out.stdout)
    assert data["options"]["tls"]["keylog"] == str(keylog) and data["options"]["tls"]["keylog_from_environment"]
    assert "keylog-enabled" in [f["code"] for f in data["findings"]]
    text = keylog.read_text()
    assert text.startswith("# mine\n") and "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in text
    assert stat.S_IMODE(keylog.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert "WARNING: $SSLKEYLOGFILE" in out.stderr


def test_a_key_log_that_is_not_a_file_is_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = cli("localhost:1", "--keylog", str(fifo))
    assert out.returncode == 2 and "FIFO" in out.stderr
    out = cli("localhost:1", "--keylog", str(tmp_path))
    assert out.returncode == 2 and "directory" in out.stderr
    out = cli("localhost:1", "--keylog", str(tmp_path / "missing" / "k.log"))
    assert out.returncode == 2 and "folder does not exist" in out.stderr
    out = cli("localhost:1", "--no-tls", "--keylog", str(tmp_path / "k.log"))
    assert out.returncode == 2 and "--no-tls conflicts with --keylog" in out.stderr
    assert not (tmp_path / "k.log").exists()

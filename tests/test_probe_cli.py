"""`tlsbench probe` as a user runs it: a real process, real servers, exit codes and output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

pytestmark = pytest.mark.servers
STAGES = ["resolve", "tcp", "proxy", "tls", "chain", "app"]


def run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tlsbench probe: error: ")
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("args, words", [
    (["bad_host!:443"], ["bad_host!"]),
    (["example.com:0"], ["out of range"]),
    (["example.com:70000"], ["70000", "out of range"]),
    (["example.com"], ["no port"]),
    (["ftp://example.com/"], ["URL"]),
    (["::1:443"], ["brackets"]),
    (["example.com:443", "--cafile", "/nonexistent/ca.pem"], ["cafile", "does not exist"]),
    (["example.com:443", "--sni", "a.example", "--no-sni"], ["--sni", "--no-sni"]),
    (["example.com:443", "--tls-min", "1.7"], ["tls-min", "1.7"]),
    (["example.com:443", "--no-tls", "--alpn", "h2"], ["--no-tls"]),
    (["example.com:443", "--timeout", "soon"], ["timeout"]),
    (["example.com:443", "--bogus"], ["--bogus"]),
    ([], ["no target"]),
    (["example.com:443", "--socks5", "127.0.0.1:1080", "--proxy-user", "u" * 128 + ":p"], ["128 bytes"]),
    (["[::1]:443", "--socks4", "127.0.0.1:1080"], ["SOCKS4", "IPv6"]),
    (["example.com:443", "--proxy-user", "u:p"], ["needs a proxy"]),
    (["example.com:443", "--profile", "no-such-profile"], ["no-such-profile"]),
])
def test_bad_input_exits_2_with_one_line(args, words):
    assert_one_line_error(run(*args), *words)


def test_help_exits_0():
    proc = run("-h")
    assert proc.returncode == 0
    assert "--socks5h" in proc.stdout and "--json" in proc.stdout and "--save-profile" in proc.stdout


def test_json_shape_for_a_refused_port(closed_port):
    proc = run(closed_port.address, "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)  # nothing but one JSON object on stdout
    assert data["ok"] is False
    assert [s["name"] for s in data["stages"]] == STAGES
    assert [s["status"] for s in data["stages"]] == ["ok", "failed", "skipped", "skipped", "skipped", "skipped"]
    assert all(isinstance(s["duration_ms"], (int, float)) for s in data["stages"])
    assert data["stages"][1]["detail"]["errno_name"] == "ECONNREFUSED"
    finding = data["findings"][0]
    assert finding["code"] == "tcp-refused"
    assert set(finding) >= {"code", "severity", "title", "explanation", "suggestion", "evidence"}
    assert data["socket"]["local_port"] is None and data["tls"] is None and data["chain"] == []


def test_json_through_socks5_with_send(microsocks, plain_http):
    proc = run(f"localhost:{plain_http.port}", "--socks5h", microsocks.address, "--no-tls",
               "--send", "GET / HTTP/1.0\\r\\n\\r\\n", "--json")
    assert proc.returncode == 0, proc.stdout
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    stages = {s["name"]: s for s in data["stages"]}
    assert stages["proxy"]["detail"]["address_type"] == "domain name"
    assert stages["proxy"]["detail"]["reply_code"] == 0
    assert stages["app"]["detail"]["status_line"] == "HTTP/1.1 200 OK"
    sock = data["socket"]
    assert sock["via_proxy"] is True and sock["peer_port"] == microsocks.port
    assert isinstance(sock["local_port"], int) and sock["local_address"] == "127.0.0.1"


def test_waterfall_shows_each_stage_and_the_finding(closed_port):
    proc = run(closed_port.address)
    assert proc.returncode == 1
    out = proc.stdout
    assert "\x1b[" not in out  # not a terminal: no colour
    positions = [out.index(f" {name} ") for name in STAGES]
    assert positions == sorted(positions)
    assert "tcp-refused" in out and "Connection refused" in out


def test_proxy_failure_is_explained_not_flattened(microsocks_auth, plain_http):
    proc = run(plain_http.address, "--socks5", microsocks_auth.address, "--proxy-user",
               f"{microsocks_auth.username}:wrong", "--no-tls")
    assert proc.returncode == 1
    assert "proxy-auth-failed" in proc.stdout
    assert "Socket error" not in proc.stdout and "Traceback" not in proc.stderr
    assert "wrong" not in proc.stdout  # the password is never printed


def test_network_text_is_made_visible(banner_server):
    server = banner_server("smtp", banner=b"220 \x1b[31mred\x1b]0;title\x07 \x9b2J ok\r\n")
    proc = run(server.address, "--no-tls", "--send", "QUIT\\r\\n")
    assert "Traceback" not in proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\x9b" not in proc.stdout
    assert "\\e[31mred" in proc.stdout


def _run_in_pty(args: list[str], env: dict) -> str:
    main_fd, child_fd = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], stdin=subprocess.DEVNULL,
                              stdout=child_fd, stderr=subprocess.PIPE, timeout=60, env={**os.environ, **env})
        os.close(child_fd)
        child_fd = -1
        chunks = []
        while True:
            try:
                data = os.read(main_fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        assert proc.returncode == 1
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        if child_fd >= 0:
            os.close(child_fd)
        os.close(main_fd)


def test_colour_on_a_terminal_and_no_color_respected(closed_port):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _run_in_pty([closed_port.address], {**env, "NO_COLOR": ""})
    assert "\x1b[31m" in coloured and "tcp-refused" in coloured
    plain = _run_in_pty([closed_port.address], {"NO_COLOR": "1"})
    assert "\x1b[" not in plain and "tcp-refused" in plain


def test_insecure_prints_a_loud_warning(closed_port):
    proc = run(closed_port.address, "--insecure", "--json")
    assert proc.returncode == 1
    assert "WARNING" in proc.stderr and "NOT verified" in proc.stderr
    json.loads(proc.stdout)


def test_save_profile_then_run_it_with_overrides(closed_port, plain_http):
    saved = run(plain_http.address, "--no-tls", "--http", "--timeout", "7", "--save-profile", "lab-plain", "--json")
    assert saved.returncode == 0, saved.stderr
    assert "lab-plain" in saved.stderr
    again = run("--profile", "lab-plain", "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["target"] == plain_http.address and data["options"]["timeout"] == 7.0
    assert data["options"]["app"] == "http"
    # Options given on the command line override the profile's.
    moved = run("--profile", "lab-plain", closed_port.address, "--timeout", "3", "--json")
    assert moved.returncode == 1
    data = json.loads(moved.stdout)
    assert data["target"] == closed_port.address and data["options"]["timeout"] == 3.0
    assert data["options"]["app"] == "http" and data["options"]["tls"] is None
    assert data["findings"][0]["code"] == "tcp-refused"

"""`--proxy-user USER` without a password: asked on a terminal (as curl -U does), refused elsewhere."""

import json
import os
import pty
import select
import subprocess
import sys
import time


def test_without_a_terminal_it_is_refused_with_one_line(microsocks_auth, plain_http):
    env = {k: v for k, v in os.environ.items() if k != "TLSBENCH_PROXY_PASSWORD"}
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", plain_http.address, "--no-tls",
                           "--socks5", microsocks_auth.address, "--proxy-user", microsocks_auth.username],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "has no password" in done.stderr and "$TLSBENCH_PROXY_PASSWORD" in done.stderr


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_on_a_terminal_it_is_asked_for_and_used(microsocks_auth, plain_http):
    env = {k: v for k, v in os.environ.items() if k != "TLSBENCH_PROXY_PASSWORD"}
    argv = [sys.executable, "-m", "tlsbench", "probe", plain_http.address, "--no-tls", "--http", "--json",
            "--socks5", microsocks_auth.address, "--proxy-user", microsocks_auth.username]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, where getpass asks
        os.execvpe(argv[0], argv, env)
    deadline = time.monotonic() + 30
    try:
        prompt = _read_until(fd, b"proxy password for", deadline)
        assert f"proxy password for {microsocks_auth.username}@".encode() in prompt
        os.write(fd, microsocks_auth.password.encode() + b"\n")
        out = _read_until(fd, b'"findings"', deadline) + _read_until(fd, b"\n}", deadline)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert microsocks_auth.password.encode() not in out  # not echoed
    result = json.loads(out[out.index(b"{"):].decode())
    proxy = next(s for s in result["stages"] if s["name"] == "proxy")
    assert result["ok"] and proxy["detail"]["auth"] == "username/password"

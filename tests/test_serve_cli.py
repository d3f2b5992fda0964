"""`tlsbench serve` and `tlsbench cert` as a person runs them: real processes, real clients."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from test_listener_support import require, run, ss_queue

TLSBENCH = [sys.executable, "-m", "tlsbench"]


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "TLSBENCH_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}


class Serve:
    """A running `tlsbench serve --json`; lines are read in a thread so waits have timeouts."""

    def __init__(self, args: list[str], env: dict) -> None:
        self.proc = subprocess.Popen(TLSBENCH + ["serve", "--json", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.put(raw.decode())

    def wait_event(self, kind: str, timeout: float = 15.0, **match) -> dict:
        for d in self.seen:
            if d["event"] == kind and all(d.get(k) == v for k, v in match.items()):
                return d
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            d = json.loads(line)  # every line must be one JSON object
            assert isinstance(d, dict) and "event" in d
            self.seen.append(d)
            if d["event"] == kind and all(d.get(k) == v for k, v in match.items()):
                return d

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        while not self.lines.empty():
            d = json.loads(self.lines.get())
            assert "event" in d
            self.seen.append(d)
        return rc, self.proc.stderr.read().decode()


@pytest.fixture
def serve(env):
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        s = Serve(list(args), env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_json_lines_for_a_tls_client(serve):
    curl = require("curl")
    s = serve("--tls", "--port", "0", "--backlog", "5", "--http")
    cert = s.wait_event("certificate")
    listening = s.wait_event("listening")
    port = listening["port"]
    assert listening["effective_backlog"] == 5 and ss_queue(port)[1] == 5
    r = run([curl, "-sS", "--max-time", "10", "--cacert", cert["cert"], "-w", "%{local_port}",
             "-o", "/dev/null", f"https://localhost:{port}/"])
    assert r.returncode == 0, r.stderr
    accepted = s.wait_event("accepted")
    assert accepted["peer_port"] == int(r.stdout)
    assert s.wait_event("client-hello")["sni"] == "localhost"
    assert s.wait_event("handshake")["ok"] is True
    s.wait_event("closed")
    rc, err = s.stop()
    assert rc == 0 and "Traceback" not in err
    assert s.wait_event("stopped")


def test_pause_accept_and_resume_with_sigusr1(serve):
    s = serve("--port", "0", "--backlog", "4", "--pause-accept", "--reply", "bye\\n")
    port = s.wait_event("listening", paused=True)["port"]
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        assert s.wait_event("queue", length=2)["backlog"] == 4
        s.proc.send_signal(signal.SIGUSR1)
        s.wait_event("resumed")
        s.wait_event("queue", length=0, paused=False)
        ports = {s.wait_event("accepted", client_id=i)["peer_port"] for i in (1, 2)}
        assert ports == {c.getsockname()[1] for c in clients}
        clients[0].sendall(b"hello")
        assert clients[0].recv(100) == b"bye\n"
    finally:
        for c in clients:
            c.close()


def test_human_output_makes_client_text_visible(env):
    proc = subprocess.Popen(TLSBENCH + ["serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:")
        port = int(first.split()[2].rsplit(":", 1)[1].rstrip(";").split()[0].strip("()"))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"\x1b]0;owned\x07hi\n")
            c.recv(100)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
    assert "\x1b" not in out and "\\e]0;owned\\x07hi" in out


@pytest.mark.parametrize("args, words", [
    (["--port", "70000"], "out of range"),
    (["--port", "-1"], "out of range"),
    (["--bind", "not-an-ip"], "not an IP address"),
    (["--tls", "--cert", "/nonexistent/cert.pem"], "not found"),
    (["--tls", "--cert", "CERT", "--key", "OTHERKEY"], "does not match"),
    (["--port", "BUSY"], "already in use"),
    (["--backlog", "abc"], "invalid int"),
    (["--require-client-cert", "--tls"], "--client-ca"),
    (["--reply", "x", "--http"], "not allowed"),
])
def test_bad_input_is_one_line_and_exit_2(env, tmp_path, args, words):
    from tlsbench.engine.listener import certstore

    if "CERT" in args:
        one = certstore.ensure_certificate(directory=tmp_path / "one")
        two = certstore.ensure_certificate(directory=tmp_path / "two")
        args = [str(one.cert_path) if a == "CERT" else str(two.key_path) if a == "OTHERKEY" else a for a in args]
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        args = [str(busy.getsockname()[1]) if a == "BUSY" else a for a in args]
        r = subprocess.run(TLSBENCH + ["serve", *args], capture_output=True, text=True, env=env, timeout=20)
    finally:
        busy.close()
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_cert_command_generates_reuses_and_adds_names(env):
    def cert(*args):
        return subprocess.run(TLSBENCH + ["cert", *args], capture_output=True, text=True, env=env, timeout=20)

    missing = cert("--show")
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    made = json.loads(cert("--json").stdout)
    assert made["generated"] is True
    assert set(made["names"]) == {"localhost", "127.0.0.1", "::1"}
    again = json.loads(cert("--json").stdout)
    assert again["generated"] is False and again["sha256"] == made["sha256"]
    named = json.loads(cert("--json", "--name", "dev.test").stdout)
    assert named["generated"] is True and "dev.test" in named["names"]
    shown = cert("--show")
    assert shown.returncode == 0 and named["sha256"] in shown.stdout and "curl --cacert" in shown.stdout
    assert cert("--path").stdout.strip() == named["cert"]
    bad = cert("--name", "bad name!")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_expired_certificate_is_regenerated(tmp_path):
    import datetime as dt

    from tlsbench.engine.listener import certstore

    first = certstore.ensure_certificate(directory=tmp_path)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    renewed = certstore.ensure_certificate(directory=tmp_path, now=later)
    assert renewed.generated and renewed.fingerprint != first.fingerprint
    assert renewed.not_after > later


# -- a clean close, as the listener records it ------------------------------------------------------

def test_the_probe_closes_cleanly(serve, env):
    """tlsbench probe reads the session tickets and sends close_notify: no reset in the listener's log."""
    for args, probe_args in (([], []), (["--http"], ["--http"])):
        s = serve("--tls", "--port", "0", *args)
        cert = s.wait_event("certificate")["cert"]
        port = s.wait_event("listening")["port"]
        r = subprocess.run(TLSBENCH + ["probe", f"localhost:{port}", "--cafile", cert, "--json", *probe_args],
                           capture_output=True, text=True, env=env, timeout=60)
        assert json.loads(r.stdout)["ok"] is True, r.stdout
        closed = s.wait_event("closed")
        assert closed["client_close"] == "close_notify", closed
        assert "reset" not in closed["reason"] and "cleanly (close_notify)" in closed["reason"]


def test_curl_closes_cleanly(serve):
    curl = require("curl")
    s = serve("--tls", "--port", "0", "--http")
    cert = s.wait_event("certificate")["cert"]
    port = s.wait_event("listening")["port"]
    for extra in ([], ["--http1.1", "-d", "x"]):
        r = run([curl, "-sS", "--max-time", "10", "--cacert", cert, *extra, f"https://localhost:{port}/"])
        assert r.returncode == 0 and r.stdout == b"tlsbench listener: hello\n", r.stderr
    for client_id in (1, 2):
        closed = s.wait_event("closed", client_id=client_id)
        assert closed["client_close"] == "close_notify", closed
        assert closed["reason"] == "answered (HTTP); the client then closed cleanly (close_notify)"


# -- open files ---------------------------------------------------------------------------------------

def _limit_files(soft: int, hard: int):
    def set_limit():
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return set_limit


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_serve_raises_its_open_file_limit_and_reports_it(env):
    proc = subprocess.Popen(TLSBENCH + ["serve", "--port", "0", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, preexec_fn=_limit_files(50, 80))
    try:
        events = {}
        for _ in range(3):
            d = json.loads(proc.stdout.readline())
            events[d["event"]] = d
        assert events["open-files"]["was"] == 50 and events["open-files"]["limit"] == 80
        assert events["open-files"]["raised"] is True and events["open-files"]["hard"] == 80
        assert events["listening"]["open_files_limit"] == 80
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)


def test_out_of_descriptors_is_said_once_without_spinning_and_clients_are_still_served(env):
    proc = subprocess.Popen(TLSBENCH + ["serve", "--port", "0", "--json", "--backlog", "64", "--client-timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_limit_files(40, 40))
    s = Serve.__new__(Serve)  # the same line reader over a process started with its own limit
    s.proc, s.lines, s.seen = proc, queue.Queue(), []
    threading.Thread(target=s._read, daemon=True).start()
    clients = []
    try:
        port = s.wait_event("listening")["port"]
        for _ in range(50):  # more than the limit lets it hold: the rest wait in the accept queue
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        error = s.wait_event("error", code="descriptors-exhausted")
        assert "out of file descriptors" in error["message"] and "limit 40" in error["message"]
        held = len([d for d in s.seen if d["event"] == "accepted"])
        assert 20 < held < 40
        # the clients it holds are served
        first = clients[0]
        first.sendall(b"still served")
        assert first.recv(100) == b"still served"
        # no busy loop while starved: well under a tenth of a core over a second and a half
        before = _cpu_seconds(proc.pid)
        time.sleep(1.5)
        assert _cpu_seconds(proc.pid) - before < 0.15
        # said once
        s.wait_event("queue", length=50 - held, timeout=5)
        assert len([d for d in s.seen if d["event"] == "error"]) == 1
        # clients leave: it accepts again, and says so
        for c in clients[:15]:
            c.close()
        s.wait_event("notice", code="accepting-again")
        s.wait_event("accepted", client_id=held + 1)
        late = clients[held]
        late.sendall(b"late")
        assert late.recv(100) == b"late"
    finally:
        for c in clients:
            c.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert "Traceback" not in proc.stderr.read().decode()

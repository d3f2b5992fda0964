"""The listen backlog seen from the client: `tcp-syn-retransmitted` and `accept-queue-wait`.

The thresholds are checked on the pure functions (engine/findings/backlog.py); the findings
themselves against real loopback listeners: one whose accept queue is full (listen(0) holding
one connection nobody accepted, so the kernel drops the probe's SYN until the queue frees), and
one that accepts late and then answers the TLS handshake with the `ssl` module.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.late_accept import LateAccept
from tlsbench.engine.findings import backlog
from tlsbench.engine.records.result import ProbeResult, TcpInfo
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.lab.certs import LabCerts


def _info(retrans: int = 0, rtt_ms: float = 0.05) -> TcpInfo:
    return TcpInfo(state=1, rtt_ms=rtt_ms, rttvar_ms=0.02, rto_ms=204.0, retransmits=0, total_retrans=retrans,
                   lost=0, snd_mss=32741, rcv_mss=536)


# --- the thresholds -----------------------------------------------------------------------------

def test_a_retransmission_counted_by_tcp_info_is_the_finding_whatever_the_time() -> None:
    found = backlog.syn_retransmitted(3.2, _info(retrans=1), where="127.0.0.1:443", port=443)
    assert found is not None and found.code == "tcp-syn-retransmitted"
    assert found.severity == "warning" and found.stage == "tcp"
    assert "the SYN went out 2 times" in found.explanation
    assert "accept queue" in found.explanation and "filter" in found.explanation
    assert any(p.command == "ss -ltn 'sport = :443'" for p in found.suggestion.peers)


def test_without_the_counter_a_one_second_connect_on_a_quick_path_is_the_finding() -> None:
    assert backlog.syn_retransmitted(999.0, _info(rtt_ms=1.0), where="h:1") is None
    found = backlog.syn_retransmitted(1000.0, _info(rtt_ms=1.0), where="h:1")
    assert found is not None and "1000.0 ms" in found.explanation and "under 100 ms" in found.explanation
    # a path whose own round trip is slow: a long connect says nothing about retries
    assert backlog.syn_retransmitted(1500.0, _info(rtt_ms=400.0), where="h:1") is None
    # no TCP_INFO at all (another OS): no RTT to judge by, so nothing is claimed
    assert backlog.syn_retransmitted(1500.0, None, where="h:1") is None


def test_accept_queue_wait_thresholds() -> None:
    # connect 2 ms: the floor (200 ms) applies
    assert backlog.accept_queue_wait(2.0, 10.0, 209.0, where="h:1") is None
    found = backlog.accept_queue_wait(2.0, 10.0, 210.0, where="h:1")
    assert found is not None and found.code == "accept-queue-wait" and found.stage == "tls"
    assert "200.0 ms" in found.title
    # connect 30 ms: 20x the connect time (600 ms) applies
    assert backlog.accept_queue_wait(30.0, 40.0, 600.0, where="h:1") is None
    assert backlog.accept_queue_wait(30.0, 40.0, 640.0, where="h:1") is not None
    # a slow connect is not "fast": no claim, however long the wait
    assert backlog.accept_queue_wait(100.0, 110.0, 5000.0, where="h:1") is None


# --- real listeners -----------------------------------------------------------------------------

class FullQueue:
    """listen(0) on loopback with one unaccepted connection: Linux lets backlog + 1 = 1 wait, so the
    next SYN is dropped. After `free_after` s one connection is accepted, so the retried SYN gets in."""

    def __init__(self, free_after: float) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port: int = self.sock.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        self.accepted: list[socket.socket] = []
        self.timer = threading.Timer(free_after, self._accept_one)
        self.timer.start()

    def queued(self) -> int:
        """The accept queue's length now (TCP_INFO of a listening socket: tcpi_unacked)."""
        raw = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return int.from_bytes(raw[8 + 4 * 4:8 + 4 * 5], "little")

    def _accept_one(self) -> None:
        self.sock.settimeout(2)
        try:
            self.accepted.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self) -> None:
        self.timer.cancel()
        for s in (self.filler, *self.accepted, self.sock):
            s.close()


def test_a_connect_to_a_full_accept_queue_is_retried_and_said_so() -> None:
    server = FullQueue(free_after=0.3)
    try:
        assert server.queued() == 1  # the filler waits: the queue (backlog 0, + 1) is full
        result = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, timeout=5))
    finally:
        server.close()
    tcp = result.stage("tcp")
    assert result.ok and tcp is not None and tcp.status == "ok"
    assert tcp.duration_ms >= 900  # the SYN retry: 1 s on Linux (never asserted as an upper bound)
    found = [f for f in result.findings if f.code == "tcp-syn-retransmitted"]
    assert len(found) == 1, result.codes()
    evidence = {e.label: e.value for e in found[0].evidence}
    assert "tcpi_total_retrans 1" in evidence["TCP_INFO"] or "tcpi_total_retrans 2" in evidence["TCP_INFO"]
    assert evidence["connect time"].endswith(" ms") and float(evidence["connect time"][:-3]) >= 900
    assert f"127.0.0.1:{server.port}" in found[0].title
    assert "ms in a connect whose SYN was sent again" in tcp.summary  # the waterfall says where the time went


def test_a_quick_connect_raises_neither_finding() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        result = run_probe(build_spec(f"127.0.0.1:{listener.getsockname()[1]}", tls=False, timeout=5))
    finally:
        listener.close()
    assert result.ok
    assert not {"tcp-syn-retransmitted", "accept-queue-wait"} & set(result.codes())


@pytest.fixture
def late_tls(lab_certs: LabCerts) -> Iterator[LateAccept]:
    server = LateAccept(lab_certs, delay=0.4)
    yield server
    server.close()


def test_a_handshake_answered_late_after_a_fast_connect_is_accept_queue_wait(late_tls: LateAccept,
                                                                             lab_certs: LabCerts) -> None:
    result: ProbeResult = run_probe(build_spec(f"127.0.0.1:{late_tls.port}", cafile=str(lab_certs.ca_cert),
                                               timeout=5))
    assert result.ok, result.codes()
    found = [f for f in result.findings if f.code == "accept-queue-wait"]
    assert len(found) == 1, result.codes()
    evidence = {e.label: e.value for e in found[0].evidence}
    connect_ms = float(evidence["connect time"][:-3])
    wait_ms = float(evidence["ClientHello to the server's first byte"][:-3])
    assert connect_ms < 100 and wait_ms >= 390  # the listener slept 0.4 s before accept()
    assert "accept queue" in found[0].explanation
    assert "tcp-syn-retransmitted" not in result.codes()
    assert "ms waiting for the server's first byte" in result.stage("tls").summary


# --- tlsbench serve: the queue it shows, and a probe that meets it full ---------------------------

class TextServe:
    """`tlsbench serve` in text mode, its lines read in a thread so every wait is bounded."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        import queue
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-m", "tlsbench", "serve", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, start: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            self.seen.append(line)
            if line.startswith(start):
                return line

    def stop(self) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def test_serve_explains_backlog_plus_one_and_a_probe_meets_the_full_queue(tmp_path: object) -> None:
    import os
    import re
    import signal

    env = {**os.environ, "TLSBENCH_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    serve = TextServe("--port", "0", "--backlog", "1", "--pause-accept", env=env)
    clients: list[socket.socket] = []
    try:
        listening = serve.wait_line("listening on ")
        assert "backlog asked 1, effective 1" in listening
        assert "Linux lets backlog + 1 = 2 connections wait unaccepted" in listening
        port = int(re.search(r"127\.0\.0\.1:(\d+)", listening).group(1))  # type: ignore[union-attr]
        for _ in range(2):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        full = serve.wait_line("accept queue 2 / 1 waiting")
        assert "(full: 2 = backlog 1 + 1; new SYNs are dropped" in full
        # The next SYN is dropped; accepting resumes 0.3 s later, so the client's retry gets in.
        threading.Timer(0.3, serve.proc.send_signal, (signal.SIGUSR1,)).start()
        result = run_probe(build_spec(f"127.0.0.1:{port}", tls=False, timeout=5))
        assert result.ok, result.codes()
        assert "tcp-syn-retransmitted" in result.codes()
        tcp = result.stage("tcp")
        assert tcp is not None and tcp.duration_ms >= 900
    finally:
        for c in clients:
            c.close()
        rc = serve.stop()
    assert rc == 0

"""Helpers shared by the listener tests (no tests here): real binaries, an event log, a listener."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time

import pytest

from tlsbench.engine.listener.config import ListenerConfig
from tlsbench.engine.listener.server import Listener


def require(binary: str) -> str:
    """The binary's path; under CI=true a missing one fails the test, elsewhere it skips."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is required under CI but is not installed")
        pytest.skip(f"{binary} not installed")
    return path


class EventLog:
    """Collects listener events from any thread; `wait_for` blocks until one matches."""

    def __init__(self) -> None:
        self.events: list = []
        self.cond = threading.Condition()

    def __call__(self, event) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def dicts(self, kind: str | None = None, client_id: int | None = None) -> list[dict]:
        with self.cond:
            out = [e.to_dict() for e in self.events]
        return [d for d in out if (kind is None or d["event"] == kind)
                and (client_id is None or d.get("client_id") == client_id)]

    def wait_for(self, predicate, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for event in self.events:
                    d = event.to_dict()
                    if predicate(d):
                        return d
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching event; got {[e.to_dict()['event'] for e in self.events]}")
                self.cond.wait(remaining)

    def wait_event(self, kind: str, timeout: float = 10.0, **match) -> dict:
        return self.wait_for(lambda d: d["event"] == kind and all(d.get(k) == v for k, v in match.items()),
                             timeout)


@contextlib.contextmanager
def running_listener(**fields):
    log = EventLog()
    listener = Listener(ListenerConfig(**fields), on_event=log)
    listener.start()
    try:
        yield listener, log
    finally:
        listener.stop()


def run(args: list[str], input: bytes = b"", timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=input, capture_output=True, timeout=timeout)


def ss_queue(port: int) -> tuple[int, int]:
    """(Recv-Q, Send-Q) that `ss -ltn` reports for the listening port."""
    out = run([require("ss"), "-ltnH", f"sport = :{port}"]).stdout.decode()
    fields = out.split()
    return int(fields[1]), int(fields[2])


# -- real ClientHellos, and a TLS client whose hello can be cut or refragmented -----------------------

def capture_hello(command: list[str], timeout: float = 10.0) -> bytes:
    """Run a real client (curl, s_client) against a bare TCP socket and keep its whole ClientHello."""
    import socket

    from tlsbench.engine.listener.clienthello import HelloReader

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(timeout)
    port = server.getsockname()[1]
    args = [a.replace("{port}", str(port)) for a in command]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn, _ = server.accept()
        conn.settimeout(timeout)
        reader = HelloReader()
        with conn:
            while reader.status == "partial":
                chunk = conn.recv(65536)
                if not chunk:
                    break
                reader.feed(chunk)
        assert reader.status == "complete", (command, reader.status, reader.problem)
        return bytes(reader.data)
    finally:
        server.close()
        proc.kill()
        proc.wait(timeout)


def python_hello(server_hostname: str | None = "localhost", alpn: list[str] | None = None) -> bytes:
    import ssl

    from tlsbench.engine.tls.tlspump import TlsPump

    ctx = ssl.create_default_context()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    pump = TlsPump(ctx, server_hostname=server_hostname)
    pump.handshake()
    return pump.outgoing()


def one_byte_records(record: bytes) -> list[bytes]:
    """The same handshake bytes, one per TLS record (legal: only empty records are not)."""
    body = record[5:]
    return [record[:3] + b"\x00\x01" + body[i:i + 1] for i in range(len(body))]


def tls_echo_client(port: int, cafile: str, *, server_hostname: str = "localhost", alpn: list[str] | None = None,
                    pieces=None, gap: float = 0.0, payload: bytes = b"ping", timeout: float = 10.0) -> tuple[int, bytes]:
    """A full TLS handshake whose first flight is sent as `pieces(hello)` (each piece sent alone,
    `gap` seconds apart); then `payload` and its echo. Returns (local port, what came back)."""
    import socket
    import ssl

    from tlsbench.engine.tls.tlspump import TlsPump

    ctx = ssl.create_default_context(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    pump = TlsPump(ctx, server_hostname=server_hostname)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pump.handshake()
        hello = pump.outgoing()
        for piece in (pieces(hello) if pieces else [hello]):
            sock.sendall(piece)
            if gap:
                time.sleep(gap)
        while not pump.handshake():
            out = pump.outgoing()
            if out:
                sock.sendall(out)
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the listener closed during the handshake")
            pump.feed(data)
        pump.write(payload)
        sock.sendall(pump.outgoing())
        got = b""
        while len(got) < len(payload):
            data = pump.read()
            if data is None:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                pump.feed(chunk)
                continue
            if not data:
                break
            got += data
        pump.close_notify()
        sock.sendall(pump.outgoing())
        return sock.getsockname()[1], got

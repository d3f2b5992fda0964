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

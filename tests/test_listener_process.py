"""The listener in a child process (engine.listener.process): the same events over a pipe, the same
errors, and no child left behind — also when its parent is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tlsbench.errors import InputError
from tlsbench.engine.listener.config import ListenerConfig
from tlsbench.engine.listener.events import Accepted, Closed, DataReceived, Listening, Stopped
from tlsbench.engine.listener.process import ListenerProcess


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
        except OSError:
            return True
        if state in "ZX":
            return True
        time.sleep(0.05)
    return False


def test_events_come_over_the_pipe_in_order_and_stop_ends_the_child():
    events: list = []
    arrived = threading.Event()

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, Closed):
            arrived.set()

    listener = ListenerProcess(ListenerConfig(port=0), on_event=on_event)
    listener.start()
    try:
        assert listener.port and listener.pid != os.getpid()
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as client:
            client.sendall(b"hello\n")
            assert client.recv(100) == b"hello\n"  # echo, from the child
        assert arrived.wait(10)
    finally:
        listener.stop()
    kinds = [type(e) for e in events]
    assert kinds[0] is Listening and kinds[-1] is Stopped
    assert kinds.index(Accepted) < kinds.index(DataReceived) < kinds.index(Closed)
    assert events[-1].clients_served == 1
    assert _gone(listener.pid)


def test_a_port_in_use_is_the_same_input_error_and_no_child_stays():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        listener = ListenerProcess(ListenerConfig(port=squatter.getsockname()[1]))
        with pytest.raises(InputError) as info:
            listener.start()
    assert info.value.field == "port" and "already in use" in str(info.value)
    assert _gone(listener.pid)


def test_pause_is_asked_of_the_child_and_said_back():
    paused = threading.Event()
    listener = ListenerProcess(ListenerConfig(port=0), on_event=lambda e: paused.set() if getattr(e, "paused", False)
                               and not isinstance(e, Listening) else None)
    listener.start()
    try:
        assert not listener.paused
        listener.toggle_pause()
        assert paused.wait(10) and listener.paused
    finally:
        listener.stop()


def test_the_child_ends_when_its_parent_is_killed():
    code = ("import sys, time; from tlsbench.engine.listener.config import ListenerConfig; "
            "from tlsbench.engine.listener.process import ListenerProcess; "
            "l = ListenerProcess(ListenerConfig(port=0)); l.start(); print(l.pid, l.port, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid, port = (int(x) for x in parent.stdout.readline().split())
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # it serves
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _gone(pid)  # the end of its input: it stopped its listener and exited
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()

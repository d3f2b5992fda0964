"""The proxy stage has one deadline, not one per read: a proxy that answers each step just within
the timeout, but the whole negotiation beyond it, ends in proxy-timeout at the deadline."""

import socket
import threading
import time

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec


class SlowSocks5:
    """A SOCKS5 peer that waits `pause` seconds before each of its two replies (scripted, on loopback)."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(10)
            try:
                conn.recv(16)  # greeting
                time.sleep(self.pause)
                conn.sendall(b"\x05\x00")  # no authentication
                conn.recv(300)  # request
                time.sleep(self.pause)
                conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50")  # succeeded
                conn.recv(1)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()


def probe_through(pause: float, timeout: float):
    """A plain-TCP probe through a SOCKS5 peer that waits `pause` before each of its replies."""
    proxy = SlowSocks5(pause)
    try:
        return run_probe(build_spec("127.0.0.1:80", proxies=[f"socks5://127.0.0.1:{proxy.port}"],
                                    tls=False, timeout=timeout))
    finally:
        proxy.close()


def test_a_negotiation_longer_than_the_timeout_is_a_proxy_timeout():
    result = probe_through(pause=0.7, timeout=1)
    stage = result.stage("proxy")
    assert stage.status == "failed"
    assert result.codes()[0] == "proxy-timeout"
    # each reply came within 1 s, so only the stage deadline can have ended it
    assert stage.detail.received_hex == "05 00"  # the method reply came; the request reply did not


def test_a_negotiation_within_the_timeout_succeeds():
    result = probe_through(pause=0.2, timeout=2)
    assert result.stage("proxy").status == "ok" and result.ok

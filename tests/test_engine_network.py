"""The network stages (resolve, tcp, proxy) and the runner, against real servers on loopback.

Proxies are real software: microsocks, danted and pproxy. `.invalid` names never resolve
(RFC 6761), so DNS failures need no network.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time

import pytest

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.findings import network
from tlsbench.engine.events import RunFinished, SocketUpdated, StageStarted
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers
HTTP_GET = "GET / HTTP/1.0\r\nHost: lab\r\n\r\n"


class Listener:
    """A loopback listener that records the peer address of each connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.peers: list[tuple[str, int]] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer)
            conn.close()

    def first_peer(self) -> tuple[str, int]:
        """The first accepted peer; waits for the accept thread (bounded)."""
        for _ in range(250):
            if self.peers:
                return self.peers[0]
            time.sleep(0.02)
        raise AssertionError("the listener accepted no connection")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    lis = Listener()
    yield lis
    lis.close()


@pytest.fixture(scope="module")
def pproxy_socks4():
    """pproxy speaking SOCKS4 and SOCKS4a (danted has no SOCKS4a: it takes 0.0.0.x literally)."""
    from tlsbench.lab.processes import start_on_free_port
    from tlsbench.lab.socks_servers import SocksProxy

    def make(port: int) -> SocksProxy:
        return SocksProxy([sys.executable, "-m", "pproxy", "-l", f"socks4://127.0.0.1:{port}"],
                          host="127.0.0.1", port=port, kind="pproxy", versions=("socks4",))

    proxy = start_on_free_port(make, "127.0.0.1")
    yield proxy
    proxy.stop()


def probe(target: str, **options):
    options.setdefault("tls", False)
    options.setdefault("timeout", 5)
    events: list = []
    result = run_probe(build_spec(target, **options), on_event=events.append)
    return result, events


def statuses(result) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


# --- resolve ----------------------------------------------------------------------------------

def test_resolve_localhost_lists_addresses(listener):
    result, _ = probe(f"localhost:{listener.port}")
    detail = result.stage("resolve").detail
    assert result.stage("resolve").status == "ok"
    assert "127.0.0.1" in detail.addresses
    assert detail.chosen == detail.addresses[0]
    assert detail.family in ("IPv4", "IPv6") and detail.pinned is False
    assert result.ok and result.stage("tcp").detail.peer_address == detail.chosen


def test_invalid_name_gives_dns_failed():
    result, _ = probe("no-such-host.invalid:443")
    assert not result.ok
    assert result.codes() == ["dns-failed"]
    finding = result.findings[0]
    assert "no-such-host.invalid" in finding.title
    assert any("EAI_NONAME" in e.value for e in finding.evidence)
    assert statuses(result) == {"resolve": "failed", "tcp": "skipped", "proxy": "skipped", "tls": "skipped",
                                "chain": "skipped", "app": "skipped"}


def test_pin_replaces_dns_for_the_target(listener):
    # www.lab.test cannot resolve (.test is reserved): only --pin can make this connect.
    result, _ = probe(f"www.lab.test:{listener.port}", pin="127.0.0.1")
    resolve = result.stage("resolve").detail
    assert resolve.pinned and resolve.chosen == "127.0.0.1" and resolve.name == "www.lab.test"
    assert result.ok
    assert listener.first_peer()[1] == result.socket.local_port


# --- tcp --------------------------------------------------------------------------------------

def test_closed_port_gives_tcp_refused(closed_port):
    result, _ = probe(closed_port.address)
    assert result.codes() == ["tcp-refused"]
    tcp = result.stage("tcp").detail
    assert tcp.errno_name == "ECONNREFUSED" and tcp.attempts and "ECONNREFUSED" in tcp.attempts[0]


def test_full_accept_queue_gives_tcp_timeout():
    # On loopback, a SYN to a listener whose accept queue is full is dropped: the connect times out.
    lis = socket.socket()
    lis.bind(("127.0.0.1", 0))
    lis.listen(0)
    port = lis.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.2)
        result, _ = probe(f"127.0.0.1:{port}", timeout=1)
    finally:
        for c in fillers:
            c.close()
        lis.close()
    assert result.codes() == ["tcp-timeout"]
    assert result.stage("tcp").detail.errno_name == "ETIMEDOUT"


@pytest.mark.parametrize("code", [errno.ENETUNREACH, errno.EHOSTUNREACH])
def test_unreachable_errno_is_classified(code):
    # No route can be missing on loopback without touching other addresses: classify a real OSError.
    exc = OSError(code, os.strerror(code))
    finding = network.tcp_failed("target", "192.0.2.1:443", exc, 5, ("192.0.2.1: failed",))
    assert finding.code == "tcp-unreachable"
    assert errno.errorcode[code] in finding.evidence[0].value


def test_ephemeral_port_is_what_the_server_saw(listener):
    result, events = probe(f"127.0.0.1:{listener.port}")
    assert result.ok
    sock = result.socket
    assert listener.first_peer() == (sock.local_address, sock.local_port)
    low, high = sock.ephemeral_range
    assert low <= sock.local_port <= high
    assert sock.tcp_info is not None and sock.tcp_info.snd_mss > 0
    updates = [e for e in events if isinstance(e, SocketUpdated)]
    assert updates and updates[0].socket.local_port == sock.local_port


def test_events_come_in_order(listener):
    _, events = probe(f"127.0.0.1:{listener.port}")
    kinds = [(type(e).__name__, getattr(e, "stage", None) or getattr(getattr(e, "record", None), "name", None))
             for e in events if not isinstance(e, SocketUpdated)]
    assert kinds[0] == ("PlanReady", None)
    assert [s.key for s in events[0].steps] == ["resolve", "tcp", "proxy", "tls", "chain", "app"]
    kinds = kinds[1:]
    assert kinds[:4] == [("StageStarted", "resolve"), ("StageFinished", "resolve"),
                         ("StageStarted", "tcp"), ("StageFinished", "tcp")]
    assert [k for k in kinds if k[0] == "StageSkipped"] == [("StageSkipped", n) for n in ("proxy", "tls", "chain", "app")]
    assert isinstance(events[-1], RunFinished)


# --- proxies ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, proxy_name", [
    ("socks5", "microsocks"), ("socks5h", "microsocks"), ("socks4", "dante"), ("socks5", "dante"),
    ("socks5h", "dante"), ("socks4", "pproxy_socks4"), ("socks4a", "pproxy_socks4"),
])
def test_socks_to_plain_http(request, plain_http, kind, proxy_name):
    proxy = request.getfixturevalue(proxy_name)
    result, _ = probe(f"localhost:{plain_http.port}", proxies=[f"{kind}://{proxy.address}"], send=HTTP_GET)
    detail = result.stage("proxy").detail
    assert result.stage("proxy").status == "ok", result.findings
    if kind in ("socks4a", "socks5h"):
        # The name goes to the proxy: tlsbench does not resolve it.
        assert detail.address_type == "domain name" and detail.requested == f"localhost:{plain_http.port}"
        assert b"localhost".hex(" ") in detail.sent_hex
        assert result.stage("resolve").detail.skipped_reason
    else:
        assert detail.address_type == "IPv4" and detail.requested == f"127.0.0.1:{plain_http.port}"
        assert b"localhost".hex(" ") not in detail.sent_hex
    assert detail.reply_code == (0x5A if kind.startswith("socks4") else 0)
    assert result.socket.via_proxy and result.socket.peer_port == proxy.port
    # The request went through the tunnel to the real server.
    assert HTTP_GET.encode() in plain_http.seen.first_bytes
    if (kind, proxy_name) != ("socks4a", "pproxy_socks4"):
        # (pproxy's SOCKS4a relay drops the answer of a server that closes at once; the request
        # arriving above is the proof for that pair.)
        assert result.stage("app").status == "ok"
        assert result.stage("app").detail.status_line == "HTTP/1.1 200 OK"
        assert result.ok


def test_pin_goes_to_the_proxy(microsocks, listener):
    result, _ = probe(f"www.lab.test:{listener.port}", pin="127.0.0.1", proxies=[f"socks5h://{microsocks.address}"])
    assert result.stage("resolve").detail.pinned
    detail = result.stage("proxy").detail
    assert detail.requested == f"127.0.0.1:{listener.port}" and detail.address_type == "IPv4"
    assert result.ok


def test_proxy_auth_ok(microsocks_auth, plain_http):
    user = f"{microsocks_auth.username}:{microsocks_auth.password}"
    result, _ = probe(plain_http.address, proxies=[f"socks5://{microsocks_auth.address}"], proxy_user=user)
    detail = result.stage("proxy").detail
    assert result.ok and detail.auth == "username/password" and detail.auth_method == "username/password"
    assert microsocks_auth.password.encode().hex(" ") not in detail.sent_hex  # never recorded


def test_proxy_auth_failed(microsocks_auth, plain_http):
    result, _ = probe(plain_http.address, proxies=[f"socks5://{microsocks_auth.address}"],
                      proxy_user=f"{microsocks_auth.username}:wrong")
    assert result.codes() == ["proxy-auth-failed"]
    assert "wrong".encode().hex() not in str(result.to_json_dict())


def test_proxy_auth_required(microsocks_auth, plain_http):
    result, _ = probe(plain_http.address, proxies=[f"socks5://{microsocks_auth.address}"])
    assert result.codes() == ["proxy-auth-required"]
    assert result.stage("proxy").detail.auth_method == "no acceptable methods"


@pytest.mark.parametrize("kind, proxy_name, reply", [("socks5", "microsocks", 5), ("socks5", "dante", 5),
                                                     ("socks4", "dante", 0x5B)])
def test_proxy_target_refused(request, closed_port, kind, proxy_name, reply):
    proxy = request.getfixturevalue(proxy_name)
    result, _ = probe(closed_port.address, proxies=[f"{kind}://{proxy.address}"])
    assert result.codes() == ["proxy-target-refused"]
    assert result.stage("proxy").detail.reply_code == reply
    if kind == "socks4":
        assert "ambiguous" in result.findings[0].explanation


@pytest.mark.parametrize("proxy_name", ["microsocks", "dante"])
def test_proxy_target_unreachable_for_unresolvable_name(request, proxy_name):
    proxy = request.getfixturevalue(proxy_name)
    result, _ = probe("no-such-host.invalid:80", proxies=[f"socks5h://{proxy.address}"])
    assert result.codes() == ["proxy-target-unreachable"]
    # microsocks answers 1 (general failure), danted 4 (host unreachable) for a name it cannot resolve.
    assert result.stage("proxy").detail.reply_code in (1, 4)
    assert result.stage("resolve").status == "ok"


def test_proxy_unreachable(closed_port, plain_http):
    result, _ = probe(plain_http.address, proxies=[f"socks5://{closed_port.address}"])
    assert result.codes() == ["proxy-unreachable"]
    assert result.stage("tcp").detail.role == "proxy"


def test_silent_proxy_gives_proxy_timeout(silent_server, plain_http):
    result, _ = probe(plain_http.address, proxies=[f"socks5://{silent_server.address}"], timeout=1)
    assert result.codes() == ["proxy-timeout"]
    assert result.stage("tcp").status == "ok" and result.stage("proxy").status == "failed"


def test_banner_port_as_proxy_gives_protocol_error(banner_server, plain_http):
    server = banner_server("smtp")
    result, _ = probe(plain_http.address, proxies=[f"socks5://{server.address}"])
    assert result.codes() == ["proxy-protocol-error"]
    received = next(e.value for e in result.findings[0].evidence if e.label == "bytes received")
    assert received.startswith(b"220".hex(" "))
    assert "banner" in result.findings[0].explanation


def test_socks4_to_a_socks5_only_proxy(microsocks, plain_http):
    result, _ = probe(plain_http.address, proxies=[f"socks4://{microsocks.address}"])
    assert result.codes() == ["proxy-protocol-error"]
    assert "SOCKS5" in result.findings[0].explanation


def test_socks4_password_is_reported_unused(dante, plain_http):
    result, _ = probe(plain_http.address, proxies=[f"socks4://{dante.address}"], proxy_user="someone:secret")
    assert result.ok
    assert result.codes() == ["proxy-password-ignored"]
    assert result.stage("proxy").detail.auth == "userid"


# --- runner -----------------------------------------------------------------------------------

def test_unexpected_exception_becomes_internal_error(monkeypatch, listener):
    import tlsbench.engine.stages.tcp as tcp

    def broken(self, ctx, state):
        raise RuntimeError("boom")

    monkeypatch.setattr(tcp.TcpStage, "run", broken)
    result, _ = probe(f"127.0.0.1:{listener.port}")
    assert result.codes() == ["internal-error"]
    assert "RuntimeError" in result.findings[0].title and "boom" in result.findings[0].explanation
    assert result.stage("tcp").status == "failed"


def test_cancel_interrupts_the_stage_in_flight(silent_server, plain_http):
    token = CancelToken()

    def on_event(event):
        if isinstance(event, StageStarted) and event.stage == "proxy":
            threading.Timer(0.2, token.cancel).start()

    spec = build_spec(plain_http.address, proxies=[f"socks5://{silent_server.address}"], tls=False, timeout=60)
    result = run_probe(spec, on_event=on_event, cancel=token)
    assert result.cancelled and not result.ok
    proxy = result.stage("proxy")
    assert proxy.status == "cancelled" and proxy.summary == "cancelled"
    assert result.codes() == []


@pytest.fixture
def ipv6_listener():
    try:
        lis = socket.socket(socket.AF_INET6)
        lis.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    lis.listen(8)

    def serve():
        while True:
            try:
                conn, _ = lis.accept()
            except OSError:
                return
            conn.sendall(b"hello over IPv6\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield lis.getsockname()[1]
    lis.close()


def test_ipv6_literal_direct(ipv6_listener):
    result, _ = probe(f"[::1]:{ipv6_listener}", send="hi\r\n")
    assert result.ok
    assert result.socket.family == "IPv6" and result.socket.peer_address == "::1"
    assert result.stage("app").detail.first_bytes_text.startswith("hello over IPv6")


@pytest.mark.parametrize("kind", ["socks5", "socks5h"])
def test_ipv6_target_through_socks5(microsocks, ipv6_listener, kind):
    result, _ = probe(f"[::1]:{ipv6_listener}", proxies=[f"{kind}://{microsocks.address}"], send="hi\r\n")
    detail = result.stage("proxy").detail
    assert detail.address_type == "IPv6" and detail.requested == f"[::1]:{ipv6_listener}"
    assert result.ok and result.stage("app").detail.first_bytes_text.startswith("hello over IPv6")

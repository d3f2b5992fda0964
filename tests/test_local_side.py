"""The client's own side: --local-port (and why a port is busy), --interface, -4/-6, and happy eyeballs.

A name with both an IPv6 and an IPv4 address on loopback comes from a hosts file bind-mounted
over /etc/hosts in a private mount namespace (`unshare -m`), for the probe's process only. An
IPv6 address that never answers is a listener on ::1 whose accept queue is full: the kernel
drops further SYNs, as a filtered network would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


class Server:
    """A listener that holds each connection until the client closes it (so the client closes first)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, family=socket.AF_INET) -> None:
        self.sock = socket.socket(family)
        if family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.peers: list[tuple] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    @staticmethod
    def _hold(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        conn.close()

    def close(self) -> None:
        self.sock.close()

    def peer(self, index: int = 0) -> tuple:
        """The index-th accepted peer; waits for the accept thread (bounded)."""
        for _ in range(250):
            if len(self.peers) > index:
                return self.peers[index]
            time.sleep(0.02)
        raise AssertionError("the server accepted no connection")


def wait_for_state(port: int, state: str) -> None:
    from tlsbench.engine.findings.network import port_holders

    for _ in range(250):
        if any(h.startswith(state) for h in port_holders(port)):
            return
        time.sleep(0.02)
    raise AssertionError(f"port {port} never reached {state}: {port_holders(port)}")


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_port_is_the_port_the_server_sees(server):
    port = free_port()
    result = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, local_port=str(port)))
    assert result.ok, result.findings
    assert result.socket.local_port == port
    assert server.peer()[1] == port
    assert result.stage("tcp").detail.local_bind == f"port {port}"


def test_a_range_skips_a_busy_port(server):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    low = busy.getsockname()[1]
    try:
        result = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, local_port=f"{low}-{low + 5}"))
    finally:
        busy.close()
    assert result.ok, result.findings
    assert low < result.socket.local_port <= low + 5


def test_a_port_in_time_wait_is_explained(server):
    port = free_port()
    first = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, local_port=str(port)))
    assert first.ok  # tlsbench closed first: its side of that connection now waits in TIME_WAIT
    wait_for_state(port, "TIME_WAIT")  # once the server has closed its side too
    second = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, local_port=str(port)))
    assert not second.ok and second.codes() == ["local-port-in-use"]
    finding = second.findings[0]
    assert finding.origin == "local" and finding.stage == "tcp"
    held = next(e.value for e in finding.evidence if e.label == "held by")
    assert f"TIME_WAIT to 127.0.0.1:{server.port}" in held
    assert "TIME_WAIT" in finding.explanation and "ephemeral" in finding.explanation
    assert second.stage("tcp").detail.errno_name == "EADDRINUSE"


def test_interface_by_address_and_by_name(server):
    by_address = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, interface="127.0.0.2"))
    assert by_address.ok and by_address.socket.local_address == "127.0.0.2"
    assert server.peer()[0] == "127.0.0.2"
    by_name = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, interface="lo"))
    assert by_name.ok and by_name.stage("tcp").detail.local_bind == "interface lo"


def test_an_address_this_host_does_not_have_is_a_local_bind_failure(server):
    result = run_probe(build_spec(f"127.0.0.1:{server.port}", tls=False, interface="192.0.2.77"))
    assert result.codes() == ["local-bind-failed"]
    assert "not one of this host's addresses" in result.findings[0].explanation


def test_bad_local_options_exit_2_with_one_line():
    for args, words in ((["--local-port", "70000"], "out of range"), (["--local-port", "9-3"], "ends below"),
                        (["--interface", "no-such-if0"], "neither an IP address nor"),
                        (["-4", "-6"], "cannot be used together"), (["-6", "--interface", "127.0.0.1"], "-6")):
        done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", "localhost:443", *args],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, lines)


# --- happy eyeballs ------------------------------------------------------------------------------

def _unshare() -> str:
    path = shutil.which("unshare")
    ok = path and subprocess.run([path, "-m", "true"], capture_output=True).returncode == 0
    if not ok:
        reason = "unshare -m is not available (needs root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def probe_with_hosts(tmp_path, hosts: str, *args: str) -> dict:
    """`tlsbench probe ARGS --json` with /etc/hosts replaced by `hosts`, in its own mount namespace."""
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(hosts)
    script = f'mount --bind "{hosts_file}" /etc/hosts && exec "$@"'
    done = subprocess.run([_unshare(), "-m", "sh", "-c", script, "sh", sys.executable, "-m", "tlsbench", "probe",
                           *args, "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


DUAL = "::1 dual.lab.test\n127.0.0.1 dual.lab.test\n"


def tcp_detail(result: dict) -> dict:
    return next(s for s in result["stages"] if s["name"] == "tcp")["detail"]


def silent(host: str, port: int) -> list[socket.socket]:
    """A listener on HOST:PORT that never accepts, its accept queue filled (Linux holds backlog + 1):
    further SYNs to it are dropped, as a filtering network drops them. Close the sockets after."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    full = socket.socket(family)
    if family == socket.AF_INET6:
        full.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    full.bind((host, port))
    full.listen(0)
    held = [full]
    for _ in range(4):
        sock = socket.socket(family)
        sock.setblocking(False)
        sock.connect_ex((host, port))
        held.append(sock)
    time.sleep(0.2)
    return held


def by_start(tcp: dict) -> list[dict]:
    return sorted(tcp["tries"], key=lambda t: t["started_ms"])


def test_a_refused_ipv6_address_hands_over_to_ipv4_at_once(tmp_path, server):
    result = probe_with_hosts(tmp_path, DUAL, f"dual.lab.test:{server.port}", "--no-tls")
    assert result["ok"], result["findings"]
    tcp = tcp_detail(result)
    assert tcp["happy_eyeballs"] is True
    v6, v4 = by_start(tcp)
    assert (v6["address"], v6["errno_name"], v6["won"]) == ("::1", "ECONNREFUSED", False)
    assert (v4["address"], v4["result"], v4["won"]) == ("127.0.0.1", "connected", True)
    # The refusal started IPv4 (RFC 8305: a failure starts the next address without its delay).
    assert v4["started_ms"] >= v6["started_ms"] + v6["duration_ms"]
    resolve = next(s for s in result["stages"] if s["name"] == "resolve")["detail"]
    assert resolve["addresses"] == ["::1", "127.0.0.1"]


def test_a_silent_ipv6_address_then_ipv4_wins_and_both_are_shown(tmp_path):
    v4 = Server("127.0.0.1")
    held = silent("::1", v4.port)
    try:
        result = probe_with_hosts(tmp_path, DUAL, f"dual.lab.test:{v4.port}", "--no-tls")
    finally:
        for sock in held:
            sock.close()
        v4.close()
    assert result["ok"], result["findings"]
    first, second = by_start(tcp_detail(result))
    assert (first["address"], first["family"], first["won"]) == ("::1", "IPv6", False)
    assert first["result"] == "abandoned: another address connected first"
    assert (second["address"], second["family"], second["result"], second["won"]) == (
        "127.0.0.1", "IPv4", "connected", True)
    assert result["socket"]["family"] == "IPv4"


def test_addresses_are_interleaved_by_family_and_each_silent_one_hands_over(tmp_path):
    # ::1 and 127.0.0.1 drop SYNs, 127.0.0.2 serves. RFC 8305 tries ::1, then 127.0.0.1 (the other
    # family), then 127.0.0.2 while both earlier attempts still wait: the third address wins.
    v4 = Server("127.0.0.2")
    held = silent("::1", v4.port) + silent("127.0.0.1", v4.port)
    hosts = "::1 dual.lab.test\n127.0.0.1 dual.lab.test\n127.0.0.2 dual.lab.test\n"
    try:
        result = probe_with_hosts(tmp_path, hosts, f"dual.lab.test:{v4.port}", "--no-tls")
    finally:
        for sock in held:
            sock.close()
        v4.close()
    assert result["ok"], result["findings"]
    resolve = next(s for s in result["stages"] if s["name"] == "resolve")["detail"]
    assert resolve["addresses"] == ["::1", "127.0.0.1", "127.0.0.2"]  # glibc's order for this hosts file
    tries = by_start(tcp_detail(result))
    assert [(t["address"], t["won"]) for t in tries] == [("::1", False), ("127.0.0.1", False), ("127.0.0.2", True)]
    assert [t["result"] for t in tries[:2]] == ["abandoned: another address connected first"] * 2
    assert result["socket"]["peer_address"] == "127.0.0.2"


def test_every_attempt_is_in_the_text_output_and_a_failure_names_each_address(tmp_path, closed_port):
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(DUAL)
    script = f'mount --bind "{hosts_file}" /etc/hosts && exec "$@"'
    probe = [_unshare(), "-m", "sh", "-c", script, "sh", sys.executable, "-m", "tlsbench", "probe",
             f"dual.lab.test:{closed_port.port}", "--no-tls"]
    result = json.loads(subprocess.run(probe + ["--json"], capture_output=True, text=True, timeout=60).stdout)
    assert not result["ok"]
    finding = next(f for f in result["findings"] if f["stage"] == "tcp")
    assert finding["code"] == "tcp-refused"
    assert "::1" in finding["title"] and "127.0.0.1" in finding["title"]
    tries = by_start(tcp_detail(result))
    assert [(t["address"], t["errno_name"], t["won"]) for t in tries] == [
        ("::1", "ECONNREFUSED", False), ("127.0.0.1", "ECONNREFUSED", False)]
    text = subprocess.run(probe, capture_output=True, text=True, timeout=60).stdout
    at = text.splitlines().index(next(line for line in text.splitlines() if line.startswith("tcp ")))
    first, second = text.splitlines()[at + 1:at + 3]
    assert first.split()[0] == "tried" and "IPv6 ::1: ECONNREFUSED" in first
    assert "IPv4 127.0.0.1: ECONNREFUSED" in second


@pytest.mark.parametrize("flag, family, address", [("-4", "IPv4", "127.0.0.1"), ("-6", "IPv6", "::1")])
def test_one_family_only(tmp_path, flag, family, address):
    v4, v6 = Server("127.0.0.1"), Server("::1", family=socket.AF_INET6)
    try:
        result = probe_with_hosts(tmp_path, f"::1 dual.lab.test\n127.0.0.1 dual.lab.test\n",
                                  f"dual.lab.test:{v4.port if flag == '-4' else v6.port}", "--no-tls", flag)
    finally:
        v4.close()
        v6.close()
    assert result["ok"], result["findings"]
    tcp = tcp_detail(result)
    assert [t["address"] for t in tcp["tries"]] == [address] and tcp["happy_eyeballs"] is False
    assert result["socket"]["family"] == family


def test_the_workbench_row_shows_each_attempt_and_the_winner():
    from tlsbench.engine.records.details import ConnectTry, TcpDetail
    from tlsbench.tui.stage_text import detail_text

    tries = (ConnectTry("::1", "IPv6", 10.0, 250.0, "abandoned: another address connected first"),
             ConnectTry("127.0.0.1", "IPv4", 260.0, 0.2, "connected", won=True))
    detail = TcpDetail("target", "127.0.0.1", 443, tries=tries, happy_eyeballs=True,
                       attempts=("::1: abandoned: another address connected first",
                                 "127.0.0.1: connected in 0.2 ms (won)"))
    rows = detail_text(detail).plain.splitlines()
    tried = [row for row in rows if "::1" in row or "127.0.0.1: connected" in row]
    assert tried[0].split()[:3] == ["tried", "+0.0", "ms"] and "IPv6 ::1: abandoned" in tried[0]
    assert "+250.0 ms IPv4 127.0.0.1: connected in 0.2 ms (won)" in tried[1]

"""Hostile clients against one TLS listener, all at once: each ends with the right event and finding
within its deadline, and the listener serves ordinary clients (Python ssl, curl) while they run.

The listener runs with short deadlines (idle 1 s, handshake 2 s, total 4 s). Every behaviour runs in
its own thread and returns the local port it used; its client on the listener's side is found by
that port (the `accepted` event's `peer_port`).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import pytest

from test_listener_support import (EventLog, one_byte_records, python_hello, require, run, running_listener,
                                   tls_echo_client)

IDLE, HANDSHAKE, TOTAL = 1.0, 2.0, 4.0
HELLO = python_hello("localhost")


@dataclass
class Outcome:
    port: int = 0
    client_id: int | None = None
    events: dict[str, list[dict]] = field(default_factory=dict)
    error: str | None = None
    note: object = None  # whatever the behaviour returns beside its port

    def one(self, kind: str) -> dict:
        got = self.events.get(kind, [])
        assert len(got) == 1, (kind, self.events)
        return got[0]

    def findings(self) -> dict[str, dict]:
        return {f["code"]: f for f in self.events.get("finding", [])}


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def reset(sock: socket.socket) -> None:
    """Close with a RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except OSError:
        pass
    return got


def send_and_wait(data: bytes):
    def behave(port: int, ctx) -> int:
        with connect(port) as sock:
            try:
                sock.sendall(data)
            except OSError:
                pass
            local = sock.getsockname()[1]
            ctx["answer"] = read_until_closed(sock)
            return local
    return behave


def slowloris(port: int, ctx) -> int:
    """The ClientHello one byte every 0.15 s: never idle, never done."""
    with connect(port) as sock:
        local = sock.getsockname()[1]
        for byte in HELLO:
            try:
                sock.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.15)
            if ctx["stop"].is_set():
                break
        return local


def half_hello_then_silence(port: int, ctx) -> int:
    with connect(port) as sock:
        sock.sendall(HELLO[:60])  # cut before the server_name extension
        read_until_closed(sock)
        return sock.getsockname()[1]


def half_hello_then_fin(port: int, ctx) -> int:
    with connect(port) as sock:
        sock.sendall(HELLO[:200])
        sock.shutdown(socket.SHUT_WR)
        read_until_closed(sock)
        return sock.getsockname()[1]


def hello_then_rst(port: int, ctx) -> int:
    sock = connect(port)
    local = sock.getsockname()[1]
    sock.sendall(HELLO)
    sock.recv(5)  # the listener answered (ServerHello): the hello was read
    reset(sock)
    return local


def never_reads_the_flight(port: int, ctx) -> int:
    with connect(port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(HELLO)
        ctx["stop"].wait(IDLE + 1.5)  # holds the connection past the idle deadline; reads nothing
        return sock.getsockname()[1]


def silent(port: int, ctx) -> int:
    with connect(port) as sock:
        read_until_closed(sock)
        return sock.getsockname()[1]


def sslv2_hello() -> bytes:
    specs = bytes.fromhex("010080 0700c0 030080 060040 020080")
    challenge = bytes(range(16))
    msg = b"\x01\x03\x01" + struct.pack("!HHH", len(specs), 0, len(challenge)) + specs + challenge
    return bytes([0x80 | (len(msg) >> 8), len(msg) & 0xFF]) + msg


def padded_hello_sni_late() -> bytes:
    """A ClientHello with 17,000 bytes of padding before its server_name: two records."""
    def ext(kind: int, value: bytes) -> bytes:
        return struct.pack("!HH", kind, len(value)) + value

    name = b"late.example"
    sni = ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    exts = ext(21, b"\x00" * 17000) + sni + ext(43, b"\x02\x03\x04")
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    records = b""
    for i in range(0, len(message), 16384):
        part = message[i:i + 16384]
        records += b"\x16\x03\x01" + struct.pack("!H", len(part)) + part
    return records


def echo_flood_never_reading(port: int, ctx) -> int:
    """A real TLS client that writes and writes and never reads the echo."""
    import ssl

    tls_ctx = ssl.create_default_context(cafile=ctx["cafile"])
    with connect(port) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        local = raw.getsockname()[1]
        with tls_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.settimeout(IDLE + 6)
            try:
                for _ in range(4000):
                    tls.sendall(b"x" * 16384)
            except OSError:
                pass
        return local


def trickle_after_handshake(port: int, ctx) -> int:
    """Handshake, then one byte every 0.3 s forever: only the total deadline ends it."""
    import ssl

    tls_ctx = ssl.create_default_context(cafile=ctx["cafile"])
    with connect(port) as raw:
        local = raw.getsockname()[1]
        with tls_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            try:
                while not ctx["stop"].is_set():
                    tls.sendall(b".")
                    tls.recv(10)
                    time.sleep(0.3)
            except OSError:
                pass
        return local


_RNG = random.Random(7)
GARBAGE = bytes([0x9c]) + bytes(_RNG.randrange(0, 256) for _ in range(300))
BEHAVIOURS = {
    "slowloris": slowloris,
    "half-hello-silence": half_hello_then_silence,
    "half-hello-fin": half_hello_then_fin,
    "hello-then-rst": hello_then_rst,
    "never-reads-flight": never_reads_the_flight,
    "silent": silent,
    "giant-record": send_and_wait(b"\x16\x03\x01\xff\xff" + b"\x01" * 100),
    "zero-length-record": send_and_wait(b"\x16\x03\x01\x00\x00" + HELLO[5:]),
    "hello-too-long": send_and_wait(b"\x16\x03\x01\x00\x05\x01\xff\xff\xff\xff"),
    "server-hello": send_and_wait(b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03"),
    "sslv2-hello": send_and_wait(sslv2_hello()),
    "application-data-record": send_and_wait(b"\x17\x03\x03\x00\x20" + b"\xaa" * 32),
    "alert-first": send_and_wait(b"\x15\x03\x03\x00\x02\x02\x28"),
    "plain-http": send_and_wait(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "http2-preface": send_and_wait(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
    "garbage": send_and_wait(GARBAGE),
    "nul-flood": send_and_wait(b"\x00" * 1_000_000),
    "ssh-client": send_and_wait(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
    "escape-sequences": send_and_wait(b"hello \x1b]0;owned\x07 this is \x1b[31mred\x1b[0m text from a stranger\n"),
    "sni-after-16k-padding": send_and_wait(padded_hello_sni_late()),
    "echo-flood-never-reads": echo_flood_never_reading,
    "trickle-after-handshake": trickle_after_handshake,
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """Every behaviour at once against one listener, with ordinary clients served meanwhile."""
    import os

    os.environ["TLSBENCH_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    with running_listener(tls=True, client_timeout=IDLE, handshake_timeout=HANDSHAKE, total_timeout=TOTAL,
                          read_cap=10_000_000, backlog=64) as (listener, log):
        ctx = {"stop": threading.Event(), "cafile": listener.cert_path}
        outcomes = {name: Outcome() for name in BEHAVIOURS}

        def run_one(name):
            try:
                outcomes[name].port = BEHAVIOURS[name](listener.port, {**ctx, "note": outcomes[name]})
            except Exception as exc:  # noqa: BLE001 - reported by the test of that behaviour
                outcomes[name].error = f"{type(exc).__name__}: {exc}"

        threads = [threading.Thread(target=run_one, args=(name,), daemon=True) for name in BEHAVIOURS]
        for t in threads:
            t.start()
        # Ordinary clients, while the hostile ones hold their connections.
        ordinary = []
        for i in range(10):
            _port, echoed = tls_echo_client(listener.port, listener.cert_path, payload=b"ordinary %d" % i)
            ordinary.append(echoed)
        # The echo listener sends curl's request back (HTTP/0.9 to curl) and ends it at the idle deadline.
        curl = run([require("curl"), "-sS", "--http0.9", "--max-time", "10", "--cacert", listener.cert_path,
                    "-d", "hello", f"https://localhost:{listener.port}/"])
        deadline = time.monotonic() + TOTAL + 10
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        ctx["stop"].set()
        for t in threads:
            t.join(5)
        _collect(log, outcomes)
        yield {"outcomes": outcomes, "ordinary": ordinary, "curl": curl, "listener": listener, "log": log}
        ctx["stop"].set()


def _collect(log: EventLog, outcomes: dict[str, Outcome]) -> None:
    by_port = {}
    for accepted in log.dicts("accepted"):
        by_port[accepted["peer_port"]] = accepted["client_id"]
    for name, outcome in outcomes.items():
        outcome.client_id = by_port.get(outcome.port)
        if outcome.client_id is None:
            continue
        log.wait_event("closed", client_id=outcome.client_id, timeout=TOTAL + 10)
        for event in log.dicts(client_id=outcome.client_id):
            outcome.events.setdefault(event["event"], []).append(event)


def check(hostile_run, name: str) -> Outcome:
    outcome = hostile_run["outcomes"][name]
    assert outcome.client_id is not None, (name, outcome.error, outcome.port)
    assert "closed" in outcome.events, outcome.events
    return outcome


def test_ordinary_clients_are_served_meanwhile(hostile_run):
    assert hostile_run["ordinary"] == [b"ordinary %d" % i for i in range(10)]
    curl = hostile_run["curl"]
    assert curl.returncode == 0, curl.stderr
    assert curl.stdout.startswith(b"POST / HTTP/1.1\r\n") and curl.stdout.endswith(b"\r\n\r\nhello")
    assert hostile_run["listener"].running
    assert not hostile_run["log"].dicts("error")  # no client's behaviour became a listener error


def test_the_catalogue_has_at_least_fifteen_behaviours():
    assert len(BEHAVIOURS) + 1 >= 15  # + test_twenty_thousand_connections_opened_and_dropped


def test_slowloris_ends_at_the_handshake_deadline_cut_short(hostile_run):
    o = check(hostile_run, "slowloris")
    closed = o.one("closed")
    assert closed["deadline"] == "handshake" and "handshake deadline" in closed["reason"]
    finding = o.findings()["client-hello-cut-short"]
    received = closed["bytes_received"]
    assert 9 <= received < len(HELLO)  # at 0.15 s a byte, past the record and handshake headers
    # the words are the counts: bytes of the message that arrived, of what its header declares
    assert finding["title"] == f"The ClientHello was cut short: {received - 5} of {len(HELLO) - 5} bytes arrived"
    assert "no-sni-from-client" not in o.findings()


def test_half_hello_then_silence_is_cut_short_not_no_sni(hostile_run):
    o = check(hostile_run, "half-hello-silence")
    closed = o.one("closed")
    assert closed["deadline"] == "idle"
    hello = o.one("client-hello")
    assert hello["complete"] is False and hello["sni"] is None and hello["length"] < hello["declared_length"]
    # cut inside the session id: neither the cipher list nor the versions were reached, and nothing says otherwise
    assert hello["versions"] == [] and hello["ciphers_reached"] is False
    from tlsbench.commands.serve import describe_hello
    from tlsbench.engine.listener.events import ClientHelloSeen

    line = describe_hello(next(e for e in hostile_run["log"].events
                               if isinstance(e, ClientHelloSeen) and e.client_id == o.client_id))
    assert line == ("ClientHello: SNI (not reached), ALPN (not reached), versions (not reached), "
                    f"cipher suites (not reached) (cut short: 55 of {len(HELLO) - 5} bytes)")
    finding = o.findings()["client-hello-cut-short"]
    assert hello["declared_length"] == len(HELLO) - 5 and hello["length"] == 55
    assert finding["title"] == f"The ClientHello was cut short: 55 of {len(HELLO) - 5} bytes arrived"
    assert {"label": "ended by", "value": "the client went silent for 1 s (idle deadline)"} in finding["evidence"]
    assert "no-sni-from-client" not in o.findings()


def test_half_hello_then_fin(hostile_run):
    o = check(hostile_run, "half-hello-fin")
    closed = o.one("closed")
    assert closed["client_close"] == "eof" and closed["deadline"] is None
    finding = o.findings()["client-hello-cut-short"]
    assert {"label": "ended by", "value": "the client closed its side (FIN)"} in finding["evidence"]
    assert finding["title"] == f"The ClientHello was cut short: 195 of {len(HELLO) - 5} bytes arrived"
    assert set(o.findings()) == {"client-hello-cut-short"}


def test_hello_then_reset(hostile_run):
    o = check(hostile_run, "hello-then-rst")
    assert o.one("client-hello")["sni"] == "localhost"
    hs = o.one("handshake")
    assert hs["ok"] is False and "reset" in hs["failure"]
    finding = o.findings()["client-aborted-handshake"]
    assert finding["title"] == "The client reset the connection during the handshake"
    assert {"label": "ended by", "value": "a reset (RST)"} in finding["evidence"]
    assert o.one("closed")["client_close"] == "reset"


def test_a_client_that_never_reads_the_servers_flight(hostile_run):
    o = check(hostile_run, "never-reads-flight")
    closed = o.one("closed")
    assert closed["deadline"] == "idle"
    hs = o.one("handshake")
    assert hs["ok"] is False and hs["failure"].startswith("idle deadline")
    finding = o.findings()["client-timeout"]
    state = dict((e["label"], e["value"]) for e in finding["evidence"])["state"]
    assert state.startswith("the ClientHello arrived whole; the listener answered with")
    assert closed["bytes_sent"] > 0


def test_silent_client_ends_at_the_idle_deadline(hostile_run):
    o = check(hostile_run, "silent")
    closed = o.one("closed")
    assert closed["deadline"] == "idle" and "sent nothing for 1 s" in closed["reason"]
    assert o.findings()["client-timeout"]["title"] == "The client sent nothing for 1 s (idle deadline)"


@pytest.mark.parametrize("name, words", [
    ("giant-record", "a record header declaring 65,535 bytes; TLS allows at most 16,384"),
    ("zero-length-record", "a zero-length handshake record"),
    ("hello-too-long", "a ClientHello declaring 16,777,215 bytes; the format allows at most 131,396"),
    ("server-hello", "a ServerHello message where a ClientHello was expected"),
])
def test_malformed_handshakes_are_named_from_their_bytes(hostile_run, name, words):
    o = check(hostile_run, name)
    finding = o.findings()["client-hello-malformed"]
    assert words in finding["title"]
    assert o.one("handshake")["ok"] is False
    assert "no-sni-from-client" not in o.findings()
    if name in ("giant-record", "zero-length-record", "server-hello"):
        assert "client-hello" not in o.events  # bytes of a broken record, or another message, are no ClientHello


@pytest.mark.parametrize("name, words", [
    ("sslv2-hello", "an SSLv2-format ClientHello"),
    ("application-data-record", "a TLS application_data record (32 bytes, version TLS 1.2)"),
    ("alert-first", "a TLS alert record: handshake_failure (40, fatal)"),
    ("garbage", "binary data that is not a TLS record"),
    ("nul-flood", "of zeros (NUL)"),
    ("ssh-client", "an SSH client's banner (SSH-2.0-OpenSSH_9.2p1 Debian-2)"),
    ("escape-sequences", "plain text"),
])
def test_what_is_not_tls_is_named_from_its_bytes(hostile_run, name, words):
    o = check(hostile_run, name)
    finding = o.findings()["not-tls-from-client"]
    assert words in finding["title"]
    assert o.one("data")["length"] > 0
    assert o.one("handshake")["ok"] is False


def test_text_with_escape_sequences_is_kept_exact_and_shown_escaped(hostile_run):
    from tlsbench.commands.serve import describe
    from tlsbench.engine.listener.events import ClientFinding

    o = check(hostile_run, "escape-sequences")
    event = next(e for e in hostile_run["log"].events
                 if isinstance(e, ClientFinding) and e.client_id == o.client_id)
    assert "\x1b]0;owned\x07" in event.finding.title  # exact in the event (and the JSON)
    line = describe(event)
    assert "\x1b" not in line and "\x07" not in line and "\\e]0;owned\\x07" in line


def test_plain_http_gets_a_400(hostile_run):
    o = check(hostile_run, "plain-http")
    assert o.findings()["http-on-tls-port"]["title"] == "A plain HTTP GET request arrived on the TLS port"
    assert "handshake" not in o.events


def test_http2_preface_is_named(hostile_run):
    o = check(hostile_run, "http2-preface")
    finding = o.findings()["http-on-tls-port"]
    assert "HTTP/2" in finding["title"]
    assert finding["evidence"][0] == {"label": "request line", "value": "PRI * HTTP/2.0"}


def test_sni_after_16k_of_padding_is_found(hostile_run):
    o = check(hostile_run, "sni-after-16k-padding")
    hello = o.one("client-hello")
    assert hello["sni"] == "late.example" and hello["records"] == 2 and hello["complete"] is True
    assert hello["length"] > 16384 and "padding" in hello["extensions"]
    assert "no-sni-from-client" not in o.findings()


def test_a_client_that_floods_and_never_reads_ends_at_the_write_deadline(hostile_run):
    o = check(hostile_run, "echo-flood-never-reads")
    assert o.one("handshake")["ok"] is True
    closed = o.one("closed")
    assert closed["deadline"] == "write", closed


def test_a_trickling_client_ends_at_the_total_deadline(hostile_run):
    o = check(hostile_run, "trickle-after-handshake")
    closed = o.one("closed")
    assert closed["deadline"] == "total" and "total deadline" in closed["reason"]


def test_every_hostile_client_is_closed_once(hostile_run):
    for name, outcome in hostile_run["outcomes"].items():
        check(hostile_run, name)
        assert len(outcome.events["closed"]) == 1, name
        assert len(outcome.events["accepted"]) == 1, name


# -- valid, if unusual, hellos: reassembled and served -------------------------------------------

def test_hello_in_one_byte_records_is_reassembled_and_served():
    with running_listener(tls=True) as (listener, log):
        port, echoed = tls_echo_client(listener.port, listener.cert_path, pieces=one_byte_records)
        assert echoed == b"ping"
        hello = log.wait_event("client-hello")
        assert hello["sni"] == "localhost" and hello["complete"] is True
        assert hello["records"] == len(HELLO) - 5
        assert log.wait_event("handshake")["ok"] is True
        assert not log.dicts("finding")


def test_hello_sent_one_byte_at_a_time_is_reassembled():
    with running_listener(tls=True) as (listener, log):
        _port, echoed = tls_echo_client(listener.port, listener.cert_path, gap=0.002,
                                        pieces=lambda hello: [hello[i:i + 1] for i in range(len(hello))])
        assert echoed == b"ping"
        assert log.wait_event("client-hello")["sni"] == "localhost"
        assert not log.dicts("finding")


def test_a_40k_hello_over_three_records_is_served():
    alpn = [f"proto-{i:03d}-" + "x" * 190 for i in range(200)]
    with running_listener(tls=True) as (listener, log):
        _port, echoed = tls_echo_client(listener.port, listener.cert_path, alpn=alpn)
        assert echoed == b"ping"
        hello = log.wait_event("client-hello")
        assert hello["records"] >= 3 and hello["length"] > 40000
        assert hello["sni"] == "localhost" and len(hello["alpn"]) == 200 and hello["complete"] is True
        assert log.wait_event("handshake")["ok"] is True


def test_twenty_thousand_connections_opened_and_dropped(tmp_path, monkeypatch):
    """Opened and reset at once (no TIME_WAIT left behind); the listener accounts for each and serves on."""
    from tlsbench.engine.listener.config import ListenerConfig
    from tlsbench.engine.listener.server import Listener

    monkeypatch.setenv("TLSBENCH_DATA_DIR", str(tmp_path))
    count = 20_000
    tally: dict[str, int] = {}
    closes: dict[str | None, int] = {}
    done = threading.Event()

    def on_event(event):  # a tally, not a log: 40,000 events
        kind = event.to_dict()["event"] if not hasattr(event, "client_close") else "closed"
        tally[kind] = tally.get(kind, 0) + 1
        if kind == "closed":
            closes[event.client_close] = closes.get(event.client_close, 0) + 1
            if tally["closed"] >= count + 5:
                done.set()

    listener = Listener(ListenerConfig(tls=True, backlog=4096, client_timeout=5), on_event=on_event)
    listener.start()
    try:
        served = []

        def ordinary():
            for i in range(5):
                served.append(tls_echo_client(listener.port, listener.cert_path, payload=b"%d" % i)[1])

        helper = threading.Thread(target=ordinary, daemon=True)
        helper.start()
        opened = 0
        for _ in range(count // 500):
            batch = []
            for _ in range(500):
                s = socket.socket()
                s.connect(("127.0.0.1", listener.port))
                batch.append(s)
            opened += len(batch)
            for s in batch:
                reset(s)
        helper.join(30)
        assert opened == count
        assert done.wait(60), (tally, closes)
        assert tally["accepted"] == count + 5
        assert closes.get("reset", 0) + closes.get("eof", 0) >= count  # each dropped one seen as dropped
        assert served == [b"%d" % i for i in range(5)]
        assert listener.active_clients == 0
        _port, echoed = tls_echo_client(listener.port, listener.cert_path, payload=b"after")
        assert echoed == b"after"
    finally:
        listener.stop()

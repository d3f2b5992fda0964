"""The pcapng writer without a network: its blocks parse back (tests/pcapng_reader.py, written from the
format), every frame's checksums hold, sequence numbers follow the bytes in both directions, chunks
over 65,495 bytes are split, and the same-length masking keeps every length while removing the
credential in each form redaction knows."""

from __future__ import annotations

import base64
import os
import socket
import stat
import struct

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pcapng_reader as reader
from tlsbench.engine.capture.frames import MAX_SEGMENT
from tlsbench.engine.capture.pcapng import pcapng_bytes
from tlsbench.engine.capture.taps import PEER_CLOSED, RECEIVED, SENT, Capture, Connection, Endpoint
from tlsbench.engine.records.redact import Redactor

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "100")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _capture(chunks: list[tuple[bool, bytes]], *, v6: bool = False, udp: bool = False,
             redactor: Redactor | None = None, limit: int = 1 << 30) -> Capture:
    capture = Capture(limit=limit, redactor=redactor)
    family = socket.AF_INET6 if v6 else socket.AF_INET
    local = Endpoint("::1" if v6 else "127.0.0.1", 40000)
    remote = Endpoint("::1" if v6 else "127.0.0.2", 443)
    capture.connections.append(Connection(0, family, udp, local, remote, 1_000_000_000, 50_000))
    for n, (outbound, data) in enumerate(chunks):
        capture.add(0, SENT if outbound else RECEIVED, data)
        capture.chunks[-1] = capture.chunks[-1]._replace(at_ns=1_000_000_000 + n * 1000)
    return capture


def _streams(data: bytes, udp: bool = False) -> tuple[bytes, bytes, list[reader.Segment]]:
    """What each direction carried, rebuilt from the frames by sequence number (checked to be gap-free)."""
    segments = [reader.segment(p.data) for p in reader.packets(data)]
    assert all(s.checksums_ok for s in segments)
    if udp:
        return (b"".join(s.payload for s in segments if s.sport == 40000),
                b"".join(s.payload for s in segments if s.sport != 40000), segments)
    out = {}
    for port in (40000, 443):
        mine = [s for s in segments if s.sport == port]
        theirs = [s for s in segments if s.sport != port]
        base = mine[0].seq + 1  # after the SYN
        stream = bytearray()
        for s in mine:
            if s.payload:
                assert s.seq == (base + len(stream)) & 0xFFFFFFFF
                stream += s.payload
                assert len(s.payload) <= MAX_SEGMENT
        # The other side acknowledges exactly what was sent, never more.
        acked = max((t.ack - base) & 0xFFFFFFFF for t in theirs if t.flags & 0x10)
        assert acked in (len(stream), len(stream) + 1)  # +1 once the FIN is acknowledged
        out[port] = bytes(stream)
    return out[40000], out[443], segments


chunk_lists = st.lists(st.tuples(st.booleans(), st.binary(min_size=1, max_size=300)), max_size=12)


@SETTINGS
@given(chunk_lists, st.booleans(), st.booleans())
def test_blocks_parse_back_and_the_streams_are_whole(chunks, v6, udp):
    data = pcapng_bytes(_capture(chunks, v6=v6, udp=udp).finished())
    kinds = [b.kind for b in reader.blocks(data)]
    assert kinds[:2] == [0x0A0D0D0A, 1] and set(kinds[2:]) <= {6}
    assert struct.unpack_from("<I", reader.blocks(data)[0].body)[0] == 0x1A2B3C4D
    sent, received, _ = _streams(data, udp)
    assert sent == b"".join(d for out, d in chunks if out)
    assert received == b"".join(d for out, d in chunks if not out)
    times = [p.at_ns for p in reader.packets(data)]
    assert times == sorted(times)


def test_a_chunk_over_the_largest_segment_is_split():
    big = bytes(range(256)) * 600  # 153,600 bytes
    data = pcapng_bytes(_capture([(True, big), (False, big[:70000])]).finished())
    sent, received, segments = _streams(data)
    assert (sent, received) == (big, big[:70000])
    assert max(len(s.payload) for s in segments) == MAX_SEGMENT


def test_the_handshake_and_the_close_are_there():
    capture = _capture([(True, b"hello"), (False, b"world")])
    capture.add(0, PEER_CLOSED, b"")
    segments = [reader.segment(p.data) for p in reader.packets(pcapng_bytes(capture.finished()))]
    flags = [(s.sport, s.flags) for s in segments]
    assert flags[:3] == [(40000, 0x02), (443, 0x12), (40000, 0x10)]
    assert (443, 0x11) in flags and (40000, 0x11) in flags  # both FINs


def test_past_the_limit_frames_keep_their_headers_only():
    data = pcapng_bytes(_capture([(True, b"a" * 100), (False, b"b" * 100), (True, b"c" * 50)], limit=150).finished())
    cut = [p for p in reader.packets(data) if p.length > len(p.data)]
    assert [p.length - len(p.data) for p in cut] == [100, 50]
    assert b"tlsbench: 150 bytes past the capture's limit" in reader.blocks(data)[0].body


def test_secrets_come_before_the_first_packet():
    capture = _capture([(True, b"x")])

    class Keys:
        lines, carries_secret = [b"CLIENT_RANDOM 00 11"], False

    capture.sessions.append(Keys())  # type: ignore[arg-type]
    data = pcapng_bytes(capture.finished())
    assert [b.kind for b in reader.blocks(data)][2] == 0x0A
    assert reader.secrets(data) == b"CLIENT_RANDOM 00 11\n"
    Keys.carries_secret = True
    left_out = pcapng_bytes(capture.finished())
    assert reader.secrets(left_out) == b"" and b"left out" in reader.blocks(left_out)[0].body


users = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters=":"), max_size=20)
passwords = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=4, max_size=40)


@SETTINGS
@given(users, passwords, st.binary(max_size=200), st.binary(max_size=200), st.sampled_from(["raw", "basic", "socks"]))
def test_masking_in_place_keeps_lengths_and_removes_the_secret(user, password, before, after, form):
    raw = password.encode()
    name = user.encode()
    sent = {"raw": raw, "basic": b"Basic " + base64.b64encode(name + b":" + raw),
            "socks": b"\x01" + bytes([len(name) & 0xFF]) + name + bytes([len(raw) & 0xFF]) + raw}[form]
    data = before + sent + after
    assume(raw not in base64.b64encode(name + b":" + b"*" * len(raw)))  # a mask that spells the password
    redactor = Redactor.of_credentials([(user, password)])
    masked = redactor.mask_in_place(data)
    assert len(masked) == len(data)
    assert sent not in masked or sent in before + after
    assert not redactor.found_in(masked)
    if form == "basic":
        token = base64.b64encode(name + b":" + b"*" * len(raw))
        assert token in masked  # the user stays readable, the password is stars


@SETTINGS
@given(users, passwords, st.integers(min_value=1, max_value=60))
def test_a_credential_split_between_writes_is_masked_and_the_stream_holds(user, password, cut):
    token = b"Proxy-Authorization: Basic " + base64.b64encode(user.encode() + b":" + password.encode()) + b"\r\n"
    masked_token = base64.b64encode(user.encode() + b":" + b"*" * len(password.encode()))
    assume(password.encode() not in b"Proxy-Authorization: Basic \r\n" + masked_token)
    cut = min(cut, len(token) - 1)
    capture = _capture([(True, token[:cut]), (True, token[cut:]), (False, b"HTTP/1.1 200 OK\r\n\r\n")],
                       redactor=Redactor.of_credentials([(user, password)]))
    sent, _, _ = _streams(pcapng_bytes(capture.finished()))
    assert len(sent) == len(token) and password.encode() not in sent and token not in sent
    assert sent.startswith(b"Proxy-Authorization: Basic ")


def test_a_link_is_tapped_only_inside_a_capture_and_datagrams_are_udp_frames(tmp_path):
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.capture.taps import capturing
    from tlsbench.engine.stream import DatagramSocket, Link

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(server.getsockname())
    assert Link(client, CancelToken()).tap is None  # nothing captures: nothing recorded, nothing to pay
    capture = Capture()
    with capturing(capture):
        datagrams = DatagramSocket(Link(client, CancelToken()))
    datagrams.link.set_timeout(5)
    datagrams.send(b"ping")
    data, peer = server.recvfrom(100)
    server.sendto(b"pong!", peer)
    assert datagrams.recv() == b"pong!"
    client.close()
    server.close()
    segments = [reader.segment(p.data) for p in reader.packets(pcapng_bytes(capture.finished()))]
    assert [(s.proto, s.payload, s.checksums_ok) for s in segments] == [(17, b"ping", True), (17, b"pong!", True)]
    assert segments[0].sport == peer[1] and segments[0].dport == segments[1].sport


def test_the_private_key_log_without_memfd_is_a_0600_file_in_a_0700_folder_removed_at_once(monkeypatch):
    from tlsbench.engine.capture.keylog import PrivateKeyLog

    monkeypatch.delattr(os, "memfd_create", raising=False)
    log = PrivateKeyLog()
    folder = os.path.dirname(log.path)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700 and stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    with open(log.path, "a") as fh:  # as OpenSSL appends
        fh.write("CLIENT_RANDOM aa bb\n")
    assert log.read() == b"CLIENT_RANDOM aa bb\n"
    log.remove()
    assert not os.path.exists(folder)


def test_the_private_key_log_has_no_name_in_any_directory():
    from tlsbench.engine.capture.keylog import PrivateKeyLog

    log = PrivateKeyLog()
    try:
        assert log.path.startswith("/proc/self/fd/")  # an anonymous memory file on Linux
        assert os.readlink(log.path).startswith("/memfd:")
    finally:
        log.remove()
    assert log.read() == b""  # closed: nothing left to read


def test_a_pasted_probe_line_says_pcap_is_not_carried_over():
    from tlsbench.engine.paste import parse_pasted

    assert "--pcap: an output or run option" in " ".join(parse_pasted("tlsbench probe h:443 --pcap x").dropped)

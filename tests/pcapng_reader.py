"""A small pcapng reader for the tests, written from the format's description (not from the writer):
blocks with their lengths checked, and the packets' Ethernet/IP/TCP-or-UDP headers taken apart with
their checksums verified."""

from __future__ import annotations

import struct
from typing import NamedTuple


class Block(NamedTuple):
    kind: int
    body: bytes


class Packet(NamedTuple):
    at_ns: int
    data: bytes
    length: int
    flags: int | None


class Segment(NamedTuple):
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes
    checksums_ok: bool


def blocks(data: bytes) -> list[Block]:
    out, at = [], 0
    while at < len(data):
        kind, total = struct.unpack_from("<II", data, at)
        assert total % 4 == 0 and total >= 12 and at + total <= len(data), (at, total)
        assert struct.unpack_from("<I", data, at + total - 4)[0] == total
        out.append(Block(kind, data[at + 8:at + total - 4]))
        at += total
    return out


def options(raw: bytes) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    at = 0
    while at + 4 <= len(raw):
        code, length = struct.unpack_from("<HH", raw, at)
        if code == 0:
            break
        out.setdefault(code, []).append(raw[at + 4:at + 4 + length])
        at += 4 + length + (-length % 4)
    return out


def packets(data: bytes) -> list[Packet]:
    out = []
    for block in blocks(data):
        if block.kind == 6:
            _, high, low, captured, length = struct.unpack_from("<IIIII", block.body)
            frame = block.body[20:20 + captured]
            flags = options(block.body[20 + captured + (-captured % 4):]).get(2)
            out.append(Packet(high << 32 | low, frame, length, struct.unpack("<I", flags[0])[0] if flags else None))
    return out


def secrets(data: bytes) -> bytes:
    found = b""
    for block in blocks(data):
        if block.kind == 0x0A:
            kind, length = struct.unpack_from("<II", block.body)
            assert kind == 0x544C534B
            found += block.body[8:8 + length]
    return found


def _sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def segment(frame: bytes) -> Segment:
    ether = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if ether == 0x0800:
        total, proto = struct.unpack_from("!H", ip, 2)[0], ip[9]
        ok = _sum(ip[:20]) == 0xFFFF
        src, dst, body = ip[12:16], ip[16:20], ip[20:total]
        pseudo = src + dst + struct.pack("!xBH", proto, len(body))
    else:
        assert ether == 0x86DD
        length, proto = struct.unpack_from("!HB", ip, 4)
        ok, src, dst, body = True, ip[8:24], ip[24:40], ip[40:40 + length]
        pseudo = src + dst + struct.pack("!IxxxB", len(body), proto)
    ok = ok and _sum(pseudo + body) == 0xFFFF
    if proto == 6:
        sport, dport, seq, ack, offset, flags = struct.unpack_from("!HHIIBB", body)
        return Segment(src, dst, proto, sport, dport, seq, ack, flags, body[(offset >> 4) * 4:], ok)
    sport, dport = struct.unpack_from("!HH", body)
    return Segment(src, dst, proto, sport, dport, 0, 0, 0, body[8:], ok)

"""Ethernet frames synthesised from a connection's chunks: what a capture on the wire would have held.

TCP gets what a stack would have sent around the bytes: the three-way handshake (MSS and window
scale offered) ending when the connection was taken over, data segments of at most MAX_SEGMENT
bytes with sequence and acknowledgement numbers that hold in both directions, a pure ACK from the
receiver after every second segment and at the end of each chunk, the peer's FIN or RST where the
run saw it, and the run's own FIN at its last exchange. UDP gets one frame per datagram. IP and
TCP/UDP checksums are computed; a chunk kept only as its length (past the capture's limit) gets its
headers, a checksum of 0 and a captured length shorter than the original (as a snap length does).
"""

from __future__ import annotations

import array
import ipaddress
import random
import socket
import struct
import sys
from typing import NamedTuple

from tlsbench.engine.capture.taps import PEER_CLOSED, PEER_RESET, RECEIVED, SENT, Chunk, Connection

MAX_SEGMENT = 65495  # 65,535 (IPv4's total length) less 20 bytes of IP and 20 of TCP
WINDOW, WINDOW_SCALE = 65535, 7  # about 8 MB: never full, whatever the chunks
OUR_MAC, PEER_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")  # locally administered
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Frame(NamedTuple):
    at_ns: int
    outbound: bool  # sent by the run (pcapng's epb_flags direction)
    data: bytes  # what is captured
    length: int  # the frame's whole length (more than len(data) past the capture's limit)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071), summed in native order and swapped once at the end."""
    if len(data) % 2:
        data += b"\0"
    total = sum(array.array("H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    total = ~total & 0xFFFF
    return ((total & 0xFF) << 8 | total >> 8) if sys.byteorder == "little" else total


class _Ends:
    """The two ends' link and network headers, and the transport checksum's pseudo-header."""

    def __init__(self, conn: Connection) -> None:
        self.v6 = conn.family == socket.AF_INET6
        self.proto = 17 if conn.udp else 6
        self.local = ipaddress.ip_address(conn.local.address.split("%")[0]).packed
        self.remote = ipaddress.ip_address(conn.remote.address.split("%")[0]).packed
        self.ports = (conn.local.port, conn.remote.port)
        self.ip_id = random.getrandbits(16)

    def frame(self, outbound: bool, transport: bytes, payload_length: int, at_ns: int, payload: bytes | None
              ) -> Frame:
        """`transport` is the TCP/UDP header with its checksum zero; `payload` None: kept as a length only."""
        src, dst = (self.local, self.remote) if outbound else (self.remote, self.local)
        length = len(transport) + payload_length
        body = transport + (payload or b"")
        if payload is not None:
            pseudo = (src + dst + struct.pack("!IxxxB", length, self.proto) if self.v6
                      else src + dst + struct.pack("!xBH", self.proto, length))
            value = checksum(pseudo + body)
            if self.proto == 17 and value == 0:
                value = 0xFFFF  # UDP's "no checksum" is 0: a computed 0 is sent as all ones
            at = 6 if self.proto == 17 else 16
            body = body[:at] + struct.pack("!H", value) + body[at + 2:]
        if self.v6:
            ip = struct.pack("!IHBB", 0x60000000, length, self.proto, 64) + src + dst
            ether = 0x86DD
        else:
            self.ip_id = (self.ip_id + 1) & 0xFFFF
            head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + length, self.ip_id, 0x4000, 64, self.proto, 0) + src + dst
            ip = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
            ether = 0x0800
        macs = (PEER_MAC + OUR_MAC) if outbound else (OUR_MAC + PEER_MAC)
        data = macs + struct.pack("!H", ether) + ip + body
        return Frame(at_ns, outbound, data, len(data) + (payload_length if payload is None else 0))


class TcpFlow:
    """One TCP connection's frames, event by event."""

    def __init__(self, conn: Connection) -> None:
        self.ends = _Ends(conn)
        self.ours = random.getrandbits(32)  # next sequence number each side sends
        self.theirs = random.getrandbits(32)
        self.last_ns = conn.opened_ns
        self.closed_by_us = self.closed_by_peer = self.reset = False

    def _segment(self, outbound: bool, flags: int, at_ns: int, payload: bytes | None = b"", length: int = 0,
                 options: bytes = b"") -> Frame:
        """`payload` None: `length` bytes were there but are not kept."""
        sport, dport = self.ends.ports if outbound else self.ends.ports[::-1]
        seq, ack = (self.ours, self.theirs) if outbound else (self.theirs, self.ours)
        header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack if flags & ACK else 0,
                             (20 + len(options)) // 4 << 4, flags, WINDOW, 0, 0) + options
        if payload is not None:
            length = len(payload)
        advance = length + (1 if flags & (SYN | FIN) else 0)
        if outbound:
            self.ours = (self.ours + advance) & 0xFFFFFFFF
        else:
            self.theirs = (self.theirs + advance) & 0xFFFFFFFF
        return self.ends.frame(outbound, header, length, at_ns, payload)

    def opened(self, conn: Connection) -> list[Frame]:
        options = struct.pack("!BBHBBBB", 2, 4, MAX_SEGMENT, 1, 3, 3, WINDOW_SCALE)
        at = conn.opened_ns
        syn = self._segment(True, SYN, at - conn.rtt_ns, options=options)
        synack = self._segment(False, SYN | ACK, at, options=options)
        return [syn, synack, self._segment(True, ACK, at)]

    def chunk(self, chunk: Chunk) -> list[Frame]:
        if self.reset:
            return []
        at = chunk.at_ns
        self.last_ns = max(self.last_ns, at)
        if chunk.what == PEER_RESET:
            self.reset = True
            return [self._segment(False, RST | ACK, at)]
        if chunk.what == PEER_CLOSED:
            if self.closed_by_peer:
                return []
            self.closed_by_peer = True
            return [self._segment(False, FIN | ACK, at), self._segment(True, ACK, at)]
        outbound = chunk.what == SENT
        total = chunk.data if isinstance(chunk.data, int) else len(chunk.data)
        out = []
        for n, start in enumerate(range(0, total, MAX_SEGMENT)):
            end = min(start + MAX_SEGMENT, total)
            payload = None if isinstance(chunk.data, int) else chunk.data[start:end]
            out.append(self._segment(outbound, PSH | ACK if end == total else ACK, at, payload, end - start))
            if n % 2 == 1 or end == total:
                out.append(self._segment(not outbound, ACK, at))
        return out

    def close(self) -> list[Frame]:
        """The run's own close, at the connection's last exchange (after the peer's FIN, if it came)."""
        if self.reset or self.closed_by_us:
            return []
        self.closed_by_us = True
        at = self.last_ns
        out = [self._segment(True, FIN | ACK, at)]
        out.append(self._segment(False, ACK, at))
        return out


class UdpFlow:
    """One connected UDP socket's datagrams."""

    def __init__(self, conn: Connection) -> None:
        self.ends = _Ends(conn)

    def chunk(self, chunk: Chunk) -> list[Frame]:
        if chunk.what not in (SENT, RECEIVED):
            return []
        outbound = chunk.what == SENT
        sport, dport = self.ends.ports if outbound else self.ends.ports[::-1]
        total = chunk.data if isinstance(chunk.data, int) else len(chunk.data)
        header = struct.pack("!HHHH", sport, dport, (8 + total) & 0xFFFF, 0)
        payload = None if isinstance(chunk.data, int) else chunk.data
        return [self.ends.frame(outbound, header, total, chunk.at_ns, payload)]

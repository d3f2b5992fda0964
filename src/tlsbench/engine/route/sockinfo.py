"""What the OS knows about a connected socket: addresses, TCP_INFO and the ephemeral range.

TCP_INFO is Linux-only; elsewhere the snapshot is simply absent. `struct tcp_info` starts with
eight u8 fields followed by u32 fields (times in microseconds); see tcp(7) and linux/tcp.h.
"""

from __future__ import annotations

import socket
import struct
import time

from tlsbench.engine.records.result import SocketInfo, TcpInfo

_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
# 8 x u8, then u32: rto ato snd_mss rcv_mss unacked sacked lost retrans fackets
# last_data_sent last_ack_sent last_data_recv last_ack_recv pmtu rcv_ssthresh rtt rttvar
# snd_ssthresh snd_cwnd advmss reordering rcv_rtt rcv_space total_retrans
_TCP_INFO = struct.Struct("=8B24I")
_TCP_INFO_OPT = getattr(socket, "TCP_INFO", None)


def family_name(family: int) -> str:
    names: dict[int, str] = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6", socket.AF_UNIX: "Unix (a program's pipe)"}
    return names.get(family, str(family))


_RANGE_READ: list = [None, -1.0]  # the range last read from _RANGE_FILE, and when (time.monotonic())


def ephemeral_range(path: str = _RANGE_FILE) -> tuple[int, int] | None:
    """The OS range for ephemeral (client) ports, or None when it cannot be read. The system's file is
    read at most once a second: a series of runs asks for it every run, and it changes only by sysctl."""
    if path == _RANGE_FILE:
        now = time.monotonic()
        if now - _RANGE_READ[1] >= 1.0:
            _RANGE_READ[:] = [_read_range(path), now]
        return _RANGE_READ[0]
    return _read_range(path)


def _read_range(path: str) -> tuple[int, int] | None:
    try:
        with open(path, encoding="ascii") as fh:
            low, high = fh.read().split()[:2]
        return int(low), int(high)
    except (OSError, ValueError):
        return None


def parse_tcp_info(raw: bytes) -> TcpInfo | None:
    if len(raw) < _TCP_INFO.size:
        return None
    f = _TCP_INFO.unpack_from(raw)
    u8, u32 = f[:8], f[8:]
    return TcpInfo(
        state=u8[0],
        retransmits=u8[2],
        rto_ms=u32[0] / 1000.0,
        snd_mss=u32[2],
        rcv_mss=u32[3],
        lost=u32[6],
        rtt_ms=u32[15] / 1000.0,
        rttvar_ms=u32[16] / 1000.0,
        total_retrans=u32[23],
    )


def tcp_info(sock: socket.socket) -> TcpInfo | None:
    """A TCP_INFO snapshot, or None when the OS (or the socket's state) offers none."""
    if _TCP_INFO_OPT is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO_OPT, _TCP_INFO.size)
    except (OSError, ValueError):
        return None
    return parse_tcp_info(raw)


def snapshot(sock: socket.socket, *, via_proxy: bool, previous: SocketInfo | None = None) -> SocketInfo:
    """Addresses and TCP_INFO of a connected socket; falls back on `previous` for what is gone."""
    prev = previous or SocketInfo()
    try:
        local = sock.getsockname()
    except (OSError, ValueError):
        local = None
    try:
        peer = sock.getpeername()
    except (OSError, ValueError):
        peer = None
    family: str | None
    try:
        family = family_name(sock.family)
    except (OSError, ValueError):
        family = prev.family
    return SocketInfo(
        local_address=local[0] if local else prev.local_address,
        local_port=local[1] if local else prev.local_port,
        peer_address=peer[0] if peer else prev.peer_address,
        peer_port=peer[1] if peer else prev.peer_port,
        family=family,
        via_proxy=via_proxy,
        ephemeral_range=prev.ephemeral_range or ephemeral_range(),
        tcp_info=tcp_info(sock) or prev.tcp_info,
    )

"""The kernel's view of a listening socket: accept-queue length and effective backlog.

On Linux, `TCP_INFO` on a *listening* socket reports the current accept-queue length in
`tcpi_unacked` and the backlog the kernel applies in `tcpi_sacked` (what `ss -ltn` shows
as Recv-Q and Send-Q). The backlog asked for in listen() is capped by net.core.somaxconn.
"""

from __future__ import annotations

import socket
import struct

SOMAXCONN_PATH = "/proc/sys/net/core/somaxconn"
# struct tcp_info: 8 one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked, ...
_UNACKED_OFFSET = 8 + 4 * 4
_TCP_INFO_LEN = 104


def somaxconn(path: str = SOMAXCONN_PATH) -> int | None:
    """net.core.somaxconn, or None where it cannot be read (not Linux)."""
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def queue_state(sock: socket.socket) -> tuple[int, int] | None:
    """(accept-queue length, effective backlog) for a listening socket, or None if unknown."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO_LEN)
    except OSError:
        return None
    if len(raw) < _UNACKED_OFFSET + 8:
        return None
    unacked, sacked = struct.unpack_from("=II", raw, _UNACKED_OFFSET)
    return unacked, sacked

"""A run's capture as a pcapng file (the IETF pcapng draft): what Wireshark and tshark open decrypted.

The file is one section: a Section Header Block (the writing program, and a comment for what was
left out), one Interface Description Block (LINKTYPE_ETHERNET, nanosecond timestamps), a Decryption
Secrets Block (type 0x0000000A, secrets type 'TLSK': NSS key log lines) before the first packet, so
no key log option is needed, and one Enhanced Packet Block per synthesised frame (frames.py), in
time order, each marked inbound or outbound.

Credentials of the run were overwritten in place when the capture finished (masking.py), so the TCP
stream keeps its lengths and sequence numbers. The TLS secrets are kept on
purpose: they are what makes the file readable; a session whose plaintext carried a credential
(inside TLS to an HTTPS proxy) has its secrets left out, and the comment says so.
"""

from __future__ import annotations

import struct
from typing import Iterable

from tlsbench.engine.capture.frames import Frame, TcpFlow, UdpFlow
from tlsbench.engine.capture.taps import Captured

SHB, IDB, EPB, DSB = 0x0A0D0D0A, 0x00000001, 0x00000006, 0x0000000A
BYTE_ORDER_MAGIC = 0x1A2B3C4D
LINKTYPE_ETHERNET = 1
SECRETS_TLS_KEY_LOG = 0x544C534B  # "TLSK"
OPT_END, OPT_COMMENT = 0, 1
SHB_USERAPPL, IF_NAME, IF_TSRESOL, EPB_FLAGS = 4, 2, 9, 2
INBOUND, OUTBOUND = 1, 2  # epb_flags' direction bits


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: Iterable[tuple[int, bytes]]) -> bytes:
    body = b"".join(struct.pack("<HH", code, len(value)) + _pad(value) for code, value in options)
    return body + struct.pack("<HH", OPT_END, 0) if body else b""


def block(kind: int, body: bytes) -> bytes:
    """One block: type, total length, the body padded to 32 bits, the total length again."""
    body = _pad(body)
    total = 12 + len(body)
    return struct.pack("<II", kind, total) + body + struct.pack("<I", total)


def section_header(comments: Iterable[str] = ()) -> bytes:
    from tlsbench import __version__

    options = [(SHB_USERAPPL, f"tlsbench {__version__}".encode())]
    options += [(OPT_COMMENT, text.encode("utf-8")) for text in comments]
    return block(SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(options))


def interface() -> bytes:
    options = [(IF_NAME, b"tlsbench"), (IF_TSRESOL, bytes([9]))]  # timestamps in nanoseconds
    return block(IDB, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 0) + _options(options))


def decryption_secrets(lines: Iterable[bytes]) -> bytes:
    data = b"".join(line + b"\n" for line in lines)
    return block(DSB, struct.pack("<II", SECRETS_TLS_KEY_LOG, len(data)) + _pad(data))


def packet(frame: Frame) -> bytes:
    flags = struct.pack("<I", OUTBOUND if frame.outbound else INBOUND)
    head = struct.pack("<IIIII", 0, frame.at_ns >> 32, frame.at_ns & 0xFFFFFFFF, len(frame.data), frame.length)
    return block(EPB, head + _pad(frame.data) + _options([(EPB_FLAGS, flags)]))


def frames(capture: Captured) -> list[Frame]:
    """Every frame of every connection, in time order."""
    flows: dict[int, TcpFlow | UdpFlow] = {}
    out: list[Frame] = []
    for conn in capture.connections:
        if conn.udp:
            flows[conn.number] = UdpFlow(conn)
        else:
            tcp = flows[conn.number] = TcpFlow(conn)
            out += tcp.opened(conn)
    for chunk in capture.chunks:
        out += flows[chunk.connection].chunk(chunk)
    for flow in flows.values():
        if isinstance(flow, TcpFlow):
            out += flow.close()
    out.sort(key=lambda frame: frame.at_ns)  # stable: a connection's own frames keep their order
    return out


def notes(capture: Captured) -> list[str]:
    """What the file leaves out, in words (the section's comments)."""
    out = []
    if capture.withheld:
        out.append(f"tlsbench: the TLS secrets of {capture.withheld} session(s) are left out: their plaintext "
                   "carried a proxy credential")
    if capture.unreadable:
        out.append(f"tlsbench: the TLS secrets of {capture.unreadable} session(s) could not be read (no private "
                   "key log could be made)")
    if capture.cut:
        out.append(f"tlsbench: {capture.cut} bytes past the capture's limit of {capture.limit} are not kept "
                   "(their frames have headers only)")
    return out


def pcapng_bytes(capture: Captured) -> bytes:
    """The whole file."""
    parts = [section_header(notes(capture)), interface()]
    if capture.key_lines:
        parts.append(decryption_secrets(capture.key_lines))
    parts += [packet(frame) for frame in frames(capture)]
    return b"".join(parts)

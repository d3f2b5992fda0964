"""UDP peers for the QUIC tests, for what no real server on loopback does on demand: one that answers
every Initial with a Version Negotiation packet (versions the client does not speak), and one that
holds the UDP port and never answers."""

from __future__ import annotations

import socket
import threading

# A reserved version (RFC 9000 15: 0x?a?a?a?a) and draft-29: none of them aioquic's QUICv1 or QUICv2
OFFERED = (0x1A2A3A4A, 0xFF00001D)


def version_negotiation(datagram: bytes, versions: tuple[int, ...] = OFFERED) -> bytes | None:
    """The Version Negotiation packet answering a long-header datagram (its connection IDs swapped)."""
    if len(datagram) < 7 or not datagram[0] & 0x80:
        return None
    at = 5
    dcid = datagram[at + 1:at + 1 + datagram[at]]
    at += 1 + datagram[at]
    scid = datagram[at + 1:at + 1 + datagram[at]]
    return (bytes([0x80 | 0x2A]) + b"\x00\x00\x00\x00" + bytes([len(scid)]) + scid + bytes([len(dcid)]) + dcid
            + b"".join(v.to_bytes(4, "big") for v in versions))


def junk_initial(datagram: bytes) -> bytes:
    """A long-header QUICv1 packet no key opens: a client drops it, having heard something."""
    return bytes([0xC0]) + (1).to_bytes(4, "big") + b"\x00\x00" + b"\x00" * 40


class UdpPeer:
    """A UDP socket on loopback: `negotiate=True` answers with Version Negotiation, `junk=True` with packets
    no key opens, else it stays silent."""

    def __init__(self, negotiate: bool, junk: bool = False) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.host, self.port = self.sock.getsockname()
        self.received = 0
        self.negotiate = negotiate
        self.junk = junk
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received += 1
            answer = version_negotiation(data) if self.negotiate else junk_initial(data) if self.junk else None
            if answer is not None:
                self.sock.sendto(answer, peer)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()

    def __enter__(self) -> "UdpPeer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

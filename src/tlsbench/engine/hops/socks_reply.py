"""A SOCKS proxy's answer read from its bytes, with no I/O: how far it got, what it said, what was wrong.

`read_socks5(rx, offered)` and `read_socks4(rx)` walk the bytes a proxy sent the way a SOCKS client
reads them (method selection, the RFC 1929 username/password answer, the reply with its bound
address) and return a `SocksReading`. The hop judges a failure from that reading, so a finding's
words (a reply code, a method, an address type, "cut short after 5 of 10 bytes") are the bytes the
proxy sent, never a value assumed.
"""

from __future__ import annotations

import ipaddress
from typing import Any, NamedTuple

SOCKS5_ADDRESS_TYPES = {1: "IPv4", 3: "domain name", 4: "IPv6"}
SOCKS4_CODES = (0x5A, 0x5B, 0x5C, 0x5D)
MESSAGES = {"method": "method selection", "auth": "answer to the username/password check",
            "reply": "reply to the CONNECT request"}


class SocksReading(NamedTuple):
    version: int  # 4 | 5: the protocol the bytes were read as
    step: str  # the message read last or in progress: "method" | "auth" | "reply"
    done: bool  # the answer is whole: a success with its bound address, or a refusal that ends it
    have: int  # bytes of that message received
    need: int | None  # bytes it needs, when known
    method: int | None = None  # SOCKS5: the method the proxy chose
    auth_status: int | None = None  # SOCKS5: RFC 1929 status (0 = success)
    reply: int | None = None  # SOCKS5 REP / SOCKS4 CD
    address_type: int | None = None  # SOCKS5 ATYP of the reply
    bound: tuple[str, int] | None = None  # BND.ADDR (a domain name as latin-1 text), BND.PORT
    not_socks: bool = False  # the first byte says this is not that SOCKS version at all
    problem: str | None = None  # a rule of the protocol the answer breaks, in words from its bytes
    used: int = 0  # bytes the exchange took; what follows belongs to the tunnel

    @property
    def succeeded(self) -> bool:
        granted = 0x00 if self.version == 5 else 0x5A
        return self.done and self.problem is None and not self.not_socks and self.reply == granted

    @property
    def message(self) -> str:
        return MESSAGES.get(self.step, self.step)


def methods_offered(greeting: bytes) -> bytes:
    """The methods a SOCKS5 greeting (05 N M1..MN) offers."""
    if len(greeting) < 2 or greeting[0] != 5:
        return b""
    return greeting[2:2 + greeting[1]]


def read_socks5(rx: bytes, offered: bytes = b"\x00") -> SocksReading:
    """Read a SOCKS5 proxy's bytes: method selection, the username/password answer, the reply."""
    if not rx or rx[0] != 5:
        return SocksReading(5, "method", False, min(len(rx), 2), 2, not_socks=bool(rx))
    if len(rx) < 2:
        return SocksReading(5, "method", False, 1, 2)
    method = rx[1]
    if method == 0xFF or method not in offered or method not in (0x00, 0x02):
        # No acceptable method, or one tlsbench did not offer: the exchange ends here.
        return SocksReading(5, "method", True, 2, 2, method=method, used=2)
    off = 2
    auth_status = None
    if method == 0x02:
        got = rx[2:4]
        if got[:1] and got[0] != 1:
            return SocksReading(5, "auth", True, len(got), 2, method=method, used=2 + len(got), problem=(
                f"it answered the username/password check with version byte 0x{got[0]:02x}; RFC 1929 "
                "answers start with 0x01"))
        if len(got) < 2:
            return SocksReading(5, "auth", False, len(got), 2, method=method)
        auth_status = got[1]
        if auth_status != 0:
            return SocksReading(5, "auth", True, 2, 2, method=method, auth_status=auth_status, used=4)
        off = 4
    reply = rx[off:]
    base: dict[str, Any] = dict(method=method, auth_status=auth_status)  # keyword fields of SocksReading
    if reply[:1] and reply[0] != 5:
        return SocksReading(5, "reply", True, min(len(reply), 4), None, **base, used=off + min(len(reply), 4),
                            reply=reply[1] if len(reply) > 1 else None, problem=(
                                f"its reply to the CONNECT request starts with version byte 0x{reply[0]:02x}, "
                                "not 0x05"))
    if len(reply) < 4:
        return SocksReading(5, "reply", False, len(reply), None, **base, reply=reply[1] if len(reply) > 1 else None)
    code, atyp = reply[1], reply[3]
    base.update(reply=code, address_type=atyp)
    if atyp == 1:
        size = 4
    elif atyp == 4:
        size = 16
    elif atyp == 3:
        if len(reply) < 5:
            return SocksReading(5, "reply", False, len(reply), None, **base)
        size = 1 + reply[4]
    elif code == 0:
        return SocksReading(5, "reply", True, len(reply), None, **base, used=off + 4, problem=(
            f"its success reply gives the bound address with address type 0x{atyp:02x}, which SOCKS5 does not "
            "have (0x01 IPv4, 0x03 domain name, 0x04 IPv6), so the reply's length cannot be known"))
    else:
        # A refusal with an address type that does not exist: the code has been said.
        return SocksReading(5, "reply", True, 4, None, **base, used=off + 4)
    need = 4 + size + 2
    if len(reply) < need:
        return SocksReading(5, "reply", False, len(reply), need, **base)
    raw = reply[4:4 + size]
    if atyp == 1:
        host = str(ipaddress.IPv4Address(raw))
    elif atyp == 4:
        host = str(ipaddress.IPv6Address(raw))
    else:
        host = raw[1:].decode("latin-1")
    port = int.from_bytes(reply[4 + size:need], "big")
    return SocksReading(5, "reply", True, need, need, **base, bound=(host, port), used=off + need)


def read_socks4(rx: bytes) -> SocksReading:
    """Read a SOCKS4 proxy's 8-byte reply: VN (0), CD, DSTPORT, DSTIP."""
    if not rx:
        return SocksReading(4, "reply", False, 0, 8)
    if rx[0] != 0:
        if rx[0] == 4 and len(rx) >= 2 and rx[1] in SOCKS4_CODES:
            # Some servers echo the request's version; the SOCKS4 protocol says 0.
            return SocksReading(4, "reply", True, min(len(rx), 8), 8, reply=rx[1], used=min(len(rx), 8),
                                problem="its reply starts with version byte 0x04; SOCKS4 replies start with 0x00")
        return SocksReading(4, "reply", False, min(len(rx), 8), 8, not_socks=True)
    if len(rx) < 2:
        return SocksReading(4, "reply", False, 1, 8)
    code = rx[1]
    if len(rx) < 8:
        return SocksReading(4, "reply", False, len(rx), 8, reply=code)
    bound = (str(ipaddress.IPv4Address(rx[4:8])), int.from_bytes(rx[2:4], "big"))
    return SocksReading(4, "reply", True, 8, 8, reply=code, bound=bound, used=8)

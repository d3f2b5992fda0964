"""A PROXY protocol v1 header (haproxy's, as curl --haproxy-protocol sends it) at the start of a
connection: the client and server addresses a balancer in front says it saw.

    PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\\r\\n

`read(data)` gives the header and how many bytes it took, None when the bytes are not one (the
connection is judged as usual), or PARTIAL while a header may still be arriving. No I/O; the
addresses are checked, so what a listener shows from it is an address and a port, never text.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

PARTIAL = "partial"
MAX_V1 = 107  # the longest v1 line, CR LF included (the protocol's own limit)
_SIGNATURE = b"PROXY "


class ProxyHeader(NamedTuple):
    family: str  # "TCP4" | "TCP6" | "UNKNOWN" (the sender would not say)
    source: tuple[str, int] | None  # the client the sender names
    destination: tuple[str, int] | None


def read(data: bytes) -> tuple[ProxyHeader, int] | str | None:
    head = data[:len(_SIGNATURE)]
    if not _SIGNATURE.startswith(head):
        return None
    end = data.find(b"\r\n", 0, MAX_V1)
    if end < 0:
        return PARTIAL if len(data) < MAX_V1 and b"\n" not in data else None
    words = data[len(_SIGNATURE):end].split(b" ")
    if words[:1] == [b"UNKNOWN"]:
        return ProxyHeader("UNKNOWN", None, None), end + 2
    if len(words) != 5 or words[0] not in (b"TCP4", b"TCP6"):
        return None
    version = 4 if words[0] == b"TCP4" else 6
    try:
        addresses = [ipaddress.ip_address(w.decode("ascii")) for w in words[1:3]]
        ports = [_port(w) for w in words[3:5]]
    except (ValueError, UnicodeDecodeError):
        return None
    if any(a.version != version for a in addresses):
        return None
    return ProxyHeader(words[0].decode("ascii"), (str(addresses[0]), ports[0]),
                       (str(addresses[1]), ports[1])), end + 2


def _port(word: bytes) -> int:
    if not word.isdigit() or (len(word) > 1 and word.startswith(b"0")) or not 0 <= int(word) <= 65535:
        raise ValueError(word)
    return int(word)

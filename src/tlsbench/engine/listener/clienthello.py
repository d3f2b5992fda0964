"""Parse a raw TLS ClientHello (RFC 8446 section 4.1.2, RFC 5246 section 7.4.1.2) from the first bytes.

Pure data in, data out: no I/O and no exceptions on hostile input. A truncated hello still
yields whatever fields were complete, with `complete=False`.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORD_HANDSHAKE = 0x16
HANDSHAKE_CLIENT_HELLO = 0x01
EXT_SERVER_NAME, EXT_ALPN, EXT_SUPPORTED_VERSIONS = 0, 16, 43
MAX_RECORD = 16384 + 2048  # a record body larger than this is not TLS

VERSION_NAMES = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}


@dataclass(frozen=True)
class ClientHello:
    legacy_version: str
    versions: tuple[str, ...]  # supported_versions offered, or the legacy version when absent
    cipher_count: int
    sni: str | None
    alpn: tuple[str, ...]
    extensions: tuple[int, ...]
    complete: bool


def version_name(value: int) -> str:
    return VERSION_NAMES.get(value, "0x%04x" % value)


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ... 0xfafa."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def handshake_bytes(data: bytes) -> tuple[bytes, bool]:
    """Concatenate the bodies of leading handshake records; True when the first message is whole."""
    out = bytearray()
    pos = 0
    while pos + 5 <= len(data) and data[pos] == RECORD_HANDSHAKE and data[pos + 1] == 3:
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        if length == 0 or length > MAX_RECORD:
            break
        out += data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if len(out) >= 4 and len(out) >= 4 + int.from_bytes(out[1:4], "big"):
            return bytes(out), True
    return bytes(out), False


def hello_complete(data: bytes) -> bool:
    """True when `data` holds a whole first handshake message (so reading can stop)."""
    return handshake_bytes(data)[1]


class _Reader:
    """Bounds-checked cursor; every read returns None once the data runs out."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes | None:
        if n < 0 or self.pos + n > len(self.data):
            self.pos = len(self.data)
            return None
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self, n: int) -> int | None:
        chunk = self.take(n)
        return None if chunk is None else int.from_bytes(chunk, "big")

    def vector(self, len_bytes: int) -> bytes | None:
        n = self.int(len_bytes)
        return None if n is None else self.take(n)


def parse_client_hello(data: bytes) -> ClientHello | None:
    """The ClientHello in `data` (starting with a TLS record), or None if it is not one."""
    body, whole = handshake_bytes(data)
    if len(body) < 4 or body[0] != HANDSHAKE_CLIENT_HELLO:
        return None
    declared = int.from_bytes(body[1:4], "big")
    r = _Reader(body[4:4 + declared])
    legacy = r.int(2)
    if legacy is None:
        return None
    fields = {"sni": None, "alpn": (), "versions": (), "extensions": ()}
    ciphers = 0
    complete = False
    if r.take(32) is not None and r.vector(1) is not None:
        suites = r.vector(2)
        if suites is not None:
            ciphers = sum(1 for i in range(0, len(suites) - 1, 2)
                          if not is_grease(int.from_bytes(suites[i:i + 2], "big")))
            if r.vector(1) is not None:
                extensions = r.vector(2)
                if extensions is None:
                    complete = whole and r.pos == len(r.data)  # no extensions at all (old clients)
                else:
                    complete = whole and _extensions(extensions, fields)
    versions = fields["versions"] or (version_name(legacy),)
    return ClientHello(legacy_version=version_name(legacy), versions=versions, cipher_count=ciphers,
                       sni=fields["sni"], alpn=fields["alpn"], extensions=fields["extensions"],
                       complete=complete)


def _extensions(blob: bytes, fields: dict) -> bool:
    r = _Reader(blob)
    seen = []
    while r.pos < len(blob):
        kind = r.int(2)
        value = r.vector(2)
        if kind is None or value is None:
            fields["extensions"] = tuple(seen)
            return False
        seen.append(kind)
        if kind == EXT_SERVER_NAME:
            fields["sni"] = _server_name(value)
        elif kind == EXT_ALPN:
            fields["alpn"] = _alpn(value)
        elif kind == EXT_SUPPORTED_VERSIONS:
            fields["versions"] = _versions(value)
    fields["extensions"] = tuple(seen)
    return True


def _server_name(value: bytes) -> str | None:
    r = _Reader(value)
    names = r.vector(2)
    if names is None:
        return None
    r = _Reader(names)
    while r.pos < len(names):
        kind, name = r.int(1), r.vector(2)
        if kind is None or name is None:
            return None
        if kind == 0:  # host_name; kept as received, made visible on display
            return name.decode("latin-1")
    return None


def _alpn(value: bytes) -> tuple[str, ...]:
    r = _Reader(value)
    names = r.vector(2)
    if names is None:
        return ()
    out = []
    r = _Reader(names)
    while r.pos < len(names):
        name = r.vector(1)
        if name is None:
            break
        out.append(_utf8_or_latin1(name))  # ALPN names are bytes; UTF-8 is how tlsbench sends non-ASCII
    return tuple(out)


def _utf8_or_latin1(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _versions(value: bytes) -> tuple[str, ...]:
    r = _Reader(value)
    listed = r.vector(1)
    if listed is None:
        return ()
    values = (int.from_bytes(listed[i:i + 2], "big") for i in range(0, len(listed) - 1, 2))
    return tuple(version_name(v) for v in values if not is_grease(v))

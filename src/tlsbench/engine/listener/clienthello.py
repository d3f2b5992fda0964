"""Read a TLS ClientHello from a client's first bytes: reassemble it from its records, then parse it.

Sans-IO, data in, data out. `HelloReader.feed(bytes)` takes the bytes as they arrive (one at a
time is fine: the work grows with the bytes, not with the number of reads) and says whether the
hello is whole (`complete`), still arriving (`partial`), or whether the bytes broke the record
layer's rules (`malformed`, with `problem` in words). A hello may span many records and be as
large as the format allows (`MAX_HELLO_BODY`); nothing is judged before it is whole or the client
is gone. `parse_client_hello(data)` parses whatever arrived. Nothing here raises on any input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RECORD_HANDSHAKE = 0x16
HANDSHAKE_CLIENT_HELLO = 0x01
EXT_SERVER_NAME, EXT_ALPN, EXT_SUPPORTED_VERSIONS = 0, 16, 43
MAX_PLAINTEXT = 16384  # RFC 8446 5.1: a record carries at most 2^14 bytes of handshake data
# legacy_version 2 + random 32 + session_id 1+32 + cipher_suites 2+65534 + compression 1+255 +
# extensions 2+65535: the largest ClientHello body the format can express (OpenSSL's limit too).
MAX_HELLO_BODY = 131396
MAX_RECORD = MAX_PLAINTEXT  # kept for callers of the earlier name

VERSION_NAMES = {0x0002: "SSL 2.0", 0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1",
                 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
RECORD_TYPES = {0x14: "change_cipher_spec", 0x15: "alert", 0x16: "handshake", 0x17: "application_data",
                0x18: "heartbeat"}
HANDSHAKE_TYPES = {0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
                   8: "EncryptedExtensions", 11: "Certificate", 12: "ServerKeyExchange",
                   13: "CertificateRequest", 14: "ServerHelloDone", 15: "CertificateVerify",
                   16: "ClientKeyExchange", 20: "Finished"}
EXTENSION_NAMES = {0: "server_name", 1: "max_fragment_length", 5: "status_request", 10: "supported_groups",
                   11: "ec_point_formats", 13: "signature_algorithms", 14: "use_srtp", 15: "heartbeat",
                   16: "alpn", 18: "signed_certificate_timestamp", 21: "padding", 22: "encrypt_then_mac",
                   23: "extended_master_secret", 27: "compress_certificate", 28: "record_size_limit",
                   35: "session_ticket", 41: "pre_shared_key", 42: "early_data", 43: "supported_versions",
                   44: "cookie", 45: "psk_key_exchange_modes", 49: "post_handshake_auth",
                   50: "signature_algorithms_cert", 51: "key_share", 13172: "next_protocol_negotiation",
                   17513: "application_settings", 65037: "encrypted_client_hello", 65281: "renegotiation_info"}


@dataclass(frozen=True)
class ClientHello:
    legacy_version: str
    versions: tuple[str, ...]  # supported_versions offered, or the legacy version when absent
    cipher_count: int
    sni: str | None  # the host_name, as received (latin-1; shown through visible())
    alpn: tuple[str, ...]
    extensions: tuple[int, ...]
    complete: bool  # every byte its header declares arrived, and it parsed to its end
    length: int = 0  # bytes of the handshake message that arrived (its 4-byte header included)
    declared_length: int | None = None  # what its header says (4 + body), once the header arrived
    records: int = 0  # TLS records it came in
    problem: str | None = None  # the first field that did not parse, in words
    ciphers_reached: bool = True  # the cipher_suites list arrived whole (else cipher_count is partial)

    @property
    def arrived_whole(self) -> bool:
        return self.declared_length is not None and self.length >= self.declared_length

    @property
    def sni_extension(self) -> bool:
        return EXT_SERVER_NAME in self.extensions


def version_name(value: int) -> str:
    return VERSION_NAMES.get(value, "0x%04x" % value)


def extension_name(value: int) -> str:
    if is_grease(value):
        return "GREASE"
    return EXTENSION_NAMES.get(value, str(value))


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ... 0xfafa."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def size(n: int) -> str:
    return f"{n:,} byte" + ("" if n == 1 else "s")


class HelloReader:
    """Reassembles the first handshake message from records as bytes come in."""

    __slots__ = ("data", "body", "records", "status", "problem", "declared", "_pos", "_record_bad")

    def __init__(self) -> None:
        self.data = bytearray()  # every byte received, as received (for OpenSSL and as evidence)
        self.body = bytearray()  # handshake bytes taken from whole records
        self.records = 0  # whole records read
        self.status = "partial"  # partial | complete | malformed
        self.problem: str | None = None
        self.declared: int | None = None  # 4 + the handshake length, once that header arrived
        self._pos = 0  # where the next record header starts in data
        self._record_bad = False  # the record at _pos broke the rules: its content means nothing

    def feed(self, chunk: bytes) -> str:
        self.data += chunk
        if self.status == "partial":
            self._advance()
        return self.status

    def _bad(self, problem: str, record: bool = True) -> None:
        self.status, self.problem = "malformed", problem
        self._record_bad = record

    def _advance(self) -> None:
        data = self.data
        while self.status == "partial":
            pos, avail = self._pos, len(self.data) - self._pos
            if avail >= 1 and data[pos] != RECORD_HANDSHAKE:
                kind = data[pos]
                where = "the first record" if self.records == 0 else f"record {self.records + 1}"
                return self._bad(f"{where} is of type {record_type_name(kind)} where the ClientHello's "
                                 "handshake records were expected")
            if avail >= 2 and data[pos + 1] != 3:
                return self._bad(f"a record header with version byte 0x{data[pos + 1]:02x} "
                                 "(TLS records say 0x03)")
            if avail < 5:
                return
            length = int.from_bytes(data[pos + 3:pos + 5], "big")
            if length == 0:
                return self._bad("a zero-length handshake record (TLS forbids them)")
            if length > MAX_PLAINTEXT:
                return self._bad(f"a record header declaring {length:,} bytes; TLS allows at most "
                                 f"{MAX_PLAINTEXT:,}")
            if avail < 5 + length:
                if self.declared is None:  # the header may sit in this record: look at 4 bytes only
                    self._check_header(bytes(self.body[:4]) + bytes(data[pos + 5:pos + 5 + min(length, 4)]))
                return
            self.body += data[pos + 5:pos + 5 + length]
            self._pos = pos + 5 + length
            self.records += 1
            self._check_header(self.body[:4])
            if self.status == "partial" and self.declared is not None and len(self.body) >= self.declared:
                self.status = "complete"

    def _check_header(self, body: bytes | bytearray) -> None:
        if self.declared is not None or len(body) < 1:
            return
        if body[0] != HANDSHAKE_CLIENT_HELLO:
            return self._bad(f"a {handshake_name(body[0])} message where a ClientHello was expected", record=False)
        if len(body) < 4:
            return
        declared = int.from_bytes(body[1:4], "big")
        if declared > MAX_HELLO_BODY:
            return self._bad(f"a ClientHello declaring {declared:,} bytes; the format allows at most "
                             f"{MAX_HELLO_BODY:,}", record=False)
        self.declared = 4 + declared

    def arrived(self) -> bytes:
        """The handshake bytes that arrived, the part of a record still incomplete included."""
        out = bytes(self.body)
        pos = self._pos
        if len(self.data) - pos > 5 and self.data[pos] == RECORD_HANDSHAKE and not self._record_bad:
            length = int.from_bytes(self.data[pos + 3:pos + 5], "big")
            out += bytes(self.data[pos + 5:pos + 5 + min(length, MAX_PLAINTEXT)])
        return out

    def hello(self) -> ClientHello | None:
        """What can be read of the ClientHello so far (None before its first fields arrived)."""
        body = self.arrived()
        if self.declared is not None:
            body = body[:self.declared]
        return parse_hello_message(body, records=self.records)

    def progress(self) -> str:
        """How much of the hello arrived, in words: '300 of 517 bytes in 2 records'."""
        if self.declared is None:
            got = len(self.data)
            if got < 5:
                return f"{size(got)} of a TLS record header"
            return f"{size(got)}; the ClientHello's length had not arrived"
        got = min(len(self.arrived()), self.declared)
        records = f" in {self.records} record{'s' if self.records != 1 else ''}" if self.records else ""
        return f"{got:,} of {size(self.declared)}{records}"


def record_type_name(value: int) -> str:
    name = RECORD_TYPES.get(value)
    return f"{name} (0x{value:02x})" if name else f"0x{value:02x}"


def handshake_name(value: int) -> str:
    return HANDSHAKE_TYPES.get(value, f"handshake type {value}")


def handshake_bytes(data: bytes) -> tuple[bytes, bool]:
    """The handshake bytes in `data`'s leading records; True when the first message is whole."""
    reader = HelloReader()
    reader.feed(data)
    return reader.arrived(), reader.status == "complete"


def hello_complete(data: bytes) -> bool:
    """True when `data` holds a whole ClientHello (so reading can stop)."""
    reader = HelloReader()
    return reader.feed(data) == "complete"


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

    def number(self, n: int) -> int | None:
        chunk = self.take(n)
        return None if chunk is None else int.from_bytes(chunk, "big")

    def vector(self, len_bytes: int) -> bytes | None:
        n = self.number(len_bytes)
        return None if n is None else self.take(n)


def parse_client_hello(data: bytes) -> ClientHello | None:
    """The ClientHello in `data` (starting with a TLS record), or None if it is not one."""
    reader = HelloReader()
    reader.feed(data)
    if reader.declared is None and reader.status == "malformed":
        return None
    return reader.hello()


def parse_hello_message(body: bytes, records: int = 0) -> ClientHello | None:
    """Parse a handshake message (type, 3-byte length, ClientHello body), whole or cut short."""
    if len(body) < 6 or body[0] != HANDSHAKE_CLIENT_HELLO:
        return None
    declared = int.from_bytes(body[1:4], "big")
    arrived = body[4:4 + declared]
    whole = len(arrived) == declared
    r = _Reader(arrived)
    legacy = r.number(2)
    if legacy is None:
        return None
    fields: dict = {"sni": None, "alpn": (), "versions": (), "extensions": (), "problem": None}
    ciphers = 0
    ciphers_reached = False
    parsed_to_end = False
    if r.take(32) is not None and r.vector(1) is not None:
        suites = r.vector(2)
        if suites is not None:
            ciphers_reached = True
            ciphers = _count_not_grease(suites)
            if r.vector(1) is not None:
                if r.pos == len(arrived):
                    parsed_to_end = whole  # no extensions at all (old clients)
                else:
                    start = r.pos
                    extensions = r.vector(2)
                    if extensions is None and not whole:
                        _extensions(arrived[start + 2:], fields)  # cut short: read what did arrive
                        fields["problem"] = None
                    if extensions is not None:
                        parsed_to_end = _extensions(extensions, fields) and r.pos == len(arrived)
                        if whole and parsed_to_end is False and fields["problem"] is None:
                            fields["problem"] = (f"{size(len(arrived) - r.pos)} after the extensions, "
                                                 "inside the message")
    if whole and not parsed_to_end and fields["problem"] is None:
        fields["problem"] = _first_short_field(arrived)
    # Without supported_versions the legacy version is what is offered, but only once the extensions
    # have all arrived: a hello cut short may yet have offered TLS 1.3 in the part that never came.
    versions = fields["versions"] or ((version_name(legacy),) if whole else ())
    return ClientHello(legacy_version=version_name(legacy), versions=versions, cipher_count=ciphers,
                       ciphers_reached=ciphers_reached,
                       sni=fields["sni"], alpn=fields["alpn"], extensions=fields["extensions"],
                       complete=whole and parsed_to_end and fields["problem"] is None,
                       length=4 + len(arrived), declared_length=4 + declared, records=records,
                       problem=fields["problem"] if whole else None)


def _count_not_grease(suites: bytes) -> int:
    values = struct.unpack(f"!{len(suites) // 2}H", suites[:len(suites) // 2 * 2])
    return sum(1 for v in values if (v & 0x0F0F) != 0x0A0A or (v >> 8) != (v & 0xFF))


def _first_short_field(body: bytes) -> str:
    """Name the first length field of a whole message that overruns it."""
    r = _Reader(body)
    steps = (("legacy_version", lambda: r.take(2)), ("random", lambda: r.take(32)),
             ("session_id", lambda: r.vector(1)), ("cipher_suites", lambda: r.vector(2)),
             ("compression_methods", lambda: r.vector(1)), ("extensions", lambda: r.vector(2)))
    for name, step in steps:
        before = r.pos
        if step() is None:
            return f"the {name} field runs past the end of the message (at byte {before + 4})"
    return "the message does not parse"


def _extensions(blob: bytes, fields: dict) -> bool:
    r = _Reader(blob)
    seen: list[int] = []
    while r.pos < len(blob):
        start = r.pos
        kind = r.number(2)
        value = r.vector(2)
        if kind is None or value is None:
            fields["extensions"] = tuple(seen)
            fields["problem"] = (f"the extension at offset {start} of the extensions block runs past its end"
                                 if kind is not None else "the extensions block ends inside an extension type")
            return False
        seen.append(kind)
        if kind == EXT_SERVER_NAME:
            fields["sni"], problem = _server_name(value)
            if problem and fields["problem"] is None:
                fields["problem"] = problem
        elif kind == EXT_ALPN:
            fields["alpn"] = _alpn(value)
        elif kind == EXT_SUPPORTED_VERSIONS:
            fields["versions"] = _versions(value)
    fields["extensions"] = tuple(seen)
    return True


def _server_name(value: bytes) -> tuple[str | None, str | None]:
    """(host_name, problem): the name as received, or why the extension holds none."""
    r = _Reader(value)
    names = r.vector(2)
    if names is None:
        return None, f"the server_name extension's list length overruns its {size(len(value))}"
    r = _Reader(names)
    while r.pos < len(names):
        kind, name = r.number(1), r.vector(2)
        if kind is None or name is None:
            return None, "an entry of the server_name list overruns the list"
        if kind == 0:  # host_name; kept as received, made visible on display
            return name.decode("latin-1"), None
    return None, "the server_name extension holds no host_name entry"


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

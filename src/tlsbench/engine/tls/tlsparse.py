"""Sans-IO parsers for the handshake messages a client receives: bytes in, records out.

Each parser takes one whole handshake message as OpenSSL's message callback gives it (the 4-byte
header — type and 24-bit length — then the body) and returns a small record, or None when the
bytes are not that message or are malformed. They never raise on hostile input and never read
past the message. TLS 1.3 messages after the ServerHello are seen decrypted (their inner content).

    ServerHello          version (supported_versions), cipher suite, key_share group, extensions
    HelloRetryRequest    the group the server asks for
    ServerKeyExchange    TLS 1.2 ECDHE curve or DHE prime size, and the signature scheme
    CertificateVerify    TLS 1.3 signature scheme
    EncryptedExtensions  extensions the server returned (TLS 1.3)
    CertificateRequest   acceptable CA names, signature schemes, certificate types
    NewSessionTicket     lifetime hint, ticket size, early-data limit
"""

import builtins
from typing import Callable, NamedTuple, TypeVar

from tlsbench.engine.certs import dername

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
EXT_SUPPORTED_VERSIONS, EXT_KEY_SHARE, EXT_ALPN = 43, 51, 16
EXT_SIGNATURE_ALGORITHMS, EXT_CERTIFICATE_AUTHORITIES, EXT_EARLY_DATA = 13, 47, 42


class Reader:
    """Bounds-checked cursor; every read returns None once the data runs out (and stays there)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.failed = data, 0, False

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes | None:
        if self.failed or n < 0 or self.pos + n > len(self.data):
            self.failed = True
            return None
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self, n: int) -> int | None:
        chunk = self.take(n)
        return None if chunk is None else int.from_bytes(chunk, "big")

    def vector(self, len_bytes: builtins.int) -> bytes | None:
        n = self.int(len_bytes)
        return None if n is None else self.take(n)

    def u16_list(self, len_bytes: builtins.int) -> tuple[builtins.int, ...] | None:
        raw = self.vector(len_bytes)
        if raw is None or len(raw) % 2:
            self.failed = True
            return None
        return tuple(int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2))


def body_of(message: bytes, htype: int) -> bytes | None:
    """The body of a handshake message of type `htype` (None if it is another type or cut short)."""
    if len(message) < 4 or message[0] != htype:
        return None
    length = int.from_bytes(message[1:4], "big")
    if len(message) < 4 + length:
        return None
    return message[4:4 + length]


def extensions(raw: bytes) -> tuple[tuple[int, bytes], ...] | None:
    """(type, data) pairs of an extensions block (without its length prefix); None if malformed."""
    r = Reader(raw)
    out = []
    while r.left:
        kind = r.int(2)
        data = r.vector(2)
        if kind is None or data is None:
            return None
        out.append((kind, data))
    return tuple(out)


class ServerHello(NamedTuple):
    legacy_version: int
    version: int  # the negotiated version: supported_versions when present, else legacy_version
    cipher_suite: int
    session_id: bytes
    compression: int
    extensions: tuple[int, ...]  # extension types, in order
    group: int | None  # key_share: the server's share (ServerHello) or the group asked for (HRR)
    retry: bool  # a HelloRetryRequest (TLS 1.3)
    alpn: bytes | None = None


_T = TypeVar("_T")
_MISSING = object()


def hello_skeleton(message: bytes) -> bytes | None:
    """A ClientHello or ServerHello without what changes from one connection to the next: its random
    (but whether it is the HelloRetryRequest one), its session id and the keys of its key shares
    (their groups are kept). Everything else stays, lengths included, so where each dropped part was
    is known from what is kept. None for anything else, or a hello cut short before its extensions."""
    n = len(message)
    if n < 39 or message[0] not in (1, 2):
        return None
    end = 39 + message[38]  # after the session id
    if message[0] == 1:
        if end + 2 > n:
            return None
        end += 2 + int.from_bytes(message[end:end + 2], "big")  # cipher suites
        if end + 1 > n:
            return None
        end += 1 + message[end]  # compression methods
    else:
        end += 3  # cipher suite, compression
    if end > n:
        return None
    parts = [message[:6], b"\1" if message[6:38] == HRR_RANDOM else b"\0", message[38:39], message[39 + message[38]:end]]
    pos = end + 2
    parts.append(message[end:pos])
    while pos + 4 <= n:
        size = int.from_bytes(message[pos + 2:pos + 4], "big")
        stop = pos + 4 + size
        if message[pos:pos + 2] == b"\x00\x33" and stop <= n:  # key_share: its first group, not the keys
            parts.append(message[pos:pos + 8])
        else:
            parts.append(message[pos:stop])
        pos = stop
    parts.append(message[pos:])
    return b"".join(parts)


def by_skeleton(parse: Callable[[bytes], _T]) -> Callable[[bytes], _T]:
    """`parse` (a function of a hello's bytes that reads none of what hello_skeleton drops) run once per
    skeleton: the hellos of repeated connections differ only in those bytes. Bounded memory."""
    memo: dict[bytes, object] = {}

    def cached(message: bytes) -> _T:
        key = hello_skeleton(message)
        if key is None:
            return parse(message)
        value = memo.get(key, _MISSING)
        if value is _MISSING:
            value = parse(message)
            if len(memo) >= 64:
                memo.clear()
            memo[key] = value
        return value  # type: ignore[return-value]

    cached.__wrapped__ = parse  # type: ignore[attr-defined]
    cached.__doc__ = parse.__doc__
    return cached


def parse_server_hello(message: bytes) -> ServerHello | None:
    """The ServerHello (or HelloRetryRequest); its session id is the message's own."""
    parsed = _parse_server_hello_cached(message)
    if parsed is None or not parsed.session_id:
        return parsed
    return parsed._replace(session_id=message[39:39 + message[38]])


def _parse_server_hello(message: bytes) -> ServerHello | None:
    body = body_of(message, 2)
    if body is None:
        return None
    r = Reader(body)
    legacy = r.int(2)
    random = r.take(32)
    session_id = r.vector(1)
    suite = r.int(2)
    compression = r.int(1)
    if r.failed or legacy is None or random is None or session_id is None or suite is None or compression is None:
        return None
    ext: tuple[tuple[int, bytes], ...] = ()
    if r.left:
        block = r.vector(2)
        parsed = extensions(block) if block is not None else None
        if parsed is None:
            return None
        ext = parsed
    retry = random == HRR_RANDOM
    version, group, alpn = legacy, None, None
    for kind, data in ext:
        if kind == EXT_SUPPORTED_VERSIONS and len(data) == 2:
            version = int.from_bytes(data, "big")
        elif kind == EXT_KEY_SHARE and len(data) >= 2:
            group = int.from_bytes(data[:2], "big")  # KeyShareEntry.group, or HRR's selected_group
        elif kind == EXT_ALPN:
            names = _alpn(data)
            alpn = names[0] if names else None
    return ServerHello(legacy, version, suite, session_id, compression, tuple(k for k, _ in ext), group, retry, alpn)


def _alpn(data: bytes) -> list[bytes]:
    r = Reader(data)
    block = r.vector(2)
    if block is None:
        return []
    inner = Reader(block)
    out = []
    while inner.left:
        name = inner.vector(1)
        if name is None:
            break
        out.append(name)
    return out


class ServerKeyExchange(NamedTuple):
    kind: str  # "ECDHE" | "DHE"
    group: int | None  # named curve (ECDHE)
    dh_bits: int | None  # size of the prime (DHE)
    signature_scheme: int | None  # TLS 1.2; None before 1.2 (the scheme is implied there)
    signed: bool = False  # a signature follows the parameters (TLS 1.0/1.1 too); False: anonymous


def parse_server_key_exchange(message: bytes, kx: str | None, tls12: bool = True) -> ServerKeyExchange | None:
    """`kx` is the suite's key exchange ("ECDHE", "DHE", ...): the message's layout depends on it.
    With kx None, ECDHE is tried first, then DHE."""
    body = body_of(message, 12)
    if body is None:
        return None
    base = (kx or "").split("_")[0]
    kinds = [base] if base in ("ECDHE", "DHE", "ECDH", "DH") else ["ECDHE", "DHE"]
    for kind in kinds:
        parsed = _ske(body, "ECDHE" if kind.startswith("ECDH") else "DHE", tls12)
        if parsed is not None:
            return parsed
    return None


def _ske(body: bytes, kind: str, tls12: bool) -> ServerKeyExchange | None:
    r = Reader(body)
    group = bits = None
    if kind == "ECDHE":
        curve_type = r.int(1)
        if curve_type != 3:  # named_curve; explicit curves are long gone
            return None
        group = r.int(2)
        if r.vector(1) is None:
            return None
    else:
        prime = r.vector(2)
        if prime is None or r.vector(2) is None or r.vector(2) is None:
            return None
        stripped = prime.lstrip(b"\0")
        bits = len(stripped) * 8 - (8 - stripped[0].bit_length()) if stripped else 0
    scheme = None
    if r.left == 0:
        return ServerKeyExchange(kind, group, bits, None)  # anonymous: no signature
    if tls12:
        scheme = r.int(2)
    if r.vector(2) is None or r.left:
        return None
    return ServerKeyExchange(kind, group, bits, scheme, True)


def parse_certificate_verify(message: bytes) -> int | None:
    body = body_of(message, 15)
    if body is None:
        return None
    r = Reader(body)
    scheme = r.int(2)
    if r.vector(2) is None or r.left:
        return None
    return scheme


def parse_encrypted_extensions(message: bytes) -> tuple[tuple[int, bytes], ...] | None:
    body = body_of(message, 8)
    if body is None:
        return None
    r = Reader(body)
    block = r.vector(2)
    if block is None or r.left:
        return None
    return extensions(block)


class CertificateRequest(NamedTuple):
    certificate_types: tuple[int, ...]  # TLS 1.2 and below
    signature_schemes: tuple[int, ...]
    ca_names: tuple[str, ...]  # the distinguished names, as text (RFC 4514, most specific first)
    ca_names_der: tuple[bytes, ...]


def parse_certificate_request(message: bytes, tls13: bool) -> CertificateRequest | None:
    body = body_of(message, 13)
    if body is None:
        return None
    r = Reader(body)
    types: tuple[int, ...] = ()
    schemes: tuple[int, ...] = ()
    cas: bytes | None = b""
    if tls13:
        if r.vector(1) is None:  # certificate_request_context
            return None
        block = r.vector(2)
        parsed = extensions(block) if block is not None else None
        if parsed is None or r.left:
            return None
        for kind, data in parsed:
            inner = Reader(data)
            if kind == EXT_SIGNATURE_ALGORITHMS:
                schemes = inner.u16_list(2) or ()
            elif kind == EXT_CERTIFICATE_AUTHORITIES:
                cas = inner.vector(2)
    else:
        raw_types = r.vector(1)
        if raw_types is None:
            return None
        types = tuple(raw_types)
        if r.left > 2 and _looks_like_sigalgs(r):
            schemes = r.u16_list(2) or ()
        cas = r.vector(2)
        if cas is None or r.left:
            return None
    names_der = _distinguished_names(cas or b"")
    return CertificateRequest(types, schemes, tuple(dername.name_text(d) for d in names_der), names_der)


def _looks_like_sigalgs(r: Reader) -> bool:
    """TLS 1.2 has supported_signature_algorithms here, TLS 1.0/1.1 not: tell by the lengths."""
    data, pos = r.data, r.pos
    first = int.from_bytes(data[pos:pos + 2], "big")
    rest = len(data) - pos - 2 - first
    if first % 2 or rest < 2:
        return False
    second = int.from_bytes(data[pos + 2 + first:pos + 4 + first], "big")
    return second == rest - 2


def _distinguished_names(block: bytes) -> tuple[bytes, ...]:
    r = Reader(block)
    out = []
    while r.left:
        name = r.vector(2)
        if name is None:
            break
        out.append(name)
    return tuple(out)


class NewSessionTicket(NamedTuple):
    lifetime_s: int  # the lifetime (TLS 1.3) or lifetime hint (TLS 1.2); 0 = unspecified in 1.2
    ticket_bytes: int
    early_data_max: int | None = None  # TLS 1.3 early_data extension: max_early_data_size


def parse_new_session_ticket(message: bytes, tls13: bool) -> NewSessionTicket | None:
    body = body_of(message, 4)
    if body is None:
        return None
    r = Reader(body)
    lifetime = r.int(4)
    if tls13:
        if r.int(4) is None or r.vector(1) is None:  # ticket_age_add, ticket_nonce
            return None
        ticket = r.vector(2)
        block = r.vector(2)
        parsed = extensions(block) if block is not None else None
        if lifetime is None or ticket is None or parsed is None or r.left:
            return None
        early = next((int.from_bytes(d, "big") for k, d in parsed if k == EXT_EARLY_DATA and len(d) == 4), None)
        return NewSessionTicket(lifetime, len(ticket), early)
    ticket = r.vector(2)
    if lifetime is None or ticket is None or r.left:
        return None
    return NewSessionTicket(lifetime, len(ticket))


_parse_server_hello_cached = by_skeleton(_parse_server_hello)


@by_skeleton
def client_hello_offer(message: bytes) -> int | None:
    """The highest version a ClientHello offers: its supported_versions (GREASE left out), else its
    legacy_version; None when it does not parse."""
    body = body_of(message, 1)
    if body is None:
        return None
    r = Reader(body)
    legacy = r.int(2)
    r.take(32)
    r.vector(1)
    r.vector(2)
    r.vector(1)
    block = r.vector(2) if r.left else b""
    if legacy is None or block is None:
        return None
    for kind, data in extensions(block) or ():
        if kind == EXT_SUPPORTED_VERSIONS:
            offered = Reader(data).u16_list(1) or ()
            real = [v for v in offered if v & 0x0F0F != 0x0A0A]  # GREASE values are 0x?A?A
            return max(real) if real else legacy
    return legacy

"""JA3 and JA4 fingerprints of a ClientHello: a short name for the software that wrote it.

Sans-IO: `fingerprint(message)` takes one whole handshake message (its 4-byte header, then the
ClientHello body) — what OpenSSL's message callback hands the tls stage, and what the listener
reassembles from a client's records — and gives a `HelloFingerprint`, or None when the bytes are
not a whole ClientHello. It never raises.

JA3 (Salesforce): `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`, each
list in the hello's order, decimal, '-'-joined, GREASE values (RFC 8701) left out; `ja3_hash` is its
MD5. JA4 (FoxIO, BSD 3-Clause; only the TLS client fingerprint, not the JA4+ methods), as its
technical details define it:

    t13d1516h2_8daaf6152771_e5627efa2ab1
    | | | | | |  |            sha256[:12] of the extensions sorted (SNI and ALPN left out),
    | | | | | |  |            then '_' and the signature algorithms in the hello's order
    | | | | | |  sha256[:12] of the cipher suites sorted ("000000000000" for none)
    | | | | | first and last character of the first ALPN value ("00" for none)
    | | | | extensions counted, GREASE left out (at most 99)
    | | | cipher suites counted, GREASE left out (at most 99)
    | | "d": an SNI extension, "i": none
    | highest supported_versions value (GREASE left out), else the legacy version
    "t": TLS over TCP ("q" QUIC, "d" DTLS)

`ja4_r` is the same with the sorted lists themselves in place of their hashes.
"""


import hashlib
import struct
from typing import NamedTuple

EXT_SERVER_NAME, EXT_SUPPORTED_GROUPS, EXT_POINT_FORMATS = 0, 10, 11
EXT_SIGNATURE_ALGORITHMS, EXT_ALPN, EXT_SUPPORTED_VERSIONS = 13, 16, 43
JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
                0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
NO_HASH = "000000000000"  # JA4's value for an empty list (a hash of nothing would hide that it is empty)


class HelloFingerprint(NamedTuple):
    ja3: str  # "771,4865-4866-...,0-11-10-...,29-23-24,0"
    ja3_hash: str  # its MD5, lower-case hex
    ja4: str  # "t13d1516h2_8daaf6152771_e5627efa2ab1"
    ja4_r: str  # the raw form: "t13d1516h2_002f,0035,..._0005,000a,..._0403,0804,..."

    def to_dict(self) -> dict:
        return dict(self._asdict())


class HelloFields(NamedTuple):
    """What the fingerprints read from a ClientHello, every list in the hello's order, GREASE kept."""

    legacy_version: int
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    groups: tuple[int, ...]
    point_formats: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    alpn_first: bytes | None  # the first ALPN protocol name; None without ALPN values
    versions: tuple[int, ...]  # supported_versions; () without the extension


GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))  # RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa


def _u16s(raw: bytes) -> tuple[int, ...]:
    return struct.unpack_from(f"!{len(raw) // 2}H", raw)


def _vector(data: bytes, at: int, size: int) -> tuple[bytes, int] | None:
    """(the vector's content, where the next field starts) of a `size`-byte length-prefixed vector."""
    if at + size > len(data):
        return None
    end = at + size + int.from_bytes(data[at:at + size], "big")
    if end > len(data):
        return None
    return data[at + size:end], end


def read_hello(message: bytes) -> HelloFields | None:
    """The fields of a whole ClientHello handshake message; None when it is not one or does not parse."""
    if len(message) < 4 or message[0] != 1:
        return None
    length = int.from_bytes(message[1:4], "big")
    body = message[4:4 + length]
    if len(body) != length or length < 35:
        return None
    legacy = int.from_bytes(body[:2], "big")
    at = 34
    parts = []
    for size in (1, 2, 1):  # session_id, cipher_suites, compression_methods
        got = _vector(body, at, size)
        if got is None:
            return None
        parts.append(got[0])
        at = got[1]
    if len(parts[1]) % 2:
        return None
    extensions: list[tuple[int, bytes]] = []
    if at < len(body):
        got = _vector(body, at, 2)
        if got is None or got[1] != len(body):
            return None
        block, pos = got[0], 0
        while pos < len(block):
            if pos + 4 > len(block):
                return None
            kind, size = struct.unpack_from("!HH", block, pos)
            if pos + 4 + size > len(block):
                return None
            extensions.append((kind, block[pos + 4:pos + 4 + size]))
            pos += 4 + size
    found: dict[int, bytes] = {}
    for kind, data in extensions:
        found.setdefault(kind, data)
    return HelloFields(legacy, _u16s(parts[1]), tuple(k for k, _ in extensions),
                       _u16s(_inner(found.get(EXT_SUPPORTED_GROUPS), 2)),
                       tuple(_inner(found.get(EXT_POINT_FORMATS), 1)),
                       _u16s(_inner(found.get(EXT_SIGNATURE_ALGORITHMS), 2)),
                       _first_alpn(found.get(EXT_ALPN)),
                       _u16s(_inner(found.get(EXT_SUPPORTED_VERSIONS), 1)) if EXT_SUPPORTED_VERSIONS in found
                       else ())


def _inner(data: bytes | None, size: int) -> bytes:
    """An extension's one length-prefixed list; b"" when absent or malformed."""
    if data is None:
        return b""
    got = _vector(data, 0, size)
    return got[0] if got is not None else b""


def _first_alpn(data: bytes | None) -> bytes | None:
    names = _inner(data, 2)
    first = _vector(names, 0, 1) if names else None
    return first[0] if first is not None else None


def ja3(fields: HelloFields) -> str:
    def dashed(values: tuple[int, ...], grease: bool = True) -> str:
        return "-".join([str(v) for v in values if v not in GREASE] if grease else [str(v) for v in values])

    return ",".join((str(fields.legacy_version), dashed(fields.ciphers), dashed(fields.extensions),
                     dashed(fields.groups), dashed(fields.point_formats, grease=False)))


def ja4_alpn(first: bytes | None) -> str:
    """JA4's two ALPN characters: first and last of the first value; its hex's first and last digit
    when either byte is not an ASCII letter or digit; "00" for none."""
    if not first:
        return "00"

    def plain(b: int) -> bool:
        return 0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A

    if plain(first[0]) and plain(first[-1]):
        return chr(first[0]) + chr(first[-1])
    text = first.hex()
    return text[0] + text[-1]


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def ja4(fields: HelloFields, transport: str = "t") -> tuple[str, str]:
    """(JA4, JA4_r)."""
    versions = [v for v in fields.versions if v not in GREASE]
    version = JA4_VERSIONS.get(max(versions) if versions else fields.legacy_version, "00")
    ciphers = [v for v in fields.ciphers if v not in GREASE]
    extensions = [v for v in fields.extensions if v not in GREASE]
    sni = "d" if EXT_SERVER_NAME in extensions else "i"
    head = (f"{transport}{version}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}"
            f"{ja4_alpn(fields.alpn_first)}")
    cipher_list = ",".join([f"{v:04x}" for v in sorted(ciphers)])
    ext_list = ",".join([f"{v:04x}" for v in sorted(v for v in extensions if v != EXT_SERVER_NAME and v != EXT_ALPN)])
    sigs = ",".join([f"{v:04x}" for v in fields.signature_algorithms if v not in GREASE])
    ext_text = ext_list + (f"_{sigs}" if sigs else "")
    b = _sha12(cipher_list) if cipher_list else NO_HASH
    c = _sha12(ext_text) if ext_list else NO_HASH
    return f"{head}_{b}_{c}", f"{head}_{cipher_list}_{ext_text}"


def fingerprint(message: bytes, transport: str = "t") -> HelloFingerprint | None:
    """JA3 and JA4 of a whole ClientHello handshake message; None when it is not one."""
    try:
        fields = read_hello(bytes(message))
        if fields is None:
            return None
        text = ja3(fields)
        full, raw = ja4(fields, transport)
        md5 = hashlib.md5(text.encode("ascii"), usedforsecurity=False).hexdigest()
        return HelloFingerprint(text, md5, full, raw)
    except (ValueError, TypeError, IndexError):  # defensive: none is expected from the code above
        return None

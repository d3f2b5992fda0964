"""What a QUIC datagram's first bytes say, read without aioquic: a long header's version and connection
IDs, a Version Negotiation packet's list of versions (RFC 9000 17.2, 17.2.1); and the names of QUIC
transport error codes (RFC 9000 20.1) and of TLS alerts carried as CRYPTO_ERROR (0x100 + alert)."""

from __future__ import annotations

from typing import NamedTuple

from tlsbench.engine.tls.tlsmsg import ALERTS

VERSIONS = {0x00000001: "QUICv1", 0x6B3343CF: "QUICv2", 0xFF00001D: "draft-29"}

TRANSPORT_ERRORS = {
    0x0: "NO_ERROR", 0x1: "INTERNAL_ERROR", 0x2: "CONNECTION_REFUSED", 0x3: "FLOW_CONTROL_ERROR",
    0x4: "STREAM_LIMIT_ERROR", 0x5: "STREAM_STATE_ERROR", 0x6: "FINAL_SIZE_ERROR", 0x7: "FRAME_ENCODING_ERROR",
    0x8: "TRANSPORT_PARAMETER_ERROR", 0x9: "CONNECTION_ID_LIMIT_ERROR", 0xA: "PROTOCOL_VIOLATION",
    0xB: "INVALID_TOKEN", 0xC: "APPLICATION_ERROR", 0xD: "CRYPTO_BUFFER_EXCEEDED", 0xE: "KEY_UPDATE_ERROR",
    0xF: "AEAD_LIMIT_REACHED", 0x10: "NO_VIABLE_PATH", 0x11: "VERSION_NEGOTIATION_ERROR",
}

# HTTP/3 application error codes (RFC 9114 8.1), for a CONNECTION_CLOSE of type 0x1d
H3_ERRORS = {
    0x100: "H3_NO_ERROR", 0x101: "H3_GENERAL_PROTOCOL_ERROR", 0x102: "H3_INTERNAL_ERROR",
    0x103: "H3_STREAM_CREATION_ERROR", 0x104: "H3_CLOSED_CRITICAL_STREAM", 0x105: "H3_FRAME_UNEXPECTED",
    0x106: "H3_FRAME_ERROR", 0x107: "H3_EXCESSIVE_LOAD", 0x108: "H3_ID_ERROR", 0x109: "H3_SETTINGS_ERROR",
    0x10A: "H3_MISSING_SETTINGS", 0x10B: "H3_REQUEST_REJECTED", 0x10C: "H3_REQUEST_CANCELLED",
    0x10D: "H3_REQUEST_INCOMPLETE", 0x10E: "H3_MESSAGE_ERROR", 0x10F: "H3_CONNECT_ERROR",
    0x110: "H3_VERSION_FALLBACK",
}


class LongHeader(NamedTuple):
    version: int
    dcid: bytes
    scid: bytes
    versions: tuple[int, ...] = ()  # a Version Negotiation packet's supported versions (version 0)

    @property
    def negotiation(self) -> bool:
        return self.version == 0


def long_header(data: bytes) -> LongHeader | None:
    """The long header a datagram starts with; None for a short header or bytes too short to hold one."""
    if len(data) < 7 or not data[0] & 0x80:
        return None
    version = int.from_bytes(data[1:5], "big")
    at = 5
    dlen = data[at]
    dcid = data[at + 1:at + 1 + dlen]
    at += 1 + dlen
    if len(dcid) != dlen or at >= len(data):
        return None
    slen = data[at]
    scid = data[at + 1:at + 1 + slen]
    at += 1 + slen
    if len(scid) != slen:
        return None
    versions: tuple[int, ...] = ()
    if version == 0:
        rest = data[at:]
        versions = tuple(int.from_bytes(rest[i:i + 4], "big") for i in range(0, len(rest) - len(rest) % 4, 4))
    return LongHeader(version, bytes(dcid), bytes(scid), versions)


def version_name(version: int) -> str:
    name = VERSIONS.get(version)
    if name:
        return name
    if version & 0x0F0F0F0F == 0x0A0A0A0A:
        return f"0x{version:08x} (reserved, to exercise negotiation)"
    return f"0x{version:08x}"


def error_name(code: int, application: bool = False) -> str:
    """A CONNECTION_CLOSE's code in words: "CRYPTO_ERROR 0x128 (TLS alert handshake_failure)",
    "PROTOCOL_VIOLATION (0xa)", or an HTTP/3 code for an application close."""
    if application:
        return f"{H3_ERRORS.get(code, 'application error')} (0x{code:x})"
    if 0x100 <= code <= 0x1FF:
        alert = code - 0x100
        return f"CRYPTO_ERROR 0x{code:x} (TLS alert {ALERTS.get(alert, str(alert))})"
    return f"{TRANSPORT_ERRORS.get(code, 'unknown transport error')} (0x{code:x})"


def alert_of(code: int) -> str | None:
    """The TLS alert a CRYPTO_ERROR code carries, by name; None for any other code."""
    return ALERTS.get(code - 0x100, str(code - 0x100)) if 0x100 <= code <= 0x1FF else None

"""HTTP/2 frames as they cross the wire, named for the trace: a sans-IO splitter of the 9-byte
frame headers (RFC 9113 section 4.1) that never raises on what a peer sends.

The h2 library speaks the protocol; this only reads the frame headers of the same bytes, so the
trace shows every frame with its time, even the ones h2 then refuses.
"""

from __future__ import annotations

from typing import NamedTuple

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADER_LEN = 9
TYPES = ("DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY",
         "WINDOW_UPDATE", "CONTINUATION")
# RFC 9113 section 7.
ERROR_CODES = ("NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
               "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
               "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED")
_FLAGS = {  # per frame type: (bit, name)
    "DATA": ((0x1, "END_STREAM"), (0x8, "PADDED")),
    "HEADERS": ((0x1, "END_STREAM"), (0x4, "END_HEADERS"), (0x8, "PADDED"), (0x20, "PRIORITY")),
    "SETTINGS": ((0x1, "ACK"),),
    "PING": ((0x1, "ACK"),),
    "PUSH_PROMISE": ((0x4, "END_HEADERS"), (0x8, "PADDED")),
    "CONTINUATION": ((0x4, "END_HEADERS"),),
}


class H2Frame(NamedTuple):
    """One frame as it crossed: when, which way, its type, stream, flags and payload length; `note`
    what its payload says that the trace should show (GOAWAY's and RST_STREAM's error codes)."""

    at_ms: float
    direction: str  # "sent" | "received"
    type: str  # "SETTINGS", ..., or "type 0xNN" for one RFC 9113 does not define
    stream_id: int
    flags: str  # "ACK", "END_STREAM|END_HEADERS", or ""
    length: int
    note: str = ""

    def to_dict(self) -> dict:
        return dict(self._asdict())


def error_name(code: int) -> str:
    """An HTTP/2 error code by its RFC 9113 name (unknown ones in hex, as the RFC allows them)."""
    return ERROR_CODES[code] if 0 <= code < len(ERROR_CODES) else f"0x{code:x}"


def frame_type(number: int) -> str:
    return TYPES[number] if number < len(TYPES) else f"type 0x{number:02x}"


def flag_names(kind: str, flags: int) -> str:
    return "|".join(name for bit, name in _FLAGS.get(kind, ()) if flags & bit)


def _note(kind: str, payload: bytes) -> str:
    if kind == "GOAWAY" and len(payload) >= 8:
        last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        return f"{error_name(int.from_bytes(payload[4:8], 'big'))}, last stream {last}"
    if kind == "RST_STREAM" and len(payload) >= 4:
        return error_name(int.from_bytes(payload[:4], "big"))
    return ""


class FrameSplitter:
    """Frame headers out of a byte stream fed in pieces. `feed` returns the frames completed by the
    bytes given (each with its payload length and, for GOAWAY and RST_STREAM, its note). `skip_preface`: the sent side starts with the client's connection preface."""

    def __init__(self, direction: str, skip_preface: bool = False) -> None:
        self.direction = direction
        self.buffer = bytearray()
        self.preface_left = len(PREFACE) if skip_preface else 0

    def feed(self, data: bytes, at_ms: float) -> list[H2Frame]:
        if self.preface_left:
            taken = min(self.preface_left, len(data))
            self.preface_left -= taken
            data = data[taken:]
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER_LEN:
            head = self.buffer[:HEADER_LEN]
            length = int.from_bytes(head[:3], "big")
            kind = frame_type(head[3])
            if len(self.buffer) < HEADER_LEN + length:  # bounded: the stage stops reading at its byte limit
                break
            payload = bytes(self.buffer[HEADER_LEN:HEADER_LEN + min(length, 8)])
            del self.buffer[:HEADER_LEN + length]
            frames.append(H2Frame(at_ms, self.direction, kind, int.from_bytes(head[5:9], "big") & 0x7FFFFFFF,
                                  flag_names(kind, head[4]), length, _note(kind, payload)))
        return frames

"""The little BER (X.690) LDAP needs, by hand: definite lengths, one-byte tags, nothing more.

`encode(tag, content)` builds one element; `read(data, at)` reads one back as (tag, content,
next offset), returning None while the element is incomplete and raising BerError when the bytes
cannot be BER (a multi-byte tag, an indefinite or absurd length).
"""

from __future__ import annotations

from typing import NamedTuple

MAX_LENGTH = 1 << 20  # an LDAP reply to these requests is far smaller


class BerError(ValueError):
    """The bytes are not BER as LDAP uses it."""


class Element(NamedTuple):
    tag: int
    content: bytes
    end: int  # offset just past the element


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def encode(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(content)) + content


def integer(value: int, tag: int = 0x02) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return encode(tag, raw)


def octets(value: bytes | str, tag: int = 0x04) -> bytes:
    return encode(tag, value.encode("utf-8") if isinstance(value, str) else value)


def read(data: bytes, at: int = 0) -> Element | None:
    """One element at `at`; None when more bytes are needed."""
    if len(data) < at + 2:
        return None
    tag = data[at]
    if tag & 0x1F == 0x1F:
        raise BerError("a multi-byte tag")
    first = data[at + 1]
    at += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise BerError("an indefinite length")
    else:
        count = first & 0x7F
        if count > 4:
            raise BerError(f"a length of {count} bytes")
        if len(data) < at + count:
            return None
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    if length > MAX_LENGTH:
        raise BerError(f"a length of {length} bytes")
    if len(data) < at + length:
        return None
    return Element(tag, bytes(data[at:at + length]), at + length)


def children(content: bytes) -> list[Element]:
    """Every element inside a constructed one; an incomplete one is an error here."""
    out: list[Element] = []
    at = 0
    while at < len(content):
        element = read(content, at)
        if element is None:
            raise BerError("an element cut short")
        out.append(element)
        at = element.end
    return out


def to_int(content: bytes) -> int:
    if not content or len(content) > 8:
        raise BerError("an integer of 0 or more than 8 bytes")
    return int.from_bytes(content, "big", signed=True)

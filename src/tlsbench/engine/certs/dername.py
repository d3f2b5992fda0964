"""A DER-encoded X.501 Name (as a CertificateRequest lists acceptable CAs) as RFC 4514 text.

A small DER reader, bounded and total: any input gives a string (malformed parts are shown as
hex), never an exception. The order is RFC 4514's (most specific first), as `cryptography`
writes a certificate's subject, so both read the same.
"""

_ATTRS = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
    "2.5.4.9": "STREET", "2.5.4.5": "serialNumber", "2.5.4.12": "title", "2.5.4.42": "GN", "2.5.4.4": "SN",
    "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "emailAddress",
    "2.5.4.97": "organizationIdentifier",
}
_STRINGS = {0x0C: "utf-8", 0x13: "latin-1", 0x16: "latin-1", 0x14: "latin-1", 0x1A: "latin-1",
            0x1E: "utf-16-be", 0x1C: "utf-32-be"}


def _tlv(data: bytes, pos: int) -> tuple[int, bytes, int] | None:
    """(tag, value, next position) of the element at `pos`, or None when it does not fit."""
    if pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            return None
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        return None
    return tag, data[pos:pos + length], pos + length


def _items(data: bytes) -> list[tuple[int, bytes]] | None:
    out, pos = [], 0
    while pos < len(data):
        got = _tlv(data, pos)
        if got is None:
            return None
        tag, value, pos = got
        out.append((tag, value))
    return out


def oid_text(raw: bytes) -> str:
    if not raw:
        return ""
    parts = [raw[0] // 40, raw[0] % 40] if raw[0] < 80 else [2, raw[0] - 80]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _escape(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(text) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _value(tag: int, raw: bytes) -> str:
    codec = _STRINGS.get(tag)
    if codec is None:
        return "#" + raw.hex()
    try:
        return _escape(raw.decode(codec))
    except UnicodeDecodeError:
        return "#" + raw.hex()


def name_text(der: bytes) -> str:
    """'CN=tlsbench Lab Client CA,O=tlsbench lab' for a DER Name; '#hex' when it is not one."""
    top = _tlv(der, 0)
    if top is None or top[0] != 0x30 or top[2] != len(der):
        return "#" + der[:64].hex()
    rdns = _items(top[1])
    if rdns is None:
        return "#" + der[:64].hex()
    texts = []
    for tag, rdn in rdns:
        attrs = _items(rdn) if tag == 0x31 else None
        if attrs is None:
            return "#" + der[:64].hex()
        parts = []
        for atag, attr in attrs:
            pair = _items(attr) if atag == 0x30 else None
            if not pair or len(pair) != 2 or pair[0][0] != 0x06:
                return "#" + der[:64].hex()
            oid = oid_text(pair[0][1])
            parts.append(f"{_ATTRS.get(oid, oid)}={_value(*pair[1])}")
        texts.append("+".join(parts))
    return ",".join(reversed(texts))

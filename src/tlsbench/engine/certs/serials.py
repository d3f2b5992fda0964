"""A certificate's serial number read from its DER: RFC 5280 (4.1.2.2) wants a positive integer.

cryptography parses a negative or zero serial with a deprecation warning (and will refuse such a
certificate in a future release); OpenSSL accepts it. Here it is read from the bytes and becomes the
finding `cert-negative-serial`, with the INTEGER's bytes as evidence.
"""

from __future__ import annotations

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.certs.certparse import _children, _tlv
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.suggestions import Suggestion


def serial_bytes(der: bytes) -> bytes | None:
    """The content bytes of the certificate's serialNumber INTEGER, or None when the DER has none."""
    try:
        tag, start, end = _tlv(der, 0)
        if tag != 0x30:
            return None
        tbs_tag, tbs_at, _ = _children(der, start, end)[0]
        _, tstart, tend = _tlv(der, tbs_at)
        fields = _children(der, tstart, tend)
    except (ValueError, IndexError):
        return None
    if tbs_tag != 0x30 or not fields:
        return None
    if fields[0][0] == 0xA0:  # [0] version, then the serial
        fields = fields[1:]
    if not fields or fields[0][0] != 0x02:
        return None
    _, at, field_end = fields[0]
    _, value_start, _ = _tlv(der, at)
    return der[value_start:field_end]


def not_positive(serial: bytes) -> str | None:
    """'negative' or 'zero' for a serial that is not a positive integer, else None."""
    if not serial:
        return "empty"
    if serial[0] & 0x80:
        return "negative"
    if not any(serial):
        return "zero"
    return None


def serial_findings(chain_der: tuple[bytes, ...] | list[bytes], subjects: dict[int, str], *,
                    role: str = "target") -> list[Finding]:
    """One `cert-negative-serial` per certificate sent whose serial is not positive (`role` "proxy":
    an HTTPS proxy's own chain, the proxy's doing)."""
    peer = "proxy" if role == "proxy" else "server"
    out = []
    for position, der in enumerate(chain_der):
        serial = serial_bytes(der)
        what = not_positive(serial) if serial is not None else None
        if what is None or serial is None:
            continue
        who = f"The {peer}'s certificate" if position == 0 else f"Certificate #{position} of the {peer}'s chain"
        subject = subjects.get(position)
        value = int.from_bytes(serial, "big", signed=True)
        out.append(finding(
            "cert-negative-serial", f"{who} has {'an' if what == 'empty' else 'a'} {what} serial number",
            f"{who}{f' ({subject})' if subject else ''} encodes its serial number as the INTEGER "
            f"{serial.hex(' ')}, which is {value}. RFC 5280 requires a positive serial number; OpenSSL "
            "reads this one, but stricter clients refuse the certificate (and cryptography announces "
            "that it will).",
            Suggestion("Reissue the certificate with a positive serial number (a first byte below 0x80, "
                       "or a leading 00 byte)."),
            (Evidence("serial number (DER INTEGER, hex)", serial.hex(" ")), Evidence("value", str(value))),
            origin="proxy" if role == "proxy" else "peer"))
    return out

"""`--starttls auto`: which protocol to speak, from the server's greeting, and from the port when
the client speaks first. Pure functions of bytes and a port number."""

from __future__ import annotations

from typing import NamedTuple

from tlsbench.engine.hops.starttls.ports import CLIENT_FIRST, TITLES, implicit_tls, usual_protocol
from tlsbench.engine.tls.peekbytes import classify, looks_like_tls

GREETING_ENOUGH = 512  # bytes that surely hold a greeting's first line


class Choice(NamedTuple):
    protocol: str | None  # None: undecided
    because: str  # in words, for the row
    implicit: bool = False  # the port speaks TLS at once: no STARTTLS


def by_port(port: int) -> Choice | None:
    """A protocol whose client speaks first, chosen by its usual port (there is no greeting to read)."""
    protocol = usual_protocol(port)
    if protocol in CLIENT_FIRST:
        title = TITLES[protocol]
        return Choice(protocol, f"port {port} is {title}'s, whose clients speak first (there is no greeting "
                                f"to read)")
    return None


def greeting_complete(data: bytes) -> bool:
    """Enough of a greeting to tell what it is (a first line, a MySQL packet, a TLS record)."""
    if len(data) >= 4 and data[3] == 0 and (len(data) < 5 or data[4] == 0x0A):
        length = int.from_bytes(data[:3], "little")
        return len(data) >= min(4 + length, GREETING_ENOUGH)
    if len(data) >= 3 and looks_like_tls(data):
        return True
    return b"\n" in data or len(data) >= GREETING_ENOUGH


def by_greeting(data: bytes, port: int) -> Choice:
    """The protocol a greeting belongs to (the port settles a bare '220', which SMTP, LMTP and FTP
    all send)."""
    guess = classify(data)
    if guess.kind == "tls":
        return Choice(None, "the server sent a TLS record before any request: it speaks TLS at once", implicit=True)
    if guess.starttls is None:
        return Choice(None, f"the server greeted with {guess.description}, which is none of the protocols "
                            "STARTTLS upgrades")
    protocol = guess.starttls
    because = f"the server greeted with {guess.description}"
    hinted = usual_protocol(port)
    first = data.split(b"\n", 1)[0].upper()
    if guess.kind == "smtp" and hinted in ("lmtp", "ftp") and b"SMTP" not in first:
        # SMTP, LMTP and FTP all greet with 220: the port settles it unless the greeting says SMTP.
        protocol = hinted
        because += f", and port {port} is {TITLES[hinted]}'s"
    return Choice(protocol, because)


def on_silence(port: int, waited: float) -> Choice:
    """Nothing came: a port that speaks TLS at once, or a protocol whose client speaks first."""
    implicit = implicit_tls(port)
    if implicit is not None:
        return Choice(implicit[0], f"no greeting within {waited:g} s on port {port} ({implicit[1]}), a port that "
                                   "speaks TLS at once", implicit=True)
    return Choice(None, f"no greeting within {waited:g} s, and port {port} is not the usual port of a protocol "
                        "whose client speaks first")

"""Recognise what a peer sent when it was not TLS: HTTP, a mail/FTP/SSH banner, binary.

`looks_like_tls()` checks for a TLS record header (handshake or alert, version 3.x);
`classify()` names what the bytes look like and what the user probably wants instead.
"""


from typing import NamedTuple


_TLS_RECORD_TYPES = (0x14, 0x15, 0x16, 0x17)


def looks_like_tls(data: bytes) -> bool:
    """True when data starts like a TLS record (`16 03 0x`, `15 03 0x`, ...)."""
    if not data:
        return False
    if data[0] not in _TLS_RECORD_TYPES:
        return False
    if len(data) >= 2 and data[1] != 0x03:
        return False
    if len(data) >= 3 and data[2] > 0x04:
        return False
    return True


class PeerGuess(NamedTuple):
    kind: str  # http | smtp | pop3 | imap | ftp | ssh | text | binary | empty
    description: str  # "an HTTP response (HTTP/1.1 400 Bad Request)"
    starttls: str | None = None  # smtp | imap | pop3 | ftp when STARTTLS may be what is wanted
    http_status: int | None = None


def first_line(data: bytes, limit: int = 120) -> str:
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    return line[:limit].decode("latin-1")


def _printable_share(data: bytes) -> float:
    if not data:
        return 0.0
    ok = sum(1 for b in data if 0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D))
    return ok / len(data)


def classify(data: bytes) -> PeerGuess:
    """Say what the first bytes from a peer look like."""
    if not data:
        return PeerGuess("empty", "nothing")
    line = first_line(data)
    upper = data[:16].upper()
    if data.startswith(b"HTTP/"):
        status = None
        parts = line.split(" ", 2)
        if len(parts) >= 2 and len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit():
            status = int(parts[1])
        return PeerGuess("http", f"an HTTP response ({line})", http_status=status)
    if data.startswith(b"SSH-"):
        return PeerGuess("ssh", f"an SSH server banner ({line})")
    if data.startswith(b"+OK"):
        return PeerGuess("pop3", f"a POP3 server greeting ({line})", starttls="pop3")
    if data.startswith(b"* OK") or data.startswith(b"* PREAUTH"):
        return PeerGuess("imap", f"an IMAP server greeting ({line})", starttls="imap")
    if data[:3] in (b"220", b"421") and len(data) > 3 and data[3:4] in (b" ", b"-"):
        # SMTP and FTP both greet with 220; the text usually says which.
        text = line.upper()
        if "FTP" in text and "SMTP" not in text:
            return PeerGuess("ftp", f"an FTP server greeting ({line})", starttls="ftp")
        if "SMTP" in text or "ESMTP" in text or "MAIL" in text or "POSTFIX" in text or "EXIM" in text:
            return PeerGuess("smtp", f"an SMTP server greeting ({line})", starttls="smtp")
        return PeerGuess("smtp", f"a '220' greeting, as SMTP and FTP servers send ({line})", starttls="smtp")
    if upper.startswith((b"<!DOCTYPE", b"<HTML")):
        return PeerGuess("http", "an HTML page without an HTTP status line")
    if _printable_share(data[:256]) >= 0.9:
        return PeerGuess("text", f"plain text ({line})")
    return PeerGuess("binary", "binary data that is not a TLS record")

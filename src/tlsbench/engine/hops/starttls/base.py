"""What every STARTTLS protocol shares: a sans-IO dialogue, bytes in, events and bytes out.

A `Dialogue` does no I/O. Its driver feeds it what the server sent (`receive(data)`, b"" for an
EOF) and sends what it asks for (`data_to_send()`); the dialogue keeps each message it sent or
parsed (`take_sent()`, `take_received()`, for the row's timed exchange) and the facts a
diagnosis needs (`facts`). It never raises for what the peer sends: bytes that are not its
protocol become an `UnexpectedReply`, an EOF a `ConnectionClosed`, and the dialogue stops.

A protocol is one `Dialogue` subclass, and its class attributes are its whole declaration (name,
title, ports, who speaks first, what its upgrade and capability list are called, how its greeting
looks): defining the class registers it in `REGISTRY`, and the spec, the options, `--starttls auto`,
the first-bytes classifier and the findings read them from there.

Its life: the plain phase (greeting, capabilities, the STARTTLS command) ends `ready` (start
TLS now) or `failed`; after the handshake `begin_tls()` starts the TLS phase (the capabilities
again), which ends `done` or `failed`.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

MAX_BUFFER = 65536  # bytes kept while a reply is incomplete: more is not this protocol
MAX_LINE = 8192  # a text line longer than this is not this protocol
KEEP_UNEXPECTED = 1024  # bytes kept as evidence of a reply that was not the protocol's


class Message(NamedTuple):
    """One message as it crossed the wire: a line of text (as sent, without CR LF) or, for binary
    protocols, a description of the message with its bytes."""

    direction: str  # "sent" | "received"
    text: str  # the line itself (latin-1, control characters kept), or a description
    raw: bytes
    binary: bool = False


# --- events (past tense: what the server did) ------------------------------------------------

class Greeted(NamedTuple):
    lines: tuple[str, ...]


class CapabilitiesListed(NamedTuple):
    phase: str  # "plain" | "tls"
    items: tuple[str, ...] | None  # None: the server lists none (the request is unknown to it)
    starttls: bool | None  # None: cannot tell


class UpgradeAccepted(NamedTuple):
    reply: tuple[str, ...]


class UpgradeRefused(NamedTuple):
    reply: tuple[str, ...]


class UpgradeNotOffered(NamedTuple):
    """The command was not sent: the server does not offer it (and sending it anyway would hang)."""

    reason: str


class SessionRefused(NamedTuple):
    """The server refused the session itself (a 421/554 greeting, IMAP BYE, POP3 -ERR)."""

    reply: tuple[str, ...]


class UnexpectedReply(NamedTuple):
    data: bytes
    expected: str


class ConnectionClosed(NamedTuple):
    awaiting: str  # what was awaited when the server closed


class Finished(NamedTuple):
    """The TLS phase is over (the capabilities over TLS were read)."""


DialogueEvent = (Greeted | CapabilitiesListed | UpgradeAccepted | UpgradeRefused | UpgradeNotOffered | SessionRefused
                 | UnexpectedReply | ConnectionClosed | Finished)


# --- the facts a diagnosis reads -------------------------------------------------------------

class Facts:
    """What the dialogue learnt, in the server's words (lines as received, latin-1)."""

    def __init__(self) -> None:
        self.greeting: tuple[str, ...] = ()
        self.capabilities: tuple[str, ...] | None = None  # before TLS; None: not listed
        self.capabilities_reply: tuple[str, ...] = ()  # the reply lines they came in, literally
        self.offered: bool | None = None  # STARTTLS among them; None: cannot tell
        self.password_auth: tuple[str, ...] = ()  # what offers a password in clear before TLS
        self.command: str | None = None  # the upgrade command as sent
        self.tried_anyway = False  # sent although not offered (as s_client does)
        self.not_tried: str | None = None  # why the command was not sent
        self.reply: tuple[str, ...] = ()  # the reply to the command, literally
        self.accepted: bool | None = None
        self.leftover = b""  # bytes after the reply that agreed: plaintext where TLS should start
        self.session_refused = False
        self.unexpected: bytes | None = None  # what came instead of the protocol
        self.too_long: str | None = None  # when it was the protocol, but a line or reply beyond the limits
        self.received_bytes = 0  # how much the reply had reached then
        self.expected = ""  # what was awaited then
        self.closed = False
        self.awaiting = ""  # what was awaited when the server closed (or went silent)
        self.partial = b""  # an incomplete reply the server left (closing, or going silent)
        self.capabilities_tls: tuple[str, ...] | None = None
        self.capabilities_tls_reply: tuple[str, ...] = ()
        self.password_auth_tls: tuple[str, ...] = ()
        self.server: str | None = None  # what the server says it is, when it says (MySQL's version)
        self.notes: list[str] = []


class Mismatch(Exception):
    """Internal: the bytes are not this protocol (`expected` says what was awaited)."""

    too_long: str | None = None

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


class TooLong(Mismatch):
    """Internal: the bytes may well be this protocol, but a line or a reply went on past the limits
    (`too_long` says which): a hostile or broken server, not another protocol."""

    def __init__(self, expected: str, too_long: str) -> None:
        super().__init__(expected)
        self.too_long = too_long


_CODED = re.compile(rb"^[1-5][0-9][0-9](?:[ -]|$)")
_CODED_START = re.compile(rb"^(?:[1-5](?:[0-9](?:[0-9](?:[ \r\n-]|$)|$)|$))")
PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")  # SASL mechanisms that carry the password itself


def line_text(raw: bytes) -> str:
    return raw.decode("latin-1")


REGISTRY: dict[str, type[Dialogue]] = {}  # every protocol by its s_client -starttls name, in definition order


class Dialogue:
    """The base of every protocol: buffer, lines, messages, facts, status."""

    protocol = ""  # the `openssl s_client -starttls` name; a subclass with one is registered
    title = ""
    choice = ""  # how a list of choices names it (default: the title)
    client_first = False  # the client speaks first (no greeting to wait for)
    try_anyway = True  # send the command even when the capabilities do not list it (s_client does)
    asks_again = True  # has capabilities to ask again over TLS
    ports: tuple[int, ...] = ()  # its plain-text ports, the first the one to suggest
    implicit_ports: tuple[tuple[int, str], ...] = ()  # its implicit-TLS ports and their usual names
    command = "STARTTLS"  # what the protocol calls the upgrade, in findings
    listing = "capabilities"  # what its capability list is called, in findings
    server_hint = ""  # how a server is usually told to offer the upgrade
    auth_hint = ""  # how a server is usually told to offer passwords only after TLS
    says_name = False  # its opening says the client's name (s_client -name)
    says_host = False  # its opening names the server's domain (s_client -xmpphost)
    ready_words = ""  # the summary when the server agreed, when the reply says nothing itself

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.protocol and "protocol" in cls.__dict__:
            REGISTRY[cls.protocol] = cls

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        """The words for a server's first bytes when they are this protocol's greeting (`line`: its
        first line, latin-1), else None."""
        return None

    def __init__(self, *, name: str = "mail.example.com", xmpphost: str = "localhost") -> None:
        self.name = name
        self.xmpphost = xmpphost
        self.facts = Facts()
        self.phase = "plain"
        self.status = "running"  # running | ready | failed | done
        self.step = ""  # what is awaited now, in words
        self._buf = bytearray()
        self._out = bytearray()
        self._sent: list[Message] = []
        self._received: list[Message] = []
        self._events: list[DialogueEvent] = []
        self.start()

    # --- the driver's side ------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def take_sent(self) -> list[Message]:
        out, self._sent = self._sent, []
        return out

    def take_received(self) -> list[Message]:
        out, self._received = self._received, []
        return out

    @property
    def running(self) -> bool:
        return self.status == "running"

    def receive(self, data: bytes) -> list:
        """The server's bytes (b"": it closed). Returns the events they caused; never raises."""
        if not self.running:
            if data and self.status == "ready" and len(self.facts.leftover) < KEEP_UNEXPECTED:
                self.facts.leftover += data[:KEEP_UNEXPECTED - len(self.facts.leftover)]
            return self._drain()
        if not data:
            self._closed()
            return self._drain()
        self._buf += data
        try:
            self.advance()
            if self.running and len(self._buf) > MAX_BUFFER:
                raise TooLong(f"{self.step} (no reply ended within {MAX_BUFFER // 1024} KiB)",
                              f"no reply ended within {MAX_BUFFER // 1024} KiB")
        except Mismatch as exc:
            self._unexpected(exc.expected, exc.too_long)
        except (ValueError, IndexError, UnicodeError) as exc:  # a parser's slip on hostile bytes
            self._unexpected(f"{self.step} ({type(exc).__name__} reading the reply)")
        return self._drain()

    def begin_tls(self, implicit: bool = False) -> list:
        """After the handshake: the TLS phase (the capabilities again; `implicit`: the connection
        started in TLS, so the server greets first as it would in clear)."""
        self.phase = "tls"
        self.status = "running"
        self._buf = bytearray()
        self._out, self._sent = bytearray(), []  # an opening queued by start() is not this phase's
        try:
            if not self.asks_again:
                self._finish()
            else:
                self.start_tls_phase(implicit)
        except Mismatch as exc:
            self._unexpected(exc.expected)
        return self._drain()

    def pending(self) -> bytes:
        """What the server sent that no reply has taken yet (for evidence when it went silent)."""
        return bytes(self._buf[:KEEP_UNEXPECTED])

    def timed_out(self) -> None:
        """The driver gave up waiting: keep what partly arrived."""
        self.facts.partial = self.pending()
        self.facts.awaiting = self.step

    # --- for the protocols ------------------------------------------------------------------------

    def start(self) -> None:
        raise NotImplementedError

    def advance(self) -> None:
        """Consume what the buffer holds; raise Mismatch for bytes that are not the protocol."""
        raise NotImplementedError

    def start_tls_phase(self, implicit: bool) -> None:
        raise NotImplementedError

    def _event(self, event: DialogueEvent) -> None:
        self._events.append(event)

    def _drain(self) -> list[DialogueEvent]:
        out, self._events = self._events, []
        return out

    def send_line(self, text: str) -> None:
        raw = text.encode("ascii", "replace")
        self._out += raw + b"\r\n"
        self._sent.append(Message("sent", text, raw))

    def send_text(self, text: str) -> None:
        """Text that is not line-based (an XML stream): sent as it is, shown as one message."""
        raw = text.encode("ascii", "replace")
        self._out += raw
        self._sent.append(Message("sent", text, raw))

    def send_binary(self, raw: bytes, description: str) -> None:
        self._out += raw
        self._sent.append(Message("sent", description, raw, binary=True))

    def received_binary(self, raw: bytes, description: str) -> None:
        self._received.append(Message("received", description, raw, binary=True))

    def received_text(self, raw: bytes) -> None:
        self._received.append(Message("received", line_text(raw), raw))

    def lines(self) -> list[tuple[bytes, int]]:
        """The complete lines in the buffer (without CR LF), each with where it ends; nothing is taken."""
        out: list[tuple[bytes, int]] = []
        start = 0
        buf = self._buf
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                if len(buf) - start > MAX_LINE:
                    raise TooLong(f"{self.step} (a line of text; none ended within {MAX_LINE // 1024} KiB)",
                                  f"a line went on for more than {MAX_LINE // 1024} KiB without ending")
                return out
            if end - start > MAX_LINE:
                raise TooLong(f"{self.step} (a line of text shorter than {MAX_LINE // 1024} KiB)",
                              f"a line of {end - start:,} bytes (at most {MAX_LINE // 1024} KiB are taken)")
            line = bytes(buf[start:end])
            if line.endswith(b"\r"):
                line = line[:-1]
            out.append((line, end + 1))
            start = end + 1

    def take(self, lines: list[tuple[bytes, int]]) -> tuple[str, ...]:
        """Take these lines (the first ones of `lines()`) off the buffer, recording each."""
        if not lines:
            return ()
        del self._buf[:lines[-1][1]]
        for raw, _ in lines:
            self.received_text(raw)
        return tuple(line_text(raw) for raw, _ in lines)

    def take_bytes(self, count: int) -> bytes:
        raw = bytes(self._buf[:count])
        del self._buf[:count]
        return raw

    @property
    def buffered(self) -> bytes:
        return bytes(self._buf)

    def coded_reply(self, expected: str, lenient: bool = False) -> tuple[int, tuple[str, ...]] | None:
        """A reply with three-digit codes (SMTP, FTP): `ddd text`, or `ddd-` lines ending with `ddd text`.
        `lenient` (FTP): lines between may be anything. None while it is incomplete."""
        head = bytes(self._buf[:4])
        if head and not _CODED_START.match(head):
            raise Mismatch(expected)
        lines = self.lines()
        if not lines:
            return None
        first = lines[0][0]
        if not _CODED.match(first):
            raise Mismatch(expected)
        code = first[:3]
        if first[3:4] != b"-":
            return int(code), self.take(lines[:1])
        for i, (line, _) in enumerate(lines[1:], 1):
            if line[:3] == code and line[3:4] in (b" ", b""):
                return int(code), self.take(lines[:i + 1])
            if not lenient and not (line[:3] == code and line[3:4] == b"-"):
                raise Mismatch(expected)
        return None

    def capabilities(self, items: tuple[str, ...] | None, offered: bool | None, password: tuple[str, ...],
                     reply: tuple[str, ...]) -> None:
        f = self.facts
        if self.phase == "plain":
            f.capabilities, f.offered, f.password_auth, f.capabilities_reply = items, offered, password, reply
        else:
            f.capabilities_tls, f.password_auth_tls, f.capabilities_tls_reply = items, password, reply
        self._event(CapabilitiesListed(self.phase, items, offered))

    def ask_upgrade(self, send: Callable[[], None], command: str) -> None:
        """Send the upgrade command (through `send()`), unless it is not offered and this protocol
        does not try anyway."""
        f = self.facts
        if f.offered is not True and not self.try_anyway:
            reason = ("the server does not list it" if f.offered is False
                      else "the server lists no capabilities, so STARTTLS cannot be offered")
            f.not_tried = reason
            self.status = "failed"
            self._event(UpgradeNotOffered(reason))
            return
        f.command = command
        f.tried_anyway = f.offered is False
        send()
        self.step = f"the reply to {command}"

    def accepted(self, reply: tuple[str, ...]) -> None:
        f = self.facts
        f.reply, f.accepted = reply, True
        f.leftover = bytes(self._buf[:KEEP_UNEXPECTED])
        self._buf = bytearray()
        self.status = "ready"
        self._event(UpgradeAccepted(reply))

    def refused(self, reply: tuple[str, ...]) -> None:
        self.facts.reply, self.facts.accepted = reply, False
        self.status = "failed"
        self._event(UpgradeRefused(reply))

    def session_refused(self, reply: tuple[str, ...]) -> None:
        self.facts.session_refused = True
        self.facts.reply = reply
        self.status = "failed"
        self._event(SessionRefused(reply))

    def _finish(self) -> None:
        self.status = "done"
        self._event(Finished())

    def _unexpected(self, expected: str, too_long: str | None = None) -> None:
        f = self.facts
        f.unexpected = bytes(self._buf[:KEEP_UNEXPECTED])
        f.expected = expected
        f.too_long = too_long
        f.received_bytes = len(self._buf)
        f.awaiting = self.step
        if f.unexpected and _binary(f.unexpected):
            self.received_binary(f.unexpected[:64], f"{len(self._buf)} byte(s) that are not {self.title}")
        elif f.unexpected:
            self.received_text(f.unexpected[:200])
        self.status = "failed"
        self._event(UnexpectedReply(f.unexpected, expected))

    def _closed(self) -> None:
        f = self.facts
        f.closed = True
        f.awaiting = self.step
        f.partial = bytes(self._buf[:KEEP_UNEXPECTED])
        self.status = "failed"
        self._event(ConnectionClosed(self.step))


def _binary(data: bytes) -> bool:
    sample = data[:256]
    text = sum(1 for b in sample if 0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D))
    return text < len(sample) * 0.9


def words(line: str) -> list[str]:
    return line.split()


def password_mechanisms(mechanisms: list[str] | tuple[str, ...]) -> list[str]:
    return [m for m in mechanisms if m.upper() in PASSWORD_MECHANISMS]

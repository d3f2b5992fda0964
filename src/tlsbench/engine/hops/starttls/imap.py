"""IMAP (RFC 3501 / 9051): `* OK` greeting, CAPABILITY, STARTTLS, a tagged OK to go on.

    S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready
    C: A1 CAPABILITY
    S: * CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED
    S: A1 OK done
    C: A2 STARTTLS
    S: A2 OK Begin TLS negotiation now
    ... TLS ..., then A3 CAPABILITY: AUTH=PLAIN appears, LOGINDISABLED goes.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Greeted, Mismatch
from tlsbench.engine.hops.starttls.line import LineDialogue

PASSWORD_ITEMS = ("AUTH=PLAIN", "AUTH=LOGIN")


def password_items(items: tuple[str, ...]) -> tuple[str, ...]:
    """What sends a password in clear: AUTH=PLAIN, AUTH=LOGIN, and the LOGIN command itself unless
    the server says LOGINDISABLED."""
    upper = [i.upper() for i in items]
    out = [i for i in items if i.upper() in PASSWORD_ITEMS]
    if "LOGINDISABLED" not in upper:
        out.append("the LOGIN command (no LOGINDISABLED)")
    return tuple(out)


class Imap(LineDialogue):
    protocol = "imap"
    title = "IMAP"
    ports = (143,)
    implicit_ports = ((993, "IMAPS"),)
    listing = "CAPABILITY reply"
    server_hint = "dovecot: ssl = yes with ssl_cert and ssl_key"
    auth_hint = "dovecot: disable_plaintext_auth = yes"
    greeting = "the greeting (* OK)"
    ask = "CAPABILITY"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        if data.startswith(b"* OK") or data.startswith(b"* PREAUTH"):
            return f"an IMAP server greeting ({line})"
        return None

    def start(self) -> None:
        self.tag = 0
        self.current = "A0"
        super().start()

    def ask_capabilities(self) -> None:
        self._command(self.ask)

    def send_upgrade(self) -> None:
        self._command(self.command)

    def _command(self, command: str) -> None:
        self.tag += 1
        self.current = f"A{self.tag}"
        self.send_line(f"{self.current} {command}")
        self.step = f"the reply to {command}"

    def advance(self) -> None:
        while self.running:
            if self.step.startswith("the greeting"):
                head = bytes(self._buf[:2])
                if head and not b"* ".startswith(head):
                    raise Mismatch("an IMAP greeting (* OK)")
                pending = self.lines()
                if not pending:
                    return
                raw = pending[0][0]
                word = raw[2:].split(b" ", 1)[0].upper()
                if not raw.startswith(b"* ") or word not in (b"OK", b"PREAUTH", b"BYE"):
                    raise Mismatch("an IMAP greeting (* OK)")
                greeting = self.take(pending[:1])
                self.facts.greeting = self.facts.greeting or greeting
                if word == b"BYE":
                    self.session_refused(greeting)
                    return
                if word == b"PREAUTH" and self.phase == "plain":
                    self.facts.notes.append("PREAUTH: the session is already authenticated, and RFC 3501 "
                                            "allows no STARTTLS then")
                self._event(Greeted(greeting))
                self.ask_capabilities()
                continue
            done = self._tagged()
            if done is None:
                return
            status, lines = done
            if self.step == "the reply to CAPABILITY":
                items: tuple[str, ...] | None = None
                for line in lines:
                    parts = line.split()
                    if len(parts) >= 2 and parts[0] == "*" and parts[1].upper() == "CAPABILITY":
                        items = tuple(parts[2:])
                if status != "OK" or items is None:
                    self.listed(None, None, (), lines)
                else:
                    offered = any(i.upper() == "STARTTLS" for i in items)
                    self.listed(items, offered, password_items(items), lines)
            else:
                tagged = lines[-1:]
                if status == "OK":
                    self.accepted(tagged)
                else:
                    self.refused(tagged)
                return

    def _tagged(self) -> tuple[str, tuple[str, ...]] | None:
        """Untagged lines up to the tagged status line of the current command: (status, lines)."""
        tag = self.current.encode() + b" "
        head = bytes(self._buf[:len(tag)])
        if head and not (b"* ".startswith(head[:2]) or b"+ ".startswith(head[:2]) or tag.startswith(head)):
            raise Mismatch(f"an IMAP reply (untagged '* ' lines, then '{self.current} OK')")
        lines = self.lines()
        for i, (raw, _) in enumerate(lines):
            if raw.startswith(tag):
                status = raw[len(tag):].split(b" ", 1)[0].upper().decode("latin-1")
                if status not in ("OK", "NO", "BAD"):
                    raise Mismatch(f"'{self.current} OK', NO or BAD")
                return status, self.take(lines[:i + 1])
            if not (raw.startswith(b"* ") or raw.startswith(b"+")):
                raise Mismatch(f"an IMAP reply (untagged '* ' lines, then '{self.current} OK')")
        return None

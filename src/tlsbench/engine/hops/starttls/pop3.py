"""POP3 (RFC 2595, RFC 2449): `+OK` greeting, CAPA, STLS, `+OK` to go on.

    S: +OK ready
    C: CAPA
    S: +OK / TOP / UIDL / STLS / SASL / .
    C: STLS
    S: +OK Begin TLS negotiation now.
    ... TLS ..., then CAPA again: USER and SASL PLAIN often appear only now.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Greeted, Mismatch, password_mechanisms
from tlsbench.engine.hops.starttls.line import LineDialogue


def password_items(items: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        parts = item.split()
        if not parts:
            continue
        if parts[0].upper() == "USER":
            out.append("USER (USER/PASS login)")
        elif parts[0].upper() == "SASL":
            out += [f"SASL {m}" for m in password_mechanisms(parts[1:])]
    return tuple(out)


class Pop3(LineDialogue):
    protocol = "pop3"
    title = "POP3"
    ports = (110,)
    implicit_ports = ((995, "POP3S"),)
    command = "STLS"
    listing = "CAPA reply"
    server_hint = "dovecot: ssl = yes with ssl_cert and ssl_key"
    auth_hint = "dovecot: disable_plaintext_auth = yes"
    greeting = "the greeting (+OK)"
    ask = "CAPA"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        return f"a POP3 server greeting ({line})" if data.startswith(b"+OK") else None

    def _status(self, expected: str) -> tuple[bool, tuple[str, ...]] | None:
        head = bytes(self._buf[:4])
        if head and not (b"+OK".startswith(head[:3]) or b"-ERR".startswith(head)):
            raise Mismatch(expected)
        lines = self.lines()
        if not lines:
            return None
        raw = lines[0][0]
        if not (raw.startswith(b"+OK") or raw.startswith(b"-ERR")):
            raise Mismatch(expected)
        return raw.startswith(b"+OK"), self.take(lines[:1])

    def advance(self) -> None:
        while self.running:
            if self.step.startswith("the greeting"):
                status = self._status("a POP3 greeting (+OK)")
                if status is None:
                    return
                ok, lines = status
                self.facts.greeting = self.facts.greeting or lines
                if not ok:
                    self.session_refused(lines)
                    return
                self._event(Greeted(lines))
                self.ask_capabilities()
            elif self.step == "the reply to CAPA":
                listed = self._capa_reply()
                if listed is None:
                    return
                ok, lines = listed
                if ok:
                    items = tuple(line for line in lines[1:-1])
                    offered = any(i.split()[:1] == ["STLS"] for i in items if i.strip())
                    self.listed(items, offered, password_items(items), lines)
                else:
                    self.listed(None, None, (), lines)
            else:
                status = self._status("+OK or -ERR")
                if status is None:
                    return
                ok, lines = status
                if ok:
                    self.accepted(lines)
                else:
                    self.refused(lines)
                return

    def _capa_reply(self) -> tuple[bool, tuple[str, ...]] | None:
        """`+OK` then lines up to a lone `.`; or one `-ERR` line (no CAPA)."""
        head = bytes(self._buf[:4])
        if head and not (b"+OK".startswith(head[:3]) or b"-ERR".startswith(head)):
            raise Mismatch("a reply to CAPA (+OK and a list ending with '.', or -ERR)")
        lines = self.lines()
        if not lines:
            return None
        if lines[0][0].startswith(b"-ERR"):
            return False, self.take(lines[:1])
        if not lines[0][0].startswith(b"+OK"):
            raise Mismatch("a reply to CAPA (+OK and a list ending with '.', or -ERR)")
        listed = self.dotted(lines)
        return None if listed is None else (True, listed)

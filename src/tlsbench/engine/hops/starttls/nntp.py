"""NNTP (RFC 4642, RFC 3977): 200/201 greeting, CAPABILITIES, STARTTLS, 382 to go on.

    S: 200 news.example.com ready (posting ok)
    C: CAPABILITIES
    S: 101 Capability list: / VERSION 2 / READER / STARTTLS / .
    C: STARTTLS
    S: 382 Continue with TLS negotiation
    ... TLS ..., then CAPABILITIES again (AUTHINFO USER often appears only now).
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Greeted, Mismatch, password_mechanisms
from tlsbench.engine.hops.starttls.line import LineDialogue


def password_items(items: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        parts = item.upper().split()
        if parts[:1] == ["AUTHINFO"] and "USER" in parts[1:]:
            out.append("AUTHINFO USER")
        elif parts[:1] == ["SASL"]:
            out += [f"SASL {m}" for m in password_mechanisms(parts[1:])]
    return tuple(out)


class Nntp(LineDialogue):
    protocol = "nntp"
    title = "NNTP"
    ports = (119,)
    implicit_ports = ((563, "NNTPS"),)
    listing = "CAPABILITIES reply"
    server_hint = "INN: tlscertfile and tlskeyfile in inn.conf"
    auth_hint = "INN: require TLS before AUTHINFO in readers.conf"
    greeting = "the greeting (200 or 201)"
    ask = "CAPABILITIES"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        if data[:3] in (b"200", b"201") and data[3:4] == b" ":
            return f"an NNTP server greeting ({line})"
        return None

    def advance(self) -> None:
        while self.running:
            if self.step == "the reply to CAPABILITIES":
                listed = self._list()
                if listed is None:
                    return
                code, lines = listed
                if code == 101:
                    items = tuple(line for line in lines[1:-1] if line.strip())
                    offered = any(i.upper().split()[:1] == ["STARTTLS"] for i in items)
                    self.listed(items, offered, password_items(items), lines)
                else:
                    self.listed(None, None, (), lines)
                continue
            greeting = self.step.startswith("the greeting")
            reply = self.coded_reply("an NNTP greeting (200 or 201)" if greeting else "an NNTP status line")
            if reply is None:
                return
            code, lines = reply
            if greeting:
                self.facts.greeting = self.facts.greeting or lines
                if code >= 400:  # 400 service not available, 502 service permanently unavailable
                    self.session_refused(lines)
                    return
                if code not in (200, 201):
                    raise Mismatch(f"an NNTP greeting (200 or 201), not {code}")
                self._event(Greeted(lines))
                self.ask_capabilities()
            else:
                if code == 382:
                    self.accepted(lines)
                else:
                    self.refused(lines)
                return

    def _list(self) -> tuple[int, tuple[str, ...]] | None:
        """A status line; after 101, the lines up to a lone '.'."""
        head = bytes(self._buf[:4])
        lines = self.lines()
        if head and not head[:1].isdigit():
            raise Mismatch("an NNTP status line (a three-digit code)")
        if not lines:
            return None
        first = lines[0][0]
        if len(first) < 3 or not first[:3].isdigit():
            raise Mismatch("an NNTP status line (a three-digit code)")
        code = int(first[:3])
        if code != 101:
            return code, self.take(lines[:1])
        listed = self.dotted(lines)
        return None if listed is None else (code, listed)

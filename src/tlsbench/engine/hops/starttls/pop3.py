"""POP3 (RFC 2595, RFC 2449): `+OK` greeting, CAPA, STLS, `+OK` to go on.

    S: +OK ready
    C: CAPA
    S: +OK / TOP / UIDL / STLS / SASL / .
    C: STLS
    S: +OK Begin TLS negotiation now.
    ... TLS ..., then CAPA again: USER and SASL PLAIN often appear only now.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Dialogue, Greeted, Mismatch, password_mechanisms


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


class Pop3(Dialogue):
    protocol = "pop3"
    title = "POP3"

    def start(self) -> None:
        self.step = "the greeting (+OK)"

    def start_tls_phase(self, implicit: bool) -> None:
        if implicit:
            self.step = "the greeting (+OK)"
        else:
            self._capa()

    def _capa(self) -> None:
        self.send_line("CAPA")
        self.step = "the reply to CAPA"

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
                self._capa()
            elif self.step == "the reply to CAPA":
                listed = self._capa_reply()
                if listed is None:
                    return
                ok, lines = listed
                if ok:
                    items = tuple(line for line in lines[1:-1])
                    offered = any(i.split()[:1] == ["STLS"] for i in items if i.strip())
                    self.capabilities(items, offered, password_items(items), lines)
                else:
                    self.capabilities(None, None, (), lines)
                if self.phase == "tls":
                    self._finish()
                    return
                self.ask_upgrade(self._stls, "STLS")
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

    def _stls(self) -> None:
        self.send_line("STLS")

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
        for i, (raw, _) in enumerate(lines[1:], 1):
            if raw == b".":
                return True, self.take(lines[:i + 1])
        return None

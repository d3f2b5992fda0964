"""ManageSieve (RFC 5804): the greeting is the capability list; STARTTLS; OK to go on; after the
handshake the server sends its capabilities again by itself.

    S: "IMPLEMENTATION" "Dovecot Pigeonhole" / "SASL" "" / "STARTTLS" / OK "ready."
    C: STARTTLS
    S: OK "Begin TLS negotiation now."
    ... TLS ...
    S: "IMPLEMENTATION" ... / "SASL" "PLAIN LOGIN" / OK "TLS negotiation successful."
"""

from __future__ import annotations

import re

from tlsbench.engine.hops.starttls.base import Dialogue, Greeted, Mismatch, password_mechanisms

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_RESPONSES = (b"OK", b"NO", b"BYE")


def strings(line: str) -> list[str]:
    return _QUOTED.findall(line)


def password_items(items: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        values = strings(item)
        if values[:1] and values[0].upper() == "SASL" and len(values) > 1:
            out += [f"SASL {m}" for m in password_mechanisms(values[1].split())]
    return tuple(out)


def _response(raw: bytes) -> bytes | None:
    word = raw.split(b" ", 1)[0].split(b"(", 1)[0].upper()
    return word if word in _RESPONSES else None


class Sieve(Dialogue):
    protocol = "sieve"
    title = "ManageSieve"
    ports = (4190,)
    listing = "capability list"
    server_hint = "dovecot: ssl = yes with ssl_cert and ssl_key"
    auth_hint = "dovecot: disable_plaintext_auth = yes"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        if data.startswith((b'"IMPLEMENTATION"', b'"SIEVE"', b'"SASL"', b'"STARTTLS"')):
            return f"a ManageSieve server greeting ({line})"
        return None

    def start(self) -> None:
        self.step = "the greeting (the capability list, then OK)"

    def start_tls_phase(self, implicit: bool) -> None:
        self.step = "the capability list over TLS (sent by the server)"

    def advance(self) -> None:
        while self.running:
            head = bytes(self._buf[:1])
            if head and head not in b'"ONBonb{':
                raise Mismatch("a ManageSieve reply (quoted capabilities, then OK)")
            lines = self.lines()
            end = next((i for i, (raw, _) in enumerate(lines) if _response(raw)), None)
            for raw, _ in lines[:end]:
                if not raw.startswith(b'"') and not raw.startswith(b"{"):
                    raise Mismatch("a ManageSieve reply (quoted capabilities, then OK)")
            if end is None:
                return
            word = _response(lines[end][0])
            taken = self.take(lines[:end + 1])
            if self.step.endswith("then OK)") or self.step.startswith("the capability list"):
                if self.phase == "plain":
                    self.facts.greeting = taken
                if word != b"OK":
                    self.session_refused(taken)
                    return
                items = taken[:-1]
                offered = any(strings(i)[:1] and strings(i)[0].upper() == "STARTTLS" for i in items)
                if self.phase == "plain":
                    self._event(Greeted(taken))
                self.capabilities(items, offered, password_items(items), taken)
                if self.phase == "tls":
                    self._finish()
                    return
                self.ask_upgrade(lambda: self.send_line("STARTTLS"), "STARTTLS")
            else:
                if word == b"OK":
                    self.accepted(taken[-1:])
                else:
                    self.refused(taken[-1:])
                return

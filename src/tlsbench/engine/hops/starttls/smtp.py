"""SMTP (RFC 3207) and LMTP (RFC 2033): 220 greeting, EHLO/LHLO NAME, STARTTLS, 220 to go on.

    S: 220 mail.example.com ESMTP
    C: EHLO client.example.com        (LMTP: LHLO)
    S: 250-mail.example.com / 250-STARTTLS / 250 AUTH PLAIN LOGIN
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    ... TLS ..., then EHLO again: the extensions over TLS (AUTH often appears only now).
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Dialogue, Greeted, Mismatch, password_mechanisms


def extensions(reply: tuple[str, ...]) -> tuple[str, ...]:
    """The EHLO keywords: every line after the first (which names the server), code stripped."""
    return tuple(line[4:].strip() for line in reply[1:])


def auth_mechanisms(items: tuple[str, ...]) -> list[str]:
    """The SASL mechanisms of `AUTH m1 m2` (and the old `AUTH=m1 m2`) lines."""
    out: list[str] = []
    for item in items:
        head = item[:5].upper()
        if head in ("AUTH ", "AUTH="):
            out += item[5:].split()
    return out


class Smtp(Dialogue):
    protocol = "smtp"
    title = "SMTP"
    hello = "EHLO"

    def start(self) -> None:
        self.step = "the greeting (220)"

    def start_tls_phase(self, implicit: bool) -> None:
        if implicit:
            self.step = "the greeting (220)"
        else:
            self._hello()

    def _hello(self) -> None:
        self.send_line(f"{self.hello} {self.name}")
        self.step = f"the reply to {self.hello}"

    def advance(self) -> None:
        while self.running:
            expected = f"an {self.title} reply (a three-digit code)"
            reply = self.coded_reply(expected if self.step.startswith("the reply") else
                                     f"an {self.title} greeting (220)")
            if reply is None:
                return
            code, lines = reply
            if self.step.startswith("the greeting"):
                self.facts.greeting = self.facts.greeting or lines
                if code >= 400:  # 421 or 554: no service here
                    self.session_refused(lines)
                    return
                if code != 220:
                    raise Mismatch(f"an {self.title} greeting (220), not {code}")
                self._event(Greeted(lines))
                self._hello()
            elif self.step == f"the reply to {self.hello}":
                if code == 250:
                    items = extensions(lines)
                    offered = any(i.upper() == "STARTTLS" for i in items)
                    password = tuple(f"AUTH {m}" for m in password_mechanisms(auth_mechanisms(items)))
                    self.capabilities(items, offered, password, lines)
                else:
                    self.capabilities(None, None, (), lines)  # EHLO unknown: STARTTLS can still be tried
                if self.phase == "tls":
                    self._finish()
                    return
                self.ask_upgrade(lambda: self.send_line("STARTTLS"), "STARTTLS")
            else:  # the reply to STARTTLS
                if code == 220:
                    self.accepted(lines)
                else:
                    self.refused(lines)
                return


class Lmtp(Smtp):
    protocol = "lmtp"
    title = "LMTP"
    hello = "LHLO"

"""FTP with AUTH TLS (RFC 4217, explicit FTPS): 220 greeting, FEAT, AUTH TLS, 234 to go on.

    S: 220 ready
    C: FEAT
    S: 211-Features: / AUTH TLS / PBSZ / PROT / 211 End
    C: AUTH TLS
    S: 234 Proceed with negotiation.
    ... TLS ..., then FEAT again.

FTP always lets USER/PASS through in clear unless the server insists on TLS, which only a login
attempt would show: there is no password warning here.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Dialogue, Greeted, Mismatch


class Ftp(Dialogue):
    protocol = "ftp"
    title = "FTP"

    def start(self) -> None:
        self.step = "the greeting (220)"

    def start_tls_phase(self, implicit: bool) -> None:
        if implicit:
            self.step = "the greeting (220)"
        else:
            self._feat()

    def _feat(self) -> None:
        self.send_line("FEAT")
        self.step = "the reply to FEAT"

    def advance(self) -> None:
        while self.running:
            greeting = self.step.startswith("the greeting")
            reply = self.coded_reply("an FTP greeting (220)" if greeting else "an FTP reply (a three-digit code)",
                                     lenient=True)
            if reply is None:
                return
            code, lines = reply
            if greeting:
                self.facts.greeting = self.facts.greeting + lines
                if code == 120:  # "ready in nnn minutes": the real greeting follows
                    continue
                if code >= 400:
                    self.session_refused(lines)
                    return
                if code != 220:
                    raise Mismatch(f"an FTP greeting (220), not {code}")
                self._event(Greeted(self.facts.greeting))
                self._feat()
            elif self.step == "the reply to FEAT":
                if code == 211:
                    items = tuple(line.strip() for line in lines[1:-1] if line.strip())
                    offered = any(_auth_tls(i) for i in items)
                    self.capabilities(items, offered, (), lines)
                else:
                    self.capabilities(None, None, (), lines)
                if self.phase == "tls":
                    self._finish()
                    return
                self.ask_upgrade(lambda: self.send_line("AUTH TLS"), "AUTH TLS")
            else:
                if code == 234:
                    self.accepted(lines)
                else:
                    self.refused(lines)
                return


def _auth_tls(item: str) -> bool:
    parts = item.upper().split(None, 1)
    return len(parts) == 2 and parts[0] == "AUTH" and "TLS" in parts[1].replace(";", " ").split()

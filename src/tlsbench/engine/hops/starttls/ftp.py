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

from tlsbench.engine.hops.starttls.base import Greeted, Mismatch
from tlsbench.engine.hops.starttls.line import LineDialogue
from tlsbench.engine.hops.starttls.smtp import coded_220, says_ftp


class Ftp(LineDialogue):
    protocol = "ftp"
    title = "FTP"
    choice = "FTP (AUTH TLS)"
    ports = (21,)
    implicit_ports = ((990, "FTPS (implicit)"),)
    command = "AUTH TLS"
    listing = "FEAT reply"
    server_hint = "vsftpd: ssl_enable=YES with rsa_cert_file and rsa_private_key_file"
    greeting = "the greeting (220)"
    ask = "FEAT"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        return f"an FTP server greeting ({line})" if coded_220(data, line) and says_ftp(line) else None

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
                self.ask_capabilities()
            elif self.step == "the reply to FEAT":
                if code == 211:
                    items = tuple(line.strip() for line in lines[1:-1] if line.strip())
                    offered = any(_auth_tls(i) for i in items)
                    self.listed(items, offered, (), lines)
                else:
                    self.listed(None, None, (), lines)
            else:
                if code == 234:
                    self.accepted(lines)
                else:
                    self.refused(lines)
                return


def _auth_tls(item: str) -> bool:
    parts = item.upper().split(None, 1)
    return len(parts) == 2 and parts[0] == "AUTH" and "TLS" in parts[1].replace(";", " ").split()

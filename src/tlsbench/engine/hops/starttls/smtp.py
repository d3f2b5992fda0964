"""SMTP (RFC 3207): 220 greeting, EHLO NAME, STARTTLS, 220 to go on.

    S: 220 mail.example.com ESMTP
    C: EHLO client.example.com
    S: 250-mail.example.com / 250-STARTTLS / 250 AUTH PLAIN LOGIN
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    ... TLS ..., then EHLO again: the extensions over TLS (AUTH often appears only now).
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Greeted, Mismatch, password_mechanisms
from tlsbench.engine.hops.starttls.line import LineDialogue


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


def coded_220(data: bytes, line: str) -> bool:
    """A '220' (or '421') greeting, as SMTP, LMTP and FTP servers send."""
    return data[:3] in (b"220", b"421") and len(data) > 3 and data[3:4] in (b" ", b"-")


def says_ftp(line: str) -> bool:
    text = line.upper()
    return "FTP" in text and "SMTP" not in text


class Smtp(LineDialogue):
    protocol = "smtp"
    title = "SMTP"
    ports: tuple[int, ...] = (587, 25, 2525)
    implicit_ports: tuple[tuple[int, str], ...] = ((465, "SMTP submission over TLS (submissions)"),)
    listing = "EHLO reply"
    server_hint = "postfix: smtpd_tls_cert_file, smtpd_tls_key_file and smtpd_tls_security_level = may"
    auth_hint = "postfix: smtpd_tls_auth_only = yes"
    says_name = True
    greeting = "the greeting (220)"
    ask = "EHLO"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        # SMTP, LMTP and FTP all greet with 220; the text usually says which (LMTP and FTP take theirs).
        if not coded_220(data, line) or says_ftp(line) or "LMTP" in line.upper():
            return None
        text = line.upper()
        if "SMTP" in text or "ESMTP" in text or "MAIL" in text or "POSTFIX" in text or "EXIM" in text:
            return f"an SMTP server greeting ({line})"
        return f"a '220' greeting, as SMTP and FTP servers send ({line})"

    def ask_line(self) -> str:
        return f"{self.ask} {self.name}"

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
                self.ask_capabilities()
            elif self.step == f"the reply to {self.ask}":
                if code == 250:
                    items = extensions(lines)
                    offered = any(i.upper() == "STARTTLS" for i in items)
                    password = tuple(f"AUTH {m}" for m in password_mechanisms(auth_mechanisms(items)))
                    self.listed(items, offered, password, lines)
                else:
                    self.listed(None, None, (), lines)  # EHLO unknown: STARTTLS can still be tried
            else:  # the reply to STARTTLS
                if code == 220:
                    self.accepted(lines)
                else:
                    self.refused(lines)
                return

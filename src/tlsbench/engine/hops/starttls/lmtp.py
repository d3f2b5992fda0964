"""LMTP (RFC 2033): SMTP's dialogue with LHLO for EHLO.

    S: 220 lmtp.example.com LMTP ready
    C: LHLO client.example.com
    S: 250-lmtp.example.com / 250-STARTTLS / 250 PIPELINING
    C: STARTTLS
    S: 220 2.0.0 Begin TLS negotiation now
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.smtp import Smtp, coded_220, says_ftp


class Lmtp(Smtp):
    protocol = "lmtp"
    title = "LMTP"
    ports = (24,)
    implicit_ports = ()
    listing = "LHLO reply"
    server_hint = "dovecot: ssl = yes with ssl_cert and ssl_key"
    auth_hint = ""
    ask = "LHLO"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        if coded_220(data, line) and not says_ftp(line) and "LMTP" in line.upper():
            return f"an LMTP server greeting ({line})"
        return None

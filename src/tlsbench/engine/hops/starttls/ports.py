"""What a port usually carries: the protocols that upgrade in band (STARTTLS), and the ports that
speak TLS at once (implicit TLS). A hint only: the greeting, when there is one, decides.

No imports beyond the standard library: the TLS diagnosis reads these tables too.
"""

from __future__ import annotations

# The plain-text port of each protocol (the first is the one to suggest).
STARTTLS_PORTS: dict[str, tuple[int, ...]] = {
    "smtp": (587, 25, 2525), "lmtp": (24,), "imap": (143,), "pop3": (110,), "ftp": (21,), "xmpp": (5222,),
    "ldap": (389,), "postgres": (5432,), "mysql": (3306,), "nntp": (119,), "sieve": (4190,),
    "irc": (6667, 6668, 6669, 194),
}
PORT_PROTOCOL: dict[int, str] = {port: proto for proto, ports in STARTTLS_PORTS.items() for port in ports}

# Ports whose service speaks TLS from the first byte: (the protocol inside, its usual name).
IMPLICIT_TLS_PORTS: dict[int, tuple[str | None, str]] = {
    465: ("smtp", "SMTP submission over TLS (submissions)"), 993: ("imap", "IMAPS"), 995: ("pop3", "POP3S"),
    636: ("ldap", "LDAPS"), 3269: ("ldap", "LDAPS (global catalog)"), 990: ("ftp", "FTPS (implicit)"),
    563: ("nntp", "NNTPS"), 5223: ("xmpp", "XMPP over TLS (legacy port)"), 6697: ("irc", "IRC over TLS"),
    443: (None, "HTTPS"), 8443: (None, "HTTPS"), 853: (None, "DNS over TLS"), 8883: (None, "MQTT over TLS"),
    5671: (None, "AMQP over TLS"), 5061: (None, "SIP over TLS"),
}
# The implicit-TLS port of each protocol, for suggestions.
IMPLICIT_PORT: dict[str, int] = {"smtp": 465, "imap": 993, "pop3": 995, "ldap": 636, "ftp": 990, "nntp": 563,
                                 "xmpp": 5223, "irc": 6697}

CLIENT_FIRST = ("xmpp", "ldap", "postgres", "irc")  # no greeting: the client speaks first

TITLES = {"smtp": "SMTP", "pop3": "POP3", "imap": "IMAP", "ftp": "FTP", "xmpp": "XMPP", "lmtp": "LMTP",
          "nntp": "NNTP", "sieve": "ManageSieve", "ldap": "LDAP", "postgres": "PostgreSQL", "mysql": "MySQL",
          "irc": "IRC"}


def implicit_tls(port: int) -> tuple[str | None, str] | None:
    return IMPLICIT_TLS_PORTS.get(port)


def usual_protocol(port: int) -> str | None:
    return PORT_PROTOCOL.get(port)


def plain_port(protocol: str) -> int | None:
    ports = STARTTLS_PORTS.get(protocol)
    return ports[0] if ports else None

"""Every STARTTLS protocol by its `openssl s_client -starttls` name: importing this module loads
each protocol's module, whose `Dialogue` subclasses register themselves (base.REGISTRY); the
order here is the order lists and help show them in."""

from __future__ import annotations

from tlsbench.engine.hops.starttls import (ftp, imap, irc, ldap, lmtp, mysql, nntp, pop3, postgres, sieve, smtp,
                                           xmpp)
from tlsbench.engine.hops.starttls.base import REGISTRY, Dialogue

_MODULES = (smtp, pop3, imap, ftp, xmpp, lmtp, nntp, sieve, ldap, postgres, mysql, irc)

DIALOGUES: dict[str, type[Dialogue]] = {
    name: cls for module in _MODULES for name, cls in REGISTRY.items() if cls.__module__ == module.__name__}
NAMES: tuple[str, ...] = tuple(DIALOGUES)


def dialogue(protocol: str, *, name: str = "mail.example.com", xmpphost: str = "localhost") -> Dialogue:
    return DIALOGUES[protocol](name=name, xmpphost=xmpphost)


def title(protocol: str | None, default: str | None = None) -> str:
    """The protocol's title ('NNTP'); `default` (else the name itself) for one not registered."""
    found = DIALOGUES.get(protocol or "")
    return found.title if found else (default if default is not None else protocol or "")


def client_first(protocol: str | None) -> bool:
    found = DIALOGUES.get(protocol or "")
    return bool(found and found.client_first)

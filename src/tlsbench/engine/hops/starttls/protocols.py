"""Every STARTTLS protocol by its `openssl s_client -starttls` name, its module imported only when asked for.

A protocol is declared once, by its `Dialogue` subclass (base.py), which registers itself
(base.REGISTRY) when its module is imported. `WHERE` names, for each protocol, the module that declares
it, in the order lists and help show them: so a run that speaks no STARTTLS imports none of the
dialogues (the plain probe's start-up), and one that names a protocol imports that module alone.
`DIALOGUES` reads like the registry (name -> class); iterating over its classes imports them all.
tests/test_starttls_registry.py checks that `WHERE` names exactly the protocols the modules register.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsbench.engine.hops.starttls.base import Dialogue

# protocol name -> the module of this package that declares it
WHERE: dict[str, str] = {
    "smtp": "smtp", "pop3": "pop3", "imap": "imap", "ftp": "ftp", "xmpp": "xmpp", "xmpp-server": "xmpp",
    "lmtp": "lmtp", "nntp": "nntp", "sieve": "sieve", "ldap": "ldap", "postgres": "postgres", "mysql": "mysql",
    "irc": "irc",
}


class _Dialogues(Mapping[str, "type[Dialogue]"]):
    """The registry, by name, in WHERE's order; a protocol's module is imported the first time its class is read."""

    def __getitem__(self, name: str) -> type[Dialogue]:
        module = WHERE[name]  # KeyError for a name no module declares, before importing anything
        importlib.import_module(f"{__package__}.{module}")
        from tlsbench.engine.hops.starttls.base import REGISTRY

        return REGISTRY[name]

    def __contains__(self, name: object) -> bool:
        return name in WHERE

    def __iter__(self) -> Iterator[str]:
        return iter(WHERE)

    def __len__(self) -> int:
        return len(WHERE)


DIALOGUES: Mapping[str, type[Dialogue]] = _Dialogues()
NAMES: tuple[str, ...] = tuple(WHERE)


def dialogue(protocol: str, *, name: str = "mail.example.com", xmpphost: str = "localhost") -> Dialogue:
    return DIALOGUES[protocol](name=name, xmpphost=xmpphost)


def title(protocol: str | None, default: str | None = None) -> str:
    """The protocol's title ('NNTP'); `default` (else the name itself) for one not registered."""
    found = DIALOGUES.get(protocol or "")
    return found.title if found else (default if default is not None else protocol or "")


def client_first(protocol: str | None) -> bool:
    found = DIALOGUES.get(protocol or "")
    return bool(found and found.client_first)

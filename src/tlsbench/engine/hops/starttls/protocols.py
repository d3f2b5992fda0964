"""Every STARTTLS protocol by its `openssl s_client -starttls` name."""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Dialogue
from tlsbench.engine.hops.starttls.ftp import Ftp
from tlsbench.engine.hops.starttls.imap import Imap
from tlsbench.engine.hops.starttls.irc import Irc
from tlsbench.engine.hops.starttls.ldap import Ldap
from tlsbench.engine.hops.starttls.mysql import Mysql
from tlsbench.engine.hops.starttls.nntp import Nntp
from tlsbench.engine.hops.starttls.pop3 import Pop3
from tlsbench.engine.hops.starttls.postgres import Postgres
from tlsbench.engine.hops.starttls.sieve import Sieve
from tlsbench.engine.hops.starttls.smtp import Lmtp, Smtp
from tlsbench.engine.hops.starttls.xmpp import Xmpp

DIALOGUES: dict[str, type[Dialogue]] = {d.protocol: d for d in (
    Smtp, Pop3, Imap, Ftp, Xmpp, Lmtp, Nntp, Sieve, Ldap, Postgres, Mysql, Irc)}


def dialogue(protocol: str, *, name: str = "mail.example.com", xmpphost: str = "localhost") -> Dialogue:
    return DIALOGUES[protocol](name=name, xmpphost=xmpphost)

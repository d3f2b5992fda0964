"""What the line protocols share (SMTP, LMTP, POP3, FTP, IMAP and the like): a greeting, a request for
the capabilities, the upgrade command, and lists that end with a lone '.'.

A subclass says what its greeting step and its capability request are called (`greeting`, `ask`)
and reads the replies in `advance()`; the opening, the TLS phase's request and what follows a
capability list are here, once.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Dialogue


class LineDialogue(Dialogue):
    greeting = ""  # the greeting step, in words: "the greeting (220)"
    ask = ""  # the capability request as named in its step: "CAPA" (SMTP: "EHLO")

    def start(self) -> None:
        self.step = self.greeting

    def start_tls_phase(self, implicit: bool) -> None:
        if implicit:
            self.step = self.greeting  # a connection that started in TLS: the server greets first
        else:
            self.ask_capabilities()

    def ask_line(self) -> str:
        return self.ask

    def ask_capabilities(self) -> None:
        self.send_line(self.ask_line())
        self.step = f"the reply to {self.ask}"

    def send_upgrade(self) -> None:
        self.send_line(self.command)

    def listed(self, items: tuple[str, ...] | None, offered: bool | None, password: tuple[str, ...],
               reply: tuple[str, ...]) -> None:
        """The capability list was read: over TLS that ends the dialogue, before it the upgrade follows."""
        self.capabilities(items, offered, password, reply)
        if self.phase == "tls":
            self._finish()
            return
        self.ask_upgrade(self.send_upgrade, self.command)

    def dotted(self, lines: list[tuple[bytes, int]]) -> tuple[str, ...] | None:
        """A status line and the lines after it up to a lone '.', taken; None while the '.' has not come."""
        for i, (raw, _) in enumerate(lines[1:], 1):
            if raw == b".":
                return self.take(lines[:i + 1])
        return None

"""IRC (IRCv3 `tls` extension): CAP LS, STARTTLS, numeric 670 to go on (691 when it fails).

    C: CAP LS 302
    S: :irc.example.net CAP * LS :multi-prefix sasl=PLAIN tls
    C: STARTTLS
    S: :irc.example.net 670 * :STARTTLS successful, go ahead with TLS handshake
    ... TLS ..., then CAP LS 302 again.

The client speaks first. STARTTLS is sent only when `tls` is listed: a server without it may not
answer an unknown command before registration at all (InspIRCd does not; s_client then waits
its fixed 8 s). A PING before registration is answered, as clients must.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls.base import Dialogue, Mismatch, password_mechanisms


def parse(raw: bytes) -> tuple[str, list[str]] | None:
    """(command, params) of an IRC line, the prefix dropped; None when it is not one."""
    text = raw.decode("latin-1")
    if text.startswith(":"):
        parts = text.split(" ", 1)
        if len(parts) < 2:
            return None
        text = parts[1]
    head, sep, trailing = text.partition(" :")
    words = head.split()
    if not words:
        return None
    params = words[1:] + ([trailing] if sep else [])
    return words[0].upper(), params


def cap_names(items: tuple[str, ...]) -> list[str]:
    return [i.split("=", 1)[0].lower() for i in items]


def password_items(items: tuple[str, ...]) -> tuple[str, ...]:
    for item in items:
        name, _, value = item.partition("=")
        if name.lower() == "sasl":
            mechanisms = value.split(",") if value else []
            return tuple(f"sasl {m}" for m in password_mechanisms(mechanisms))
    return ()


_FROM_SERVER = (b":", b"PING", b"NOTICE", b"ERROR", b"CAP")


class Irc(Dialogue):
    protocol = "irc"
    title = "IRC"
    client_first = True
    try_anyway = False
    ports = (6667, 6668, 6669, 194)
    implicit_ports = ((6697, "IRC over TLS"),)
    command = "STARTTLS (tls)"
    listing = "CAP LS reply"
    server_hint = "InspIRCd: the ssl_gnutls (or ssl_openssl) and starttls modules"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        words = line.split()
        if data[:1] == b":" and len(words) >= 2 and (words[1].isdigit() or words[1] in (
                "NOTICE", "CAP", "PRIVMSG", "ERROR")):
            return f"an IRC server line ({line})"
        return None

    def start(self) -> None:
        self._cap_ls()

    def start_tls_phase(self, implicit: bool) -> None:
        self._cap_ls()

    def _cap_ls(self) -> None:
        self.caps: list[str] = []
        self.cap_lines: list[str] = []
        self.send_line("CAP LS 302")
        self.step = "the reply to CAP LS"

    def advance(self) -> None:
        while self.running:
            lines = self.lines()
            head = bytes(self._buf[:6]).upper()
            if head and not any(p.startswith(head[:len(p)]) or head.startswith(p) for p in _FROM_SERVER):
                raise Mismatch("an IRC line from the server (':server ...')")
            if not lines:
                return
            raw = lines[0][0]
            taken = self.take(lines[:1])
            message = parse(raw) if raw.strip() else None
            if not raw.strip():
                continue
            if message is None or not (raw.startswith(b":") or message[0] in ("PING", "NOTICE", "ERROR", "CAP")):
                raise Mismatch("an IRC line from the server (':server ...')")
            command, params = message
            if command == "PING":
                self.send_line(f"PONG :{params[-1] if params else ''}")
                continue
            if command == "ERROR":
                self.session_refused(taken)
                return
            if self.step == "the reply to CAP LS":
                self._on_cap(command, params, taken)
            elif command == "670":
                self.accepted(taken)
                return
            elif command in ("691", "421", "451", "501"):
                self.refused(taken)
                return

    def _on_cap(self, command: str, params: list[str], taken: tuple[str, ...]) -> None:
        if command in ("CAP", "421", "451"):
            self.cap_lines += list(taken)
        if command == "CAP" and len(params) >= 3 and params[1].upper() == "LS":
            more = len(params) >= 4 and params[2] == "*"
            self.caps += params[-1].split()
            if more:
                return
            items = tuple(self.caps)
            offered = "tls" in cap_names(items)
            self._listed(items, offered)
        elif command in ("421", "451"):  # CAP unknown, or "register first": no capability negotiation
            self._listed(None, None)

    def _listed(self, items: tuple[str, ...] | None, offered: bool | None) -> None:
        reply = tuple(self.cap_lines)
        self.capabilities(items, offered, password_items(items or ()), reply)
        if self.phase == "tls":
            self._finish()
            return
        self.ask_upgrade(lambda: self.send_line("STARTTLS"), "STARTTLS")

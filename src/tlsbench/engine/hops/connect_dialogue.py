"""HTTP CONNECT as a sans-IO dialogue, driven over the run's stream by the STARTTLS driver:
the request is built from the hop, the reply read from the bytes that arrive (http_reply.py).

    CONNECT example.com:443 HTTP/1.1
    Host: example.com:443
    Proxy-Authorization: Basic ...      (with --proxy-user)

Interim answers (1xx but 101) are skipped; the dialogue is `ready` at a 2xx head (the bytes after
it already belong to the tunnel: `early`) and `failed` at any other head, at bytes that are no
HTTP head (`bad`), or when the proxy closed (`closed`). It does no I/O and never raises for what
the proxy sends. The request's credentials never reach its record of what was sent.
"""

from __future__ import annotations

import base64

from tlsbench import __version__
from tlsbench.engine.hops.http_reply import ReplyError, ReplyHead, parse_head
from tlsbench.engine.hops.starttls.base import Dialogue, Message
from tlsbench.engine.route.hostport import format_hostport, is_ip

MAX_INTERIM = 8  # 1xx answers skipped before the final one, at most


def authority(host: str, port: int) -> str:
    if not is_ip(host) and not host.isascii():
        host = host.encode("idna").decode("ascii")
    return format_hostport(host, port)


def connect_request(host: str, port: int, user: str | None, password: str | None) -> bytes:
    where = authority(host, port)
    lines = [f"CONNECT {where} HTTP/1.1", f"Host: {where}", f"User-Agent: tlsbench/{__version__}",
             "Proxy-Connection: Keep-Alive"]
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode("utf-8")).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def redacted(request: bytes) -> str:
    """The request as evidence: the credentials replaced."""
    out = []
    for line in request.decode("latin-1").split("\r\n"):
        if line.lower().startswith("proxy-authorization:"):
            line = "Proxy-Authorization: Basic <credentials redacted>"
        out.append(line)
    return "\r\n".join(out)


def interim(head: ReplyHead) -> bool:
    """A 1xx answer other than 101: the final answer follows it (RFC 9110 15.2)."""
    return 100 <= head.status < 200 and head.status != 101


class ConnectDialogue(Dialogue):
    title = "HTTP CONNECT"

    def __init__(self, host: str, port: int, user: str | None, password: str | None) -> None:
        self.request = connect_request(host, port, user, password)
        self.data = bytearray()  # every byte the proxy sent, as evidence
        self.head: ReplyHead | None = None  # the final answer's head
        self.interim: list[str] = []  # the status lines of the 1xx answers before it
        self.skipped = 0  # bytes of those
        self.bad: ReplyError | None = None
        self.closed = False
        super().__init__()

    def start(self) -> None:
        self._out += self.request
        shown = redacted(self.request)
        self._sent.append(Message("sent", shown, shown.encode("latin-1")))
        self.step = "the answer to CONNECT"

    def advance(self) -> None:  # receive() below reads the head itself
        return None

    def start_tls_phase(self, implicit: bool) -> None:
        self._finish()

    @property
    def final(self) -> bytes:
        """The bytes from the final answer on (the interim answers left out)."""
        return bytes(self.data[self.skipped:])

    @property
    def early(self) -> bytes:
        """After a 2xx head: the bytes that came with it, already the tunnel's."""
        return self.final[self.head.head_length:] if self.head is not None else b""

    def receive(self, data: bytes) -> list:
        if not self.running:
            return []
        if not data:
            self.closed = True
            self.status = "failed"
            return []
        self.data += data
        try:
            head = parse_head(self.final)
            while head is not None and interim(head) and len(self.interim) < MAX_INTERIM:
                self.interim.append(head.status_line)
                self.skipped += head.head_length
                head = parse_head(self.final)
        except ReplyError as exc:
            self.bad = exc
            self.status = "failed"
            return []
        if head is not None:
            self.head = head
            self.status = "ready" if 200 <= head.status < 300 else "failed"
        return []

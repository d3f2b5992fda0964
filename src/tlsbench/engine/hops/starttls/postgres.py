"""PostgreSQL: the SSLRequest message, answered by one byte: 'S' (go on with TLS) or 'N' (no SSL).

    C: SSLRequest (00 00 00 08 04 d2 16 2f: length 8, request code 80877103)
    S: S
    ... TLS ...

There is no capability list before the startup message (which would log in): 'N' is how a server
says it has no SSL. A server older than 7.0 answers with an ErrorResponse ('E') instead.
"""

from __future__ import annotations

import struct

from tlsbench.engine.hops.starttls.base import Dialogue, Mismatch

SSL_REQUEST_CODE = 80877103  # 1234 << 16 | 5679
SSL_REQUEST = struct.pack("!II", 8, SSL_REQUEST_CODE)


def error_fields(body: bytes) -> dict[str, str]:
    """An ErrorResponse's fields: {'S': 'FATAL', 'M': 'message', ...}."""
    out: dict[str, str] = {}
    for field in body.split(b"\0"):
        if field:
            out[chr(field[0])] = field[1:].decode("utf-8", "replace")
    return out


class Postgres(Dialogue):
    protocol = "postgres"
    title = "PostgreSQL"
    client_first = True
    asks_again = False
    ports = (5432,)
    command = "SSL (SSLRequest)"
    listing = "reply to SSLRequest"
    server_hint = "postgresql.conf: ssl = on with ssl_cert_file and ssl_key_file"
    ready_words = "SSLRequest answered S: TLS follows"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        if data[:1] == b"E" and len(data) >= 7 and data[1:3] == b"\0\0" and data[5:6] == b"S":
            return f"a PostgreSQL error message ({_error_text(data)})"
        return None

    def start(self) -> None:
        self.facts.notes.append("PostgreSQL lists no capabilities before login: the SSLRequest is the question")
        self.facts.command = "SSLRequest"
        self.send_binary(SSL_REQUEST, f"SSLRequest (length 8, code {SSL_REQUEST_CODE})")
        self.step = "the reply to SSLRequest (S or N)"

    def start_tls_phase(self, implicit: bool) -> None:
        self._finish()

    def advance(self) -> None:
        if not self.running or not self._buf:
            return
        first = self._buf[0:1]
        if first == b"S":
            self.received_binary(self.take_bytes(1), "S: the server goes on with TLS")
            self.facts.offered = True
            self.accepted(("S",))
        elif first == b"N":
            self.received_binary(self.take_bytes(1), "N: the server has no SSL")
            self.facts.offered = False
            self.refused(("N",))
        elif first == b"E":
            if len(self._buf) < 5:
                return
            length = struct.unpack("!I", self._buf[1:5])[0]
            if length < 4 or length > 8192:
                raise Mismatch("S or N (an ErrorResponse of an absurd length)")
            if len(self._buf) < 1 + length:
                return
            raw = self.take_bytes(1 + length)
            fields = error_fields(raw[5:])
            words = f"{fields.get('S', 'ERROR')}: {fields.get('M', '')}".strip()
            self.received_binary(raw, f"ErrorResponse: {words}")
            self.refused((f"ErrorResponse: {words}",))
        else:
            raise Mismatch("S or N (one byte)")


def _error_text(data: bytes) -> str:
    """The message (M field) of an ErrorResponse."""
    fields = {f[:1]: f[1:] for f in data[5:300].split(b"\0") if f}
    return fields.get(b"M", b"").decode("utf-8", "replace")[:120]

"""MySQL / MariaDB: the server's handshake packet (protocol 10) lists CLIENT_SSL among its
capability flags; the client answers with an SSL request (the first 32 bytes of a handshake
response) and starts TLS at once, without a reply.

    S: [len][seq 0] 0a "10.11.6-MariaDB" ... capability flags (CLIENT_SSL 0x0800) ... auth plugin
    C: [len 32][seq 1] flags with CLIENT_SSL, max packet, charset, 23 zero bytes
    ... TLS ... (nothing is listed again over TLS: the handshake packet is not repeated)
"""

from __future__ import annotations

import struct

from tlsbench.engine.hops.starttls.base import Dialogue, Greeted, Mismatch

FLAGS = {0x00000001: "LONG_PASSWORD", 0x00000002: "FOUND_ROWS", 0x00000004: "LONG_FLAG",
         0x00000008: "CONNECT_WITH_DB", 0x00000020: "COMPRESS", 0x00000080: "LOCAL_FILES",
         0x00000200: "PROTOCOL_41", 0x00000800: "SSL", 0x00002000: "TRANSACTIONS",
         0x00008000: "SECURE_CONNECTION", 0x00010000: "MULTI_STATEMENTS", 0x00020000: "MULTI_RESULTS",
         0x00080000: "PLUGIN_AUTH", 0x00100000: "CONNECT_ATTRS", 0x00200000: "PLUGIN_AUTH_LENENC_CLIENT_DATA",
         0x01000000: "SESSION_TRACK", 0x02000000: "DEPRECATE_EOF"}
CLIENT_SSL = 0x00000800
# What the SSL request says this client speaks (named, not copied from another client).
CLIENT_FLAGS = (0x00000001 | 0x00000004 | 0x00000200 | CLIENT_SSL | 0x00002000 | 0x00008000 | 0x00020000
                | 0x00080000)
CHARSET_UTF8 = 0x21  # utf8_general_ci
MAX_PACKET = 1 << 24
CLEAR_PASSWORD_PLUGIN = "mysql_clear_password"


def ssl_request(sequence: int = 1) -> bytes:
    payload = struct.pack("<IIB", CLIENT_FLAGS, MAX_PACKET, CHARSET_UTF8) + b"\0" * 23
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


class Greeting:
    """The fields of a protocol-10 handshake packet that matter here."""

    def __init__(self, payload: bytes) -> None:
        end = payload.index(b"\0", 1)
        self.version = payload[1:end].decode("latin-1")
        at = end + 1 + 4 + 8 + 1  # connection id, auth data part 1, filler
        self.flags = struct.unpack_from("<H", payload, at)[0]
        at += 2
        self.plugin = ""
        if len(payload) >= at + 1 + 2 + 2:
            at += 1 + 2  # charset, status
            self.flags |= struct.unpack_from("<H", payload, at)[0] << 16
            at += 2
            auth_length = payload[at]
            at += 1 + 10
            if self.flags & 0x00008000:  # SECURE_CONNECTION: the rest of the auth data
                at += max(13, auth_length - 8)
            if self.flags & 0x00080000 and at < len(payload):
                self.plugin = payload[at:].split(b"\0", 1)[0].decode("latin-1")

    def items(self) -> tuple[str, ...]:
        names = [name for bit, name in FLAGS.items() if self.flags & bit]
        out = [f"server version {self.version}", "flags " + " ".join(names)]
        if self.plugin:
            out.append(f"auth plugin {self.plugin}")
        return tuple(out)


class Mysql(Dialogue):
    protocol = "mysql"
    title = "MySQL"
    try_anyway = False
    asks_again = False
    ports = (3306,)
    command = "SSL (the CLIENT_SSL flag)"
    listing = "handshake packet's capability flags"
    server_hint = "the server's ssl_cert and ssl_key (and no skip-ssl)"
    ready_words = "CLIENT_SSL offered; SSL request sent, TLS follows (no reply in this protocol)"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        version = server_version(data)
        return None if version is None else f"a MySQL server greeting (version {version})"

    def start(self) -> None:
        self.step = "the server's handshake packet (protocol 10)"

    def start_tls_phase(self, implicit: bool) -> None:
        self._finish()

    def advance(self) -> None:
        if not self.running or len(self._buf) < 4:
            return
        length = int.from_bytes(self._buf[:3], "little")
        if self._buf[3] != 0 or length == 0:
            raise Mismatch("a MySQL handshake packet (sequence 0)")
        if len(self._buf) > 4 and self._buf[4] not in (0x0A, 0xFF):
            raise Mismatch("a MySQL handshake packet (protocol 10, or an error packet)")
        if len(self._buf) < 4 + length:
            return
        raw = self.take_bytes(4 + length)
        payload = raw[4:]
        if payload[0] == 0xFF:
            code = struct.unpack_from("<H", payload, 1)[0] if len(payload) >= 3 else 0
            message = payload[3:].decode("utf-8", "replace")
            if message.startswith("#"):
                message = message[6:]
            words = f"error {code}: {message}"
            self.received_binary(raw, f"ERR packet: {words}")
            self.facts.greeting = (words,)
            self.session_refused((words,))
            return
        try:
            greeting = Greeting(payload)
        except (ValueError, struct.error):
            raise Mismatch("a MySQL handshake packet (protocol 10)") from None
        self.facts.server = greeting.version
        items = greeting.items()
        self.received_binary(raw, f"handshake (protocol 10): {'; '.join(items)}")
        self.facts.greeting = items[:1]
        self._event(Greeted(items[:1]))
        offered = bool(greeting.flags & CLIENT_SSL)
        password = (f"auth plugin {greeting.plugin}",) if greeting.plugin == CLEAR_PASSWORD_PLUGIN else ()
        self.capabilities(items, offered, password, items)
        self.ask_upgrade(self._request, "SSL request")
        if self.running:
            # No reply comes: the client goes on with TLS right after its request.
            self.facts.notes.append("MySQL sends no reply to the SSL request: TLS starts at once")
            self.accepted(())

    def _request(self) -> None:
        self.send_binary(ssl_request(), "SSL request (capability flags with CLIENT_SSL, max packet, charset; "
                                        "sequence 1)")


def server_version(data: bytes) -> str | None:
    """The server version of a handshake packet (protocol 10), or None when the bytes are not one."""
    if len(data) < 8 or data[3] != 0 or data[4] != 0x0A:
        return None
    end = data.find(b"\0", 5, 5 + 64)
    version = data[5:end] if end > 5 else b""
    if not version or not all(0x20 <= b < 0x7F for b in version):
        return None
    return version.decode("ascii")

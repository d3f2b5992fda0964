"""The hand-built TLS 1.3 client as a sans-IO state machine: `hello()` gives the first ClientHello,
`receive(bytes)` returns what the server's bytes showed (typed events), `data_to_send()` a second
ClientHello after a HelloRetryRequest. It stops at the server's Finished: no Finished of its own,
no application data. Every size is bounded; a malformed or hostile server ends in a `Failed`
event naming the first thing that was wrong, never an exception.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Union

from tlsbench.engine.tls import hellobuild
from tlsbench.engine.tls.tlsparse import HRR_RANDOM, Reader, extensions
from tlsbench.engine.tls13 import keyshare, messages, schedule

TLS13_SUITES = (0x1301, 0x1302, 0x1303)
MAX_MESSAGE = 1 << 17  # a handshake message larger than this is refused (a chain of 16 big certificates fits)
MAX_BUFFERED = 1 << 18
STATUS_REQUEST = (5, b"\x01\x00\x00\x00\x00")  # ocsp, no responder IDs, no extensions
SCT_REQUEST = (18, b"")


class Offer(NamedTuple):
    sni: str | None = None
    suites: tuple[int, ...] = TLS13_SUITES
    groups: tuple[int, ...] = (keyshare.X25519, keyshare.SECP256R1)  # supported_groups, in our order
    shares: tuple[int, ...] = (keyshare.X25519,)  # the groups we send a key share for
    alpn: tuple[str, ...] = ()
    status: bool = True  # ask for the stapled OCSP response (status_request)


# --- events: what the server's bytes showed, in order --------------------------------------------
class HelloRetry(NamedTuple):
    group: int | None  # the group asked for
    cookie: bool


class ServerHelloRead(NamedTuple):
    suite: int
    group: int
    share_bytes: int  # the size of the server's key share
    version: int | None  # from supported_versions; None when absent (not TLS 1.3)


class ExtensionsRead(NamedTuple):
    extensions: messages.Extensions


class CertificateRequested(NamedTuple):
    pass


class CertificateRead(NamedTuple):
    entries: tuple[messages.CertEntry, ...]


class CertificateVerifyRead(NamedTuple):
    scheme: int
    problem: str | None  # None: the signature over the transcript verifies with the leaf's key


class FinishedRead(NamedTuple):
    ok: bool  # its verify_data matches the server finished key's HMAC of the transcript


class AlertRead(NamedTuple):
    level: int
    description: int
    encrypted: bool


class Failed(NamedTuple):
    reason: str  # what in the server's bytes was wrong, in words


Event = Union[HelloRetry, ServerHelloRead, ExtensionsRead, CertificateRequested, CertificateRead,
              CertificateVerifyRead, FinishedRead, AlertRead, Failed]


class _Stop(Exception):
    """A malformed or unexpected message: the flight ends with a Failed event."""


class Tls13Client:
    def __init__(self, offer: Offer) -> None:
        self.offer = offer
        self.random, self.session_id = os.urandom(32), os.urandom(32)
        self.shares = {g: keyshare.make_share(g) for g in offer.shares}
        self.state = "start"  # start | hello | retried | encrypted | done
        self.inbox = bytearray()
        self.handshake = bytearray()  # handshake bytes not yet whole messages
        self.transcript: list[bytes] = []
        self.outbox = b""
        self.suite: schedule.Suite | None = None
        self.keys: schedule.HandshakeKeys | None = None
        self.protection: schedule.RecordProtection | None = None
        self.leaf: bytes | None = None
        self.expect: tuple[int, ...] = (8,)  # the handshake types allowed next once encrypted
        self.hello_sizes: list[int] = []

    # --- what we send ------------------------------------------------------------------------
    def _client_hello(self, cookie: bytes | None = None) -> bytes:
        extra = [STATUS_REQUEST, SCT_REQUEST] if self.offer.status else []
        if self.offer.alpn:
            names = b"".join(bytes([len(n)]) + n.encode("ascii", "replace") for n in self.offer.alpn)
            extra.append((16, len(names).to_bytes(2, "big") + names))
        if cookie is not None:
            extra.append((44, len(cookie).to_bytes(2, "big") + cookie))
        record = hellobuild.client_hello(
            self.offer.suites, hellobuild.TLS13, self.offer.sni, extra=extra, groups=self.offer.groups,
            shares=[(g, s.share) for g, s in self.shares.items()], random=self.random, session_id=self.session_id)
        self.transcript.append(record[5:])
        self.hello_sizes.append(len(record))
        return record

    def hello(self) -> bytes:
        self.state = "hello"
        return self._client_hello()

    def data_to_send(self) -> bytes:
        out, self.outbox = self.outbox, b""
        return out

    @property
    def done(self) -> bool:
        return self.state == "done"

    # --- what we read ------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[Event]:
        if self.state in ("done", "start"):
            return []
        self.inbox += data
        events: list[Event] = []
        try:
            if len(self.inbox) > MAX_BUFFERED:
                raise _Stop(f"more than {MAX_BUFFERED} bytes arrived without a whole record")
            while self.state != "done" and len(self.inbox) >= 5:
                ctype, length = self.inbox[0], int.from_bytes(self.inbox[3:5], "big")
                if ctype not in (20, 21, 22, 23) or self.inbox[1] != 3:
                    raise _Stop(f"not a TLS record: {bytes(self.inbox[:5]).hex(' ')}")
                if length > schedule.MAX_CIPHERTEXT:
                    raise _Stop(f"a record of {length} bytes (at most {schedule.MAX_CIPHERTEXT} allowed)")
                if len(self.inbox) < 5 + length:
                    break
                header, payload = bytes(self.inbox[:5]), bytes(self.inbox[5:5 + length])
                del self.inbox[:5 + length]
                self._record(ctype, header, payload, events)
        except _Stop as stop:
            events.append(Failed(str(stop)))
            self.state = "done"
        except schedule.RecordError as exc:
            events.append(Failed(str(exc)))
            self.state = "done"
        return events

    def _record(self, ctype: int, header: bytes, payload: bytes, events: list[Event]) -> None:
        if ctype == 20:  # change_cipher_spec, middlebox compatibility (§D.4): one byte 0x01, ignored
            if payload != b"\x01":
                raise _Stop("a change_cipher_spec record that is not the single byte 01")
            return
        if ctype == 21:
            self._alert(payload, False, events)
            return
        if ctype == 23:
            if self.protection is None:
                raise _Stop("an encrypted record before the ServerHello")
            inner, content = self.protection.decrypt(header, payload)
            if inner == 21:
                self._alert(content, True, events)
                return
            if inner != 22:
                raise _Stop(f"content type {inner} inside the first flight (handshake messages expected)")
            payload = content
        elif self.protection is not None:
            raise _Stop("a plaintext handshake record after the ServerHello")
        self.handshake += payload
        while len(self.handshake) >= 4 and self.state != "done":
            length = int.from_bytes(self.handshake[1:4], "big")
            if length > MAX_MESSAGE:
                raise _Stop(f"a handshake message of {length} bytes (at most {MAX_MESSAGE} read)")
            if len(self.handshake) < 4 + length:
                break
            message = bytes(self.handshake[:4 + length])
            del self.handshake[:4 + length]
            self._message(message, events)

    def _alert(self, payload: bytes, encrypted: bool, events: list[Event]) -> None:
        if len(payload) != 2:
            raise _Stop(f"an alert of {len(payload)} bytes (2 expected)")
        events.append(AlertRead(payload[0], payload[1], encrypted))
        self.state = "done"

    def _message(self, message: bytes, events: list[Event]) -> None:
        htype, body = message[0], message[4:]
        if self.state in ("hello", "retried"):
            if htype != 2:
                raise _Stop(f"handshake message type {htype} where a ServerHello was expected")
            self._server_hello(message, body, events)
            return
        if htype not in self.expect:
            raise _Stop(f"handshake message type {htype} out of order (expected {' or '.join(map(str, self.expect))})")
        assert self.keys is not None and self.suite is not None  # set by the ServerHello
        if htype == 8:
            ext = messages.parse_encrypted_extensions(body)
            if ext is None:
                raise _Stop("a malformed EncryptedExtensions")
            events.append(ExtensionsRead(ext))
            self.expect = (11, 13)
        elif htype == 13:
            events.append(CertificateRequested())
            self.expect = (11,)
        elif htype == 11:
            entries = messages.parse_certificate(body)
            if not entries:
                raise _Stop("a malformed or empty Certificate message")
            self.leaf = entries[0].der
            events.append(CertificateRead(entries))
            self.expect = (15,)
        elif htype == 15:
            cv = messages.parse_certificate_verify(body)
            if cv is None or self.leaf is None:
                raise _Stop("a malformed CertificateVerify")
            events.append(CertificateVerifyRead(cv[0], messages.check_signature(self.leaf, cv[0], cv[1],
                                                                                 self._hash())))
            self.expect = (20,)
        elif htype == 20:
            events.append(FinishedRead(body == self.keys.finished(self._hash())))
            self.state = "done"
        self.transcript.append(message)

    def _hash(self) -> bytes:
        assert self.suite is not None
        return schedule.digest(self.suite.hash_name, b"".join(self.transcript))

    def _server_hello(self, message: bytes, body: bytes, events: list[Event]) -> None:
        r = Reader(body)
        r.int(2)
        random = r.take(32)
        echo = r.vector(1)
        suite = r.int(2)
        compression = r.int(1)
        block = r.vector(2)
        parsed = extensions(block) if block is not None and not r.left else None
        if parsed is None or random is None or suite is None:
            raise _Stop("a malformed ServerHello")
        ext = dict(parsed)
        version = int.from_bytes(ext[43], "big") if len(ext.get(43, b"")) == 2 else None
        if version != hellobuild.TLS13:
            events.append(ServerHelloRead(suite, 0, 0, version))
            raise _Stop("the server did not answer with TLS 1.3 (no supported_versions 0x0304)")
        if echo != self.session_id or compression != 0:
            raise _Stop("the ServerHello does not echo our session id (or names a compression)")
        if suite not in self.offer.suites or suite not in schedule.SUITES:
            raise _Stop(f"the server chose suite 0x{suite:04x}, which was not offered")
        if self.state == "retried" and self.suite is not None and suite != self.suite.id:
            raise _Stop("the ServerHello's suite is not the one its HelloRetryRequest named (RFC 8446 §4.1.4)")
        self.suite = schedule.SUITES[suite]
        if random == HRR_RANDOM:
            self._retry(message, ext, events)
            return
        share = Reader(ext.get(51, b""))
        group, key = share.int(2), share.vector(2)
        if group is None or key is None or share.left:
            raise _Stop("the ServerHello has no well-formed key_share")
        events.append(ServerHelloRead(suite, group, len(key), version))
        if group not in self.shares:
            raise _Stop(f"the server's key share is for group 0x{group:04x}, for which we sent no share")
        try:
            secret = self.shares[group].secret(key)
        except ValueError as exc:
            raise _Stop(f"the server's key share does not work: {exc}") from None
        self.transcript.append(message)
        self.keys = schedule.handshake_keys(self.suite, secret, self._hash())
        self.protection = schedule.RecordProtection(self.suite, self.keys.server_secret)
        self.state = "encrypted"

    def _retry(self, message: bytes, ext: dict[int, bytes], events: list[Event]) -> None:
        group = int.from_bytes(ext[51], "big") if len(ext.get(51, b"")) == 2 else None
        cookie = Reader(ext[44]).vector(2) if 44 in ext else None
        events.append(HelloRetry(group, cookie is not None))
        if self.state == "retried":
            raise _Stop("a second HelloRetryRequest (RFC 8446 §4.1.4 allows one)")
        if group is None or group not in self.offer.groups or group in self.shares:
            raise _Stop("the HelloRetryRequest asks for a group that was not offered, or one already shared"
                        if group is not None else "the HelloRetryRequest names no group")
        if group not in keyshare.SHAREABLE:
            raise _Stop(f"the HelloRetryRequest asks for group 0x{group:04x}, for which tlsbench makes no share")
        assert self.suite is not None
        # §4.4.1: the first ClientHello is replaced in the transcript by a message_hash of it
        first = schedule.digest(self.suite.hash_name, self.transcript[0])
        self.transcript = [b"\xfe\x00\x00" + bytes([len(first)]) + first, message]
        self.shares = {group: keyshare.make_share(group)}
        self.outbox = self._client_hello(cookie)
        self.state = "retried"

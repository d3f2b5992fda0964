"""LDAP (RFC 4511 section 4.14): the root DSE's supportedExtension, then the StartTLS extended
operation (OID 1.3.6.1.4.1.1466.20037); resultCode success to go on. BER by hand (ber.py).

    C: SearchRequest #1: base "", scope base, (objectClass=*), supportedExtension supportedSASLMechanisms
    S: SearchResultEntry #1: supportedExtension 1.3.6.1.4.1.1466.20037 (StartTLS) ...
    S: SearchResultDone #1: success
    C: ExtendedRequest #2: StartTLS
    S: ExtendedResponse #2: success
    ... TLS ..., then the root DSE again (SASL mechanisms such as EXTERNAL may appear only now).

A simple bind (a password in clear) is always possible in LDAP: there is no password warning.
"""

from __future__ import annotations

from tlsbench.engine.hops.starttls import ber
from tlsbench.engine.hops.starttls.base import Dialogue, Mismatch

STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"
OID_NAMES = {STARTTLS_OID: "StartTLS", NOTICE_OF_DISCONNECTION: "Notice of Disconnection",
             "1.3.6.1.4.1.4203.1.11.1": "Modify Password", "1.3.6.1.4.1.4203.1.11.3": "Who am I?",
             "1.3.6.1.1.8": "Cancel", "1.3.6.1.4.1.1466.101.119.1": "Dynamic Refresh"}
RESULT_CODES = {0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
                7: "authMethodNotSupported", 8: "strongerAuthRequired", 12: "unavailableCriticalExtension",
                13: "confidentialityRequired", 32: "noSuchObject", 48: "inappropriateAuthentication",
                49: "invalidCredentials", 50: "insufficientAccessRights", 51: "busy", 52: "unavailable",
                53: "unwillingToPerform", 80: "other"}
ATTRIBUTES = ("supportedExtension", "supportedSASLMechanisms")
_OPS = {0x64: "SearchResultEntry", 0x65: "SearchResultDone", 0x73: "SearchResultReference",
        0x78: "ExtendedResponse"}


def search_root_dse(message_id: int) -> bytes:
    """SearchRequest: base "", scope baseObject, never deref, no limits, (objectClass=*)."""
    request = (ber.octets("") + ber.integer(0, 0x0A) + ber.integer(0, 0x0A) + ber.integer(0) + ber.integer(0)
               + ber.encode(0x01, b"\x00") + ber.octets("objectClass", 0x87)
               + ber.encode(0x30, b"".join(ber.octets(a) for a in ATTRIBUTES)))
    return ber.encode(0x30, ber.integer(message_id) + ber.encode(0x63, request))


def start_tls_request(message_id: int) -> bytes:
    return ber.encode(0x30, ber.integer(message_id) + ber.encode(0x77, ber.octets(STARTTLS_OID, 0x80)))


def result_words(code: int, message: str) -> str:
    name = RESULT_CODES.get(code, "unknown result code")
    return f"{code} ({name})" + (f": {message}" if message else "")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class Ldap(Dialogue):
    protocol = "ldap"
    title = "LDAP"
    choice = "LDAP (StartTLS)"
    client_first = True
    ports = (389,)
    implicit_ports = ((636, "LDAPS"), (3269, "LDAPS (global catalog)"))
    command = "the StartTLS extended operation"
    listing = "root DSE (supportedExtension)"
    server_hint = "slapd: TLSCertificateFile and TLSCertificateKeyFile"

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        if len(data) >= 7 and data[0] == 0x30 and data[1] < 0x80 and data[2] == 0x02 and data[3] in (1, 2, 3, 4):
            return "an LDAP message (BER)"
        return None

    def start(self) -> None:
        self.next_id = 1
        self._search()

    def start_tls_phase(self, implicit: bool) -> None:
        self._search()

    def _search(self) -> None:
        self.search_id = self.next_id
        self.next_id += 1
        self.entries: list[str] = []
        self.send_binary(search_root_dse(self.search_id),
                         f'SearchRequest #{self.search_id}: base "", scope base, (objectClass=*), '
                         + " ".join(ATTRIBUTES))
        self.step = "the root DSE (SearchResultEntry, SearchResultDone)"

    def _extended(self) -> None:
        self.tls_id = self.next_id
        self.next_id += 1
        self.send_binary(start_tls_request(self.tls_id), f"ExtendedRequest #{self.tls_id}: StartTLS ({STARTTLS_OID})")

    def advance(self) -> None:
        while self.running:
            if self._buf[:1] and self._buf[0] != 0x30:
                raise Mismatch("an LDAP message (BER SEQUENCE, 30 ...)")
            try:
                element = ber.read(bytes(self._buf))
                if element is None:
                    return
                raw = self.take_bytes(element.end)
                self._message(raw, element)
            except ber.BerError as exc:
                raise Mismatch(f"an LDAP message ({exc} is not LDAP's BER)") from None

    def _message(self, raw: bytes, element: ber.Element) -> None:
        parts = ber.children(element.content)
        if len(parts) < 2 or parts[0].tag != 0x02:
            raise ber.BerError("a message without an ID")
        message_id = ber.to_int(parts[0].content)
        op = parts[1]
        name = _OPS.get(op.tag)
        if name is None:
            raise ber.BerError(f"an operation with tag {op.tag:#04x}")
        if name == "SearchResultEntry":
            text = self._entry(op.content)
            self.received_binary(raw, f"SearchResultEntry #{message_id}: {text or '(no attributes)'}")
            return
        if name == "SearchResultReference":
            self.received_binary(raw, f"SearchResultReference #{message_id}")
            return
        code, message = self._result(op.content)
        words = result_words(code, message)
        if name == "ExtendedResponse" and message_id == 0:
            self.received_binary(raw, f"Notice of Disconnection: {words}")
            self.session_refused((f"Notice of Disconnection: {words}",))
            return
        self.received_binary(raw, f"{name} #{message_id}: {words}")
        if name == "SearchResultDone" and self.step.startswith("the root DSE"):
            self._listed(code, words)
        elif name == "ExtendedResponse" and self.step.startswith("the reply"):
            reply = (f"ExtendedResponse: {words}",)
            if code == 0:
                self.accepted(reply)
            else:
                self.refused(reply)

    def _listed(self, code: int, words: str) -> None:
        reply = tuple(self.entries) + (f"SearchResultDone: {words}",)
        if code == 0:
            items = tuple(self.entries)
            offered = any(i == f"supportedExtension {STARTTLS_OID} (StartTLS)" for i in items)
            self.capabilities(items, offered, (), reply)
        else:
            self.capabilities(None, None, (), reply)
        if self.phase == "tls":
            self._finish()
            return
        self.ask_upgrade(self._extended, "StartTLS")

    def _entry(self, content: bytes) -> str:
        parts = ber.children(content)
        if len(parts) < 2:
            raise ber.BerError("an entry without attributes")
        shown = []
        for attribute in ber.children(parts[1].content):
            pieces = ber.children(attribute.content)
            if len(pieces) < 2:
                raise ber.BerError("an attribute without values")
            kind = _text(pieces[0].content)
            for value in ber.children(pieces[1].content):
                text = _text(value.content)
                if kind.lower() == "supportedextension" and text in OID_NAMES:
                    text = f"{text} ({OID_NAMES[text]})"
                self.entries.append(f"{kind} {text}")
                shown.append(f"{kind} {text}")
        return "; ".join(shown)

    def _result(self, content: bytes) -> tuple[int, str]:
        parts = ber.children(content)
        if len(parts) < 3 or parts[0].tag != 0x0A:
            raise ber.BerError("a result without resultCode, matchedDN and diagnosticMessage")
        return ber.to_int(parts[0].content), _text(parts[2].content)

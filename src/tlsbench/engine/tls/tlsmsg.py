"""Names for TLS wire values, and decoding of OpenSSL's message-callback records.

`decode_callback()` turns one `SSLContext._msg_callback` call into a `WireMessage` (or None for
the calls that are not worth a line: record headers of encrypted data, inner content types).
It reads the raw bytes rather than Python's enums, which print bare numbers on 3.11 and do not
know every value, and keeps them (`WireMessage.data`): engine/tls/tlsfacts.py reads the negotiated
parameters from them.
"""


from typing import Literal, NamedTuple

from tlsbench.engine.tls import tlsparse

HANDSHAKE_TYPES = {
    0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 3: "HelloVerifyRequest",
    4: "NewSessionTicket", 5: "EndOfEarlyData", 6: "HelloRetryRequest", 8: "EncryptedExtensions",
    11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
    15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished", 21: "CertificateURL",
    22: "CertificateStatus", 23: "SupplementalData", 24: "KeyUpdate", 25: "CompressedCertificate",
    254: "MessageHash",
}

ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
    42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
    45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
    49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
    70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
    109: "missing_extension", 110: "unsupported_extension", 111: "certificate_unobtainable",
    112: "unrecognized_name", 113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}

ALERT_LEVELS = {1: "warning", 2: "fatal"}

# What an alert usually means, in words a person understands.
ALERT_MEANINGS = {
    "handshake_failure": "the sender could not agree on security parameters (cipher, version, name or certificate)",
    "protocol_version": "the sender does not support the TLS version offered",
    "unrecognized_name": "the server does not serve the name sent in SNI (or needs one)",
    "certificate_required": "the server requires a client certificate",
    "bad_certificate": "a certificate was corrupt or rejected",
    "unknown_ca": "the certificate's issuer is not trusted by the sender",
    "certificate_expired": "a certificate has expired",
    "certificate_unknown": "a certificate was rejected for an unspecified reason",
    "insufficient_security": "the offered ciphers are too weak for the sender",
    "no_application_protocol": "none of the ALPN protocols offered is served",
    "internal_error": "the sender hit an internal error",
    "decode_error": "a message could not be parsed",
    "illegal_parameter": "a field in a message was out of range or inconsistent",
    "access_denied": "the sender refused access",
    "close_notify": "the sender closed the connection in an orderly way",
}

VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}

_HEADER = 256  # OpenSSL's SSL3_RT_HEADER: the 5-byte record header


def version_name(value: int) -> str:
    return VERSIONS.get(int(value), f"0x{int(value):04x}")


def alert_name(code: int) -> str:
    return ALERTS.get(code, f"alert {code}")


class WireMessage(NamedTuple):
    direction: Literal["sent", "received"]
    content_type: str  # handshake | alert | change_cipher_spec
    name: str  # "ClientHello", "alert: unrecognized_name", "ChangeCipherSpec"
    version: str
    length: int
    handshake_type: int | None = None
    alert: str | None = None  # alert description name
    alert_code: int | None = None
    alert_level: str | None = None  # warning | fatal
    data: bytes = b""  # the message as it crossed (a handshake message with its 4-byte header)


def decode_callback(direction: str, version: int, content_type: int, data: bytes) -> WireMessage | None:
    """Decode one message-callback call; None for calls not shown in the trace."""
    way: Literal["sent", "received"] = "sent" if direction == "write" else "received"
    ct = int(content_type)
    if ct == _HEADER:
        # ChangeCipherSpec is reported reliably only through its record header (OpenSSL reports a
        # received CCS no other way), so it is taken from there in both directions.
        if len(data) >= 5 and data[0] == 20:
            rec_version = (data[1] << 8) | data[2]
            return WireMessage(way, "change_cipher_spec", "ChangeCipherSpec", version_name(rec_version),
                               (data[3] << 8) | data[4], data=data)
        return None
    if ct == 22 and data:
        htype = data[0]
        name = HANDSHAKE_TYPES.get(htype, f"handshake type {htype}")
        # A ServerHello carrying the HelloRetryRequest random is a HelloRetryRequest (TLS 1.3).
        if htype == 2 and len(data) >= 38 and data[6:38] == _HRR_RANDOM:
            name = "HelloRetryRequest"
        return WireMessage(way, "handshake", name, version_name(version), max(len(data) - 4, 0),
                           handshake_type=htype, data=data)
    if ct == 21 and len(data) >= 2:
        level = ALERT_LEVELS.get(data[0], str(data[0]))
        desc = alert_name(data[1])
        return WireMessage(way, "alert", f"alert: {desc}", version_name(version), len(data),
                           alert=desc, alert_code=data[1], alert_level=level, data=data)
    return None


_HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


class TraceVersions:
    """The version each message of a trace is labelled with, from the bytes: a ClientHello with the
    highest version it offers (supported_versions), the ServerHello and every message after it with
    the version the ServerHello chose, and anything before it with its record's version. OpenSSL's
    message callback passes the version it is ready for, not the one on the wire (a TLS 1.2
    ServerHello answering a ClientHello that offered TLS 1.3 arrives labelled TLS 1.3)."""

    def __init__(self) -> None:
        self.chosen: int | None = None
        self.record: dict[str, int] = {}  # the last record header's version, per direction

    def header(self, direction: str, data: bytes) -> None:
        if len(data) >= 3:
            self.record[direction] = (data[1] << 8) | data[2]

    def label(self, msg: WireMessage) -> WireMessage:
        value: int | None = None
        if msg.content_type == "handshake" and msg.handshake_type == 1:
            value = tlsparse.client_hello_offer(msg.data)
        elif msg.content_type == "handshake" and msg.handshake_type == 2 and msg.name != "HelloRetryRequest":
            hello = tlsparse.parse_server_hello(msg.data)
            if hello is not None:
                self.chosen = value = hello.version
        elif msg.content_type == "change_cipher_spec":
            return msg  # already read from its own record header
        elif self.chosen is not None:
            value = self.chosen
        else:
            value = self.record.get(msg.direction)
        return msg if value is None else msg._replace(version=version_name(value))

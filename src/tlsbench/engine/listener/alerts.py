"""TLS alert descriptions (RFC 8446 section 6, RFC 5246 section 7.2) and what they tell a server."""

from __future__ import annotations

import re

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

# Alerts by which a client says it does not accept the server's certificate.
CERTIFICATE_REJECTED = {"bad_certificate", "unsupported_certificate", "certificate_revoked",
                        "certificate_expired", "certificate_unknown", "unknown_ca", "access_denied"}


def alert_name(code: int) -> str:
    return ALERTS.get(code, f"alert {code}")


def alert_from_reason(reason: str | None) -> str | None:
    """OpenSSL's reason for a received alert, e.g. TLSV1_ALERT_UNKNOWN_CA -> unknown_ca."""
    if not reason:
        return None
    match = re.search(r"(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)", reason.upper())
    if not match:
        return None
    return match.group(1).lower()

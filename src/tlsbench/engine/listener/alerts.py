"""TLS alert descriptions (RFC 8446 section 6, RFC 5246 section 7.2) and what they tell a server."""

from __future__ import annotations

import re

from tlsbench.engine.tls.tlsmsg import ALERTS


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

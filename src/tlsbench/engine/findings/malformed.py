"""`tls-malformed`: the peer broke TLS's own rules, so its bytes are named as what they are, never
read as a version or cipher choice: a ServerHello that breaks the encoding (read strictly by
peekbytes.server_hello), a message OpenSSL refused for its encoding, and after the handshake a
message the session's version does not allow there (a HelloRequest in TLS 1.3)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.tls import HandshakeFacts, _alert_evidence, bytes_evidence, openssl_peer
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.tls.peekbytes import server_hello
from tlsbench.engine.suggestions import Suggestion
from tlsbench.engine.tls.tlsmsg import WireMessage

if TYPE_CHECKING:
    from tlsbench.engine.spec import ConnectionSpec
    from tlsbench.engine.stages.shared import TlsTarget

# OpenSSL's reasons for a message that breaks TLS's encoding rules (what it says, not what it means).
MALFORMED_REASONS = ("LENGTH_MISMATCH", "BAD_LENGTH", "LENGTH_TOO_SHORT", "BAD_PACKET_LENGTH", "BAD_PACKET",
                     "DECODE_ERROR", "BAD_EXTENSION", "RECORD_LENGTH_MISMATCH")


def malformed_hello(spec: ConnectionSpec | TlsTarget, facts: HandshakeFacts, sent: WireMessage | None) -> Finding | None:
    """tls-malformed: the peer's ServerHello (read strictly) breaks TLS's encoding rules, or OpenSSL
    refused a message for its encoding. Never a version or cipher verdict: the bytes are garbage."""
    if facts.kind != "ssl-error":
        return None  # the connection ended (or stalled) before OpenSSL judged the bytes: that is the finding
    read = server_hello(facts.first_bytes)
    if read.problem is None and facts.error_reason not in MALFORMED_REASONS:
        return None
    via = f" (through the tunnel of {facts.via})" if facts.via else ""
    ev = bytes_evidence(facts.first_bytes)
    if sent is not None:
        ev.insert(0, _alert_evidence(sent))
    if facts.error_reason:
        ev.append(Evidence("OpenSSL reason", facts.error_reason))
    if read.claimed is not None:
        ev.append(Evidence("ServerHello length claimed", f"{read.claimed:,} bytes"))
    if facts.via:
        ev.append(Evidence("through", facts.via))
    what = read.problem or f"OpenSSL refused one of its messages ({facts.error_reason})"
    ended = f" tlsbench ended the handshake with alert {sent.alert}." if sent is not None else ""
    return finding("tls-malformed", "The peer sent a malformed handshake message",
                   f"The peer{via} answered the ClientHello with bytes that break TLS's encoding rules: {what}. "
                   f"Nothing in them is a version or cipher choice.{ended} The server (or what answers for it) is "
                   "broken or hostile.",
                   Suggestion("Check which software answers on this port; compare with openssl's message trace.",
                              (), (openssl_peer(spec, "-msg"),)), ev)



def refused_after_handshake(spec: ConnectionSpec, exc: ssl.SSLError, version: str | None, received: int) -> Finding:
    """What the server sent after the handshake broke TLS: OpenSSL's reason, in the protocol's words."""
    reason = exc.reason or "unknown"
    ev = [Evidence("OpenSSL reason", reason), Evidence("session", version or "unknown"),
          Evidence("answer bytes before it", str(received))]
    if reason == "UNEXPECTED_MESSAGE" and version == "TLSv1.3":
        title = "The server sent a handshake message TLS 1.3 forbids after the handshake"
        why = ("After the handshake the server sent a handshake message that TLS 1.3 does not allow there, and "
               "OpenSSL ended the session (alert unexpected_message). A server that asks to renegotiate sends a "
               "HelloRequest: TLS 1.3 forbids renegotiation (RFC 8446 section 4), so such a server mixes TLS 1.2 "
               "behaviour into a TLS 1.3 session. The request was sent; no answer can come over this session.")
    elif reason == "UNEXPECTED_MESSAGE":
        title = "The server sent a TLS message that is not allowed after the handshake"
        why = ("After the handshake the server sent a TLS message that is not allowed at this point, and OpenSSL "
               "ended the session (alert unexpected_message).")
    else:
        title = f"The server's TLS records after the handshake were refused ({reason})"
        why = f"OpenSSL refused what the server sent after the handshake: {exc}."
    return finding("tls-malformed", title, why,
                   Suggestion("The server's TLS software is at fault: check its renegotiation and TLS 1.3 settings; "
                              "compare with openssl's trace.", (), (openssl_peer(spec, "-msg", "-ign_eof"),)),
                   ev, stage="app")

"""The tls stage: a handshake through MemoryBIO/SSLObject over an already-connected socket.

Every handshake message and alert is recorded (OpenSSL's message callback) and emitted as a
TlsMessageSeen as it happens. The name the certificate is checked against is
`verification_name(spec)`: the host asked for, like curl (with --pin too); when the target is an
IP address and --sni NAME is given, NAME (the IP then only says where to connect). OpenSSL
checks the name when it is also the SNI sent; otherwise tlsbench checks it itself.
"""


from typing import NamedTuple

import errno
import socket
import ssl
import time
import warnings

from tlsbench.engine import certparse
from tlsbench.engine.checks import set_alpn
from tlsbench.engine.details import TlsDetail
from tlsbench.engine.diagnosis.certs import verify_findings
from tlsbench.engine.diagnosis.tls import HandshakeFacts, diagnose_failure, session_findings
from tlsbench.engine.errors import Cancelled, InputError
from tlsbench.engine.events import TlsMessageSeen
from tlsbench.engine.peekbytes import looks_like_tls
from tlsbench.engine.result import TlsMessage
from tlsbench.engine.spec import ConnectionSpec, is_ip
from tlsbench.engine.stages.context import StageContext, StageOutcome
from tlsbench.engine.tlsio import BioPump, PeerClosed, TlsChannel
from tlsbench.engine.tlsmsg import WireMessage, decode_callback

_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
             "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
_DER = 2  # _ssl.ENCODING_DER
POST_HANDSHAKE_WAIT = 1.0  # seconds to wait for a TLS 1.3 server's verdict on a client certificate


class TlsOutcome(NamedTuple):
    outcome: StageOutcome
    messages: tuple[TlsMessage, ...] = ()
    channel: object | None = None  # a Channel over the session, None when the handshake failed
    peer_chain_der: tuple[bytes, ...] = ()  # as the peer sent it, leaf first
    verified_chain_der: tuple[bytes, ...] = ()  # only when verification succeeded
    verify_code: int | None = None
    verify_message: str | None = None
    verify_name: str | None = None  # the name the certificate was checked against
    hostname_checked_by: str = "openssl"  # openssl | tlsbench | none
    chain_source: str = "handshake"  # where peer_chain_der came from
    wire: tuple[WireMessage, ...] = ()


def verification_name(spec: ConnectionSpec) -> str:
    if spec.tls.sni_mode == "override" and spec.tls.sni_name and is_ip(spec.host):
        return spec.tls.sni_name.rstrip(".")
    return spec.host.rstrip(".")


def _versions_text(ctx: ssl.SSLContext) -> str:
    names = {ssl.TLSVersion.TLSv1: "TLS 1.0", ssl.TLSVersion.TLSv1_1: "TLS 1.1",
             ssl.TLSVersion.TLSv1_2: "TLS 1.2", ssl.TLSVersion.TLSv1_3: "TLS 1.3"}
    lo = names.get(ctx.minimum_version, "lowest supported")
    hi = names.get(ctx.maximum_version, "TLS 1.3")
    return lo if lo == hi else f"{lo} to {hi}"


def build_context(spec: ConnectionSpec) -> tuple[ssl.SSLContext, str | None, bool]:
    """(context, server_hostname, we_check_hostname). Raises InputError for unusable files."""
    tls = spec.tls
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    name = verification_name(spec)
    if tls.sni_mode == "none":
        server_hostname = None
    elif tls.sni_mode == "override":
        server_hostname = tls.sni_name
    else:
        server_hostname = spec.host.rstrip(".")  # an IP here sends no SNI but lets OpenSSL check the IP
    ours = False
    if tls.verify == "off":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ours = server_hostname is None or server_hostname.lower() != name.lower()
        ctx.check_hostname = not ours
        try:
            if tls.verify == "cafile":
                ctx.load_verify_locations(cafile=tls.cafile)
            else:
                ctx.load_default_certs()
        except (ssl.SSLError, OSError) as exc:
            raise InputError(f"cafile {tls.cafile!r} holds no usable CA certificate ({exc})", field="cafile") from None
    low = [v for v in (tls.min_version, tls.max_version) if v in ("1.0", "1.1")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are deprecated, and asked for
        if tls.min_version:
            ctx.minimum_version = _VERSIONS[tls.min_version]
        elif tls.max_version in ("1.0", "1.1"):
            # Python's default floor is TLS 1.2; a lower ceiling means "try the old versions".
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        if tls.max_version:
            ctx.maximum_version = _VERSIONS[tls.max_version]
    if tls.ciphers:
        ctx.set_ciphers(tls.ciphers)
    elif low:
        # OpenSSL 3's default security level refuses TLS 1.0/1.1 outright; asked for, they are offered.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if tls.alpn:
        set_alpn(ctx, tls.alpn)  # non-ASCII names as their UTF-8 bytes
    if tls.cert:
        try:
            # A fixed empty password: an encrypted key fails here instead of prompting on the terminal.
            ctx.load_cert_chain(tls.cert, tls.key, password=lambda: b"")
        except (ssl.SSLError, OSError) as exc:
            raise InputError(f"cert/key cannot be used (encrypted key, or key does not match the cert): {exc}",
                             field="cert") from None
    return ctx, server_hostname, ours


def _der_chain(sslobj: ssl.SSLObject, verified: bool) -> tuple[bytes, ...]:
    inner = getattr(sslobj, "_sslobj", None)
    getter = getattr(inner, "get_verified_chain" if verified else "get_unverified_chain", None)
    if getter is None:
        return ()
    try:
        chain = getter() or []
        return tuple(c.public_bytes(_DER) for c in chain)
    except (ssl.SSLError, ValueError, AttributeError):
        return ()


def _offered_ciphers(ctx: ssl.SSLContext) -> int:
    return sum(1 for c in ctx.get_ciphers() if c.get("protocol") != "TLSv1.3")


def run_tls(ctx: StageContext, sock: socket.socket) -> TlsOutcome:
    """Run the TLS handshake over sock; never raises for peer behaviour (raises Cancelled, InputError)."""
    spec = ctx.spec
    sslctx, server_hostname, ours = ctx.tls_setup or build_context(spec)
    name = verification_name(spec)
    wire: list[WireMessage] = []
    trace: list[TlsMessage] = []

    def on_message(conn, direction, version, content_type, msg_type, data):
        try:
            msg = decode_callback(direction, int(version), int(content_type), bytes(data))
            if msg is None:
                return
            at = ctx.now_ms()
            wire.append(msg)
            trace.append(TlsMessage(at, msg.direction, msg.content_type, msg.name, msg.version, msg.length))
            ctx.emit(TlsMessageSeen(at, msg.direction, msg.content_type, msg.name, msg.version, msg.length))
        except Exception:  # noqa: BLE001 - a display problem must not break the handshake
            pass

    sslctx._msg_callback = on_message
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sslobj = sslctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    pump = BioPump(sock, sslobj, incoming, outgoing, ctx.cancel, time.monotonic() + spec.timeout)
    base = dict(sni=spec.sni, sni_sent=spec.sni is not None, alpn_offered=tuple(spec.tls.alpn),
                verify=spec.tls.verify)
    kind, exc_reason, exc_text, errno_name = None, None, None, None
    verify_code, verify_message = None, None
    try:
        pump.handshake()
        if ours:
            leaf = _der_chain(sslobj, False)[:1]
            if leaf and not certparse.match_name(leaf[0], name):
                verify_code, verify_message = 62, "hostname mismatch"
                kind = "verify"
    except Cancelled:
        raise
    except ssl.SSLCertVerificationError as exc:
        kind, verify_code, verify_message = "verify", exc.verify_code, exc.verify_message
        exc_reason, exc_text = exc.reason, str(exc)
    except ssl.SSLError as exc:
        kind, exc_reason, exc_text = "ssl-error", exc.reason, str(exc)
    except PeerClosed:
        kind = "eof"
    except TimeoutError:
        kind = "timeout"
    except OSError as exc:
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled during TLS") from None
        errno_name = errno.errorcode.get(exc.errno or 0)
        kind = "reset" if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED) else "os-error"
        exc_text = str(exc)
    if ctx.cancel.cancelled:
        raise Cancelled("cancelled during TLS")

    peer_chain = _der_chain(sslobj, False)
    pending = b""
    if kind is None and sslobj.version() == "TLSv1.3" and any(
            m.name == "CertificateRequest" and m.direction == "received" for m in wire):
        # In TLS 1.3 the client finishes first; a refused client certificate arrives as an alert after.
        pending, late = _await_verdict(pump, lambda: any(m.name == "NewSessionTicket" for m in wire))
        if late is not None:
            kind, exc_reason, exc_text = "ssl-error", late.reason, str(late)
    facts_first = bytes(pump.first_bytes)
    if kind is not None and facts_first and not looks_like_tls(facts_first):
        pump.read_more_evidence()
        facts_first = bytes(pump.first_bytes)

    ok = kind is None
    version = sslobj.version() if ok else None
    cipher = sslobj.cipher() if ok else None
    received_alert = next((m for m in reversed(wire) if m.content_type == "alert" and m.alert_level == "fatal"), None)
    detail = TlsDetail(
        **base,
        version=version,
        cipher=cipher[0] if cipher else None,
        cipher_bits=cipher[2] if cipher else None,
        alpn=sslobj.selected_alpn_protocol() if ok else None,
        # None = not known: verification was off, or the handshake ended before it said.
        verified=(None if spec.tls.verify == "off" else False if verify_code is not None
                  else True if ok else None),
        session_reused=bool(ok and sslobj.session_reused),
        bytes_sent=pump.bytes_sent,
        bytes_received=pump.bytes_received,
        first_bytes_hex=facts_first[:512].hex() if facts_first and not looks_like_tls(facts_first) else None,
        first_bytes_text=(facts_first[:512].decode("latin-1")
                          if facts_first and not looks_like_tls(facts_first) else None),
        alert=received_alert.alert if received_alert else None,
        alert_direction=received_alert.direction if received_alert else None,
        error=exc_text if not ok else None,
        error_reason=exc_reason or ({"timeout": "timeout", "eof": "EOF", "reset": errno_name}.get(kind or "")),
        verify_code=verify_code,
        verify_message=verify_message,
    )
    findings = []
    if kind == "verify":
        findings += verify_findings(spec, verify_code or 0, verify_message or "", peer_chain, name)
    elif kind is not None:
        facts = HandshakeFacts(kind=kind, first_bytes=facts_first, messages=tuple(wire), error_reason=exc_reason,
                               error_text=exc_text, errno_name=errno_name, offered_versions=_versions_text(sslctx),
                               offered_ciphers=_offered_ciphers(sslctx), verify_name=name)
        findings += diagnose_failure(spec, facts)
    findings += session_findings(spec, version, ok, tuple(f.code for f in findings))
    summary = (f"{version} {detail.cipher}" + (f" alpn {detail.alpn}" if detail.alpn else "")
               if ok else (findings[0].title if findings else "failed"))
    verified_chain = _der_chain(sslobj, True) if ok and spec.tls.verify != "off" else ()
    channel = TlsChannel(pump, pending) if ok else None
    return TlsOutcome(
        outcome=StageOutcome(ok=ok, detail=detail, summary=summary, findings=tuple(findings)),
        messages=tuple(trace), channel=channel, peer_chain_der=peer_chain, verified_chain_der=verified_chain,
        verify_code=verify_code, verify_message=verify_message, verify_name=name,
        hostname_checked_by="none" if spec.tls.verify == "off" else ("tlsbench" if ours else "openssl"),
        chain_source="handshake", wire=tuple(wire))


def _await_verdict(pump: BioPump, ticket_seen) -> tuple[bytes, ssl.SSLError | None]:
    """Read briefly after a TLS 1.3 handshake: (application data seen, the SSLError if the server refused).

    A server sends its session tickets only after accepting the client's Finished (and certificate),
    so a NewSessionTicket ends the wait early; servers without tickets cost the whole wait.
    """
    limit = min(POST_HANDSHAKE_WAIT, max(pump.remaining(), 0.05))
    end = time.monotonic() + limit
    while True:
        try:
            data = pump.sslobj.read(65536)
            return data, None
        except ssl.SSLWantReadError:
            left = end - time.monotonic()
            if left <= 0 or pump.eof or ticket_seen():
                return b"", None
            try:
                pump.flush()
                pump.fill(keep=False, limit=left)
            except (TimeoutError, PeerClosed):
                continue
            except OSError:
                return b"", None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b"", None
        except ssl.SSLError as exc:
            return b"", exc

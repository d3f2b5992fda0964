"""The tls stages: a handshake through the TLS pump over whatever stream the run has so far.

`TlsStage` is the handshake with the target; `ProxyTlsStage` the one with an HTTPS proxy (the
target's TLS then runs inside it). Every handshake message and alert is recorded (OpenSSL's
message callback) and emitted as a TlsMessageSeen as it happens. The name the certificate is
checked against is `verification_name()`: the host asked for, like curl (with --pin too); when
the target is an IP address and --sni NAME is given, NAME. OpenSSL checks the name when it is
also the SNI sent; otherwise tlsbench checks it itself.
"""


from functools import lru_cache
from typing import Callable

import errno
import socket
import ssl
import time
import warnings

from tlsbench.engine.certs import certparse
from tlsbench.engine.findings.checks import set_alpn
from tlsbench.engine.records.details import ProxyTlsDetail, TlsDetail
from tlsbench.engine.findings.certs import leaf_dns_names, verify_findings
from tlsbench.engine.findings.tls import HandshakeFacts, diagnose_failure, session_findings
from tlsbench.errors import Cancelled, InputError
from tlsbench.engine.events import TlsMessageSeen
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.tls.fingerprint import HelloFingerprint, fingerprint
from tlsbench.engine.tls.peekbytes import looks_like_tls
from tlsbench.engine.route.proxies import ProxySpec
from tlsbench.engine.records.result import TlsMessage
from tlsbench.engine.spec import ConnectionSpec, TlsSpec, expand_path, format_hostport, is_ip
from tlsbench.engine.stages.chain import chain_detail
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.shared import TlsOutcome, TlsSetup, TlsTarget, target_of
from tlsbench.engine.stream import PeerClosed, Stream
from tlsbench.engine.tls.tlsfacts import negotiated, past_server_verification
from tlsbench.engine.tls.tlsmsg import TraceVersions, WireMessage, decode_callback
from tlsbench.engine.tls.tlsparse import by_skeleton
from tlsbench.engine.tls.tlspump import TlsPump, TlsStream

_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
             "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
_DER = 2  # _ssl.ENCODING_DER
_fingerprint = by_skeleton(fingerprint)  # the hellos of a series differ only in their random and keys
_RAW_MSG_CALLBACK = super(ssl.SSLContext, ssl.SSLContext)._msg_callback  # type: ignore[misc]
POST_HANDSHAKE_WAIT = 1.0  # seconds to wait for a TLS 1.3 server's verdict on a client certificate


def proxy_target(proxy: ProxySpec, timeout: float) -> TlsTarget:
    verify = "off" if proxy.insecure else ("cafile" if proxy.cafile else "system")
    tls = TlsSpec(enabled=True, verify=verify, cafile=proxy.cafile)  # type: ignore[arg-type]
    return TlsTarget("proxy", proxy.host, proxy.port, tls, timeout,
                     None if is_ip(proxy.host) else proxy.host.rstrip("."))


def verification_name(t: TlsTarget | ConnectionSpec) -> str:
    if t.tls.sni_mode == "override" and t.tls.sni_name and is_ip(t.host):
        return t.tls.sni_name.rstrip(".")
    return t.host.rstrip(".")


def _versions_text(ctx: ssl.SSLContext) -> str:
    names = {ssl.TLSVersion.TLSv1: "TLS 1.0", ssl.TLSVersion.TLSv1_1: "TLS 1.1",
             ssl.TLSVersion.TLSv1_2: "TLS 1.2", ssl.TLSVersion.TLSv1_3: "TLS 1.3"}
    lo = names.get(ctx.minimum_version, "lowest supported")
    hi = names.get(ctx.maximum_version, "TLS 1.3")
    return lo if lo == hi else f"{lo} to {hi}"


def build_context(t: TlsTarget | ConnectionSpec) -> tuple[ssl.SSLContext, str | None, bool]:
    """(context, server_hostname, we_check_hostname). Raises InputError for unusable files."""
    tls = t.tls
    what = "proxy_cafile" if getattr(t, "role", "target") == "proxy" else "cafile"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    name = verification_name(t)
    if tls.sni_mode == "none":
        server_hostname = None
    elif tls.sni_mode == "override":
        server_hostname = tls.sni_name
    else:
        server_hostname = t.host.rstrip(".")  # an IP here sends no SNI but lets OpenSSL check the IP
    ours = False
    if tls.verify == "off":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ours = server_hostname is None or server_hostname.lower() != name.lower()
        ctx.check_hostname = not ours
        try:
            if tls.verify == "cafile":
                ctx.load_verify_locations(cafile=expand_path(tls.cafile or ""))
            else:
                ctx.load_default_certs()
        except (ssl.SSLError, OSError) as exc:
            raise InputError(f"{what} {tls.cafile!r} holds no usable CA certificate ({exc})", field=what) from None
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
            ctx.load_cert_chain(expand_path(tls.cert), expand_path(tls.key) if tls.key else None,
                                password=lambda: b"")
        except (ssl.SSLError, OSError) as exc:
            raise InputError(f"cert/key cannot be used (encrypted key, or key does not match the cert): {exc}",
                             field="cert") from None
    if tls.keylog:
        ctx.keylog_filename = open_keylog(tls.keylog)
    if server_hostname is not None and not server_hostname.isascii():
        # ssl encodes server_hostname with the idna codec: load it now, not inside the handshake.
        import codecs

        codecs.lookup("idna")
    return ctx, server_hostname, ours


def open_keylog(path: str) -> str:
    """Create the key log 0600 before OpenSSL opens it (it would create it 0644); an existing
    regular file is appended to and keeps its mode. Raises InputError for anything else."""
    import os
    import stat

    expanded = expand_path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(expanded, flags, 0o600)
    except OSError as exc:
        raise InputError(f"keylog {path!r} cannot be opened: {exc.strerror}", field="keylog") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"keylog {path!r} is not a regular file", field="keylog")
    finally:
        os.close(fd)
    return expanded


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


@lru_cache(maxsize=64)  # the same leaf, run after run
def _key_words(der: bytes) -> str | None:
    """'EC (secp256r1) 256 bits' for a certificate's public key; None when it cannot be read."""
    try:
        key_type, bits = certparse._key_facts(certparse.load(der))
    except ValueError:
        return None
    return f"{key_type} {bits} bits" if bits else key_type


_DECODED: dict[tuple[str, int, int, bytes], WireMessage | None] = {}


def _decode(direction: str, version: int, content_type: int, data: bytes) -> WireMessage | None:
    """decode_callback, once per distinct call: most of a series' messages (record headers, the
    certificates, the extensions, alerts) cross byte for byte the same every time."""
    key = (direction, version, content_type, data)
    msg = _DECODED.get(key, _UNSEEN)
    if msg is _UNSEEN:
        msg = decode_callback(direction, version, content_type, data)
        if len(_DECODED) >= 256:
            _DECODED.clear()
        _DECODED[key] = msg
    return msg  # type: ignore[return-value]


_UNSEEN = object()


def _offered_ciphers(ctx: ssl.SSLContext) -> int:
    return sum(1 for c in ctx.get_ciphers() if c.get("protocol") != "TLSv1.3")


def handshake(ctx: StageContext, stream: Stream, t: TlsTarget, setup: TlsSetup, key: str,
              session: ssl.SSLSession | None = None) -> TlsOutcome:
    """Run a TLS handshake over `stream`; never raises for peer behaviour (raises Cancelled).
    `session` (an earlier connection's, same context) is offered for resumption."""
    sslctx, server_hostname, ours = setup
    name = verification_name(t)
    wire: list[WireMessage] = []
    trace: list[TlsMessage] = []

    versions = TraceVersions()
    # With no one listening (a run of `--count`), the callback only keeps what OpenSSL passed and the
    # time; the messages are decoded once the handshake has ended, as they would have been live.
    pending: list[tuple[float, str, int, int, bytes]] | None = None if ctx.listening else []

    def record(at: float, direction: str, version: int, content_type: int, data: bytes) -> None:
        if content_type == 256:  # a record header: its version labels what comes before a ServerHello
            versions.header("sent" if direction == "write" else "received", data)
        msg = _decode(direction, version, content_type, data)
        if msg is None:
            return
        msg = versions.label(msg)
        wire.append(msg)
        trace.append(TlsMessage(at, msg.direction, msg.content_type, msg.name, msg.version, msg.length, key,
                                msg.data))
        if pending is None:
            ctx.emit(TlsMessageSeen(at, msg.direction, msg.content_type, msg.name, msg.version, msg.length, key))

    # Called from OpenSSL's message callback slot with plain integers (see below); `conn` is unused.
    def on_message(conn: object, direction: str, version: int, content_type: int, msg_type: int,
                   data: bytes) -> None:
        try:
            if pending is not None and not live:
                pending.append((ctx.now_ms(), direction, version, content_type, bytes(data)))
            else:
                record(ctx.now_ms(), direction, int(version), int(content_type), bytes(data))
        except Exception:  # noqa: BLE001 - a display problem must not break the handshake
            pass

    live = False

    # Straight to the C slot: ssl.SSLContext's setter wraps the callback in one that turns every
    # argument into an enum first (three per call, some thirty calls per handshake); decode_callback
    # reads the plain integers.
    _RAW_MSG_CALLBACK.__set__(sslctx, on_message)
    pump = TlsPump(sslctx, server_hostname=server_hostname, session=session)
    tls_stream = TlsStream(stream, pump)
    sslobj = pump.sslobj
    kind, exc_reason, exc_text, errno_name = None, None, None, None
    quiet_ms: float | None = None  # at a timeout: how long the peer had been silent
    verify_code, verify_message = None, None
    ctx.begin()
    began = ctx.now_ms()
    handshake_ms = None
    try:
        tls_stream.handshake()
        ctx.end()
        handshake_ms = ctx.now_ms() - began
        if ours:
            leaf = _der_chain(sslobj, False)[:1]
            try:
                matches = not leaf or certparse.match_name(leaf[0], name)
                unreadable = False
            except certparse.CertParseError:
                matches, unreadable = False, True
            if not matches:
                verify_code, verify_message = 62, ("hostname not checked: the certificate's names do not parse"
                                                   if unreadable else "hostname mismatch")
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
        quiet_ms = (time.monotonic() - tls_stream.last_received) * 1000 if tls_stream.last_received else None
    except OSError as exc:
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled during TLS") from None
        errno_name = errno.errorcode.get(exc.errno or 0)
        kind = "reset" if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED) else "os-error"
        exc_text = str(exc)
    if kind is not None and kind != "verify":
        ctx.end()
    if pending:
        for call in pending:
            try:
                record(*call)
            except Exception:  # noqa: BLE001 - as in on_message
                pass
        pending.clear()
    live = True  # what comes after the handshake (tickets, alerts) is decoded as it arrives
    if ctx.cancel.cancelled:
        raise Cancelled("cancelled during TLS")

    peer_chain = _der_chain(sslobj, False)
    completed = kind is None  # the client's side of the handshake ended well (before any late alert)
    if kind is None and sslobj.version() == "TLSv1.3" and any(
            m.name == "CertificateRequest" and m.direction == "received" for m in wire):
        # In TLS 1.3 the client finishes first; a refused client certificate arrives as an alert after.
        late = _await_verdict(tls_stream, lambda: any(m.name == "NewSessionTicket" for m in wire))
        if late is not None:
            kind, exc_reason, exc_text = "ssl-error", late.reason, str(late)
    facts_first = bytes(tls_stream.first_bytes)
    if kind is not None and facts_first and not looks_like_tls(facts_first):
        tls_stream.more_evidence()
        facts_first = bytes(tls_stream.first_bytes)

    ok = kind is None
    chain_verified = (None if t.tls.verify == "off" else
                      verify_code is None and (completed or past_server_verification(wire)) and
                      (not ours or _name_matches(peer_chain, name)))
    version = sslobj.version() if ok else None
    cipher = sslobj.cipher() if ok else None
    received_alert = next((m for m in reversed(wire) if m.content_type == "alert" and m.alert_level == "fatal"), None)
    not_tls = bool(facts_first) and not looks_like_tls(facts_first)
    transcript = getattr(stream, "transcript", None)
    params = negotiated(wire)
    detail = TlsDetail(
        sni=t.sni, sni_sent=t.sni is not None, alpn_offered=tuple(t.tls.alpn), verify=t.tls.verify,
        version=version,
        cipher=cipher[0] if cipher else None,
        cipher_bits=cipher[2] if cipher else None,
        alpn=sslobj.selected_alpn_protocol() if ok else None,
        # None = not known: verification was off, or the handshake ended before it said.
        verified=(None if t.tls.verify == "off" else False if verify_code is not None
                  else True if chain_verified else None),
        session_reused=bool(ok and sslobj.session_reused),
        bytes_sent=transcript.bytes_sent if transcript else 0,
        bytes_received=transcript.bytes_received if transcript else len(facts_first),
        first_bytes_hex=facts_first[:512].hex() if not_tls else None,
        first_bytes_text=facts_first[:512].decode("latin-1") if not_tls else None,
        alert=received_alert.alert if received_alert else None,
        alert_direction=received_alert.direction if received_alert else None,
        error=exc_text if not ok else None,
        error_reason=exc_reason or ({"timeout": "timeout", "eof": "EOF", "reset": errno_name}.get(kind or "")),
        verify_code=verify_code,
        verify_message=verify_message,
        group=params.group,
        signature_algorithm=params.signature_algorithm,
        server_extensions=params.extensions,
        peer_key=_key_words(peer_chain[0]) if peer_chain else None,
        client_cert_request=params.cert_request,
        hello_retry_group=params.hello_retry_group,
        key_exchange=params.key_exchange,
        client_hello=_hello_fingerprint(wire),
    )
    findings = []
    if kind == "verify":
        findings += verify_findings(t, verify_code or 0, verify_message or "", peer_chain, name)
    elif kind is not None:
        facts = HandshakeFacts(kind=kind, first_bytes=facts_first, messages=tuple(wire), error_reason=exc_reason,
                               error_text=exc_text, errno_name=errno_name, offered_versions=_versions_text(sslctx),
                               offered_ciphers=_offered_ciphers(sslctx), verify_name=name, quiet_ms=quiet_ms,
                               bytes_received=transcript.bytes_received if transcript else len(facts_first),
                               via=ctx.spec.proxies[-1].url if t.role == "target" and ctx.spec.proxies else None)
        findings += diagnose_failure(t, facts)
    findings += session_findings(t, version, ok, tuple(f.code for f in findings),
                                 names=leaf_dns_names(peer_chain) if t.sni is None else ())
    summary = (f"{version} {detail.cipher}" + (f" {detail.group}" if detail.group else "")
               + (f" alpn {detail.alpn}" if detail.alpn else "")
               if ok else (findings[0].title if findings else "failed"))
    verified_chain = _der_chain(sslobj, True) if chain_verified else ()
    return TlsOutcome(
        outcome=StageOutcome(ok=ok, detail=detail, summary=summary, findings=tuple(findings)),
        messages=trace, stream=tls_stream if ok else None, peer_chain_der=peer_chain,
        verified_chain_der=verified_chain, verify_code=verify_code, verify_message=verify_message,
        verify_name=name, hostname_checked_by="none" if t.tls.verify == "off" else ("tlsbench" if ours else "openssl"),
        wire=tuple(wire), setup=setup, handshake_ms=handshake_ms, chain_verified=chain_verified)


def _hello_fingerprint(wire: list[WireMessage]) -> HelloFingerprint | None:
    """JA3 and JA4 of the first ClientHello sent (after a HelloRetryRequest a second one follows)."""
    hello = next((m for m in wire if m.direction == "sent" and m.handshake_type == 1), None)
    return _fingerprint(hello.data) if hello is not None else None


def _name_matches(peer_chain: tuple[bytes, ...], name: str) -> bool:
    """tlsbench's own name check (when OpenSSL did not check the name) for a failed handshake."""
    try:
        return bool(peer_chain) and certparse.match_name(peer_chain[0], name)
    except certparse.CertParseError:
        return False


def _await_verdict(tls_stream: TlsStream, ticket_seen: Callable[[], bool]) -> ssl.SSLError | None:
    """Read briefly after a TLS 1.3 handshake: the SSLError if the server refused our certificate.

    A server sends its session tickets only after accepting the client's Finished (and
    certificate), so a NewSessionTicket ends the wait early; servers without tickets cost the
    whole wait. Application data that arrives meanwhile is kept for the app stage.
    """
    pump = tls_stream.pump
    end = time.monotonic() + min(POST_HANDSHAKE_WAIT, max(tls_stream.link.remaining(), 0.05))
    while not ticket_seen() and not pump.peer_closed:
        left = end - time.monotonic()
        if left <= 0:
            return None
        try:
            data = pump.read()
        except ssl.SSLError as exc:
            return exc
        if data:
            tls_stream.unread(data)
            return None
        if data == b"":
            return None
        try:
            tls_stream.fill(left)
        except (TimeoutError, PeerClosed, OSError):
            return None
    return None


def run_tls(ctx: StageContext, stream_or_socket: Stream | socket.socket) -> TlsOutcome:
    """One handshake with the spec's target over a connected socket (or a stream), outside a run."""
    from tlsbench.engine.stream import socket_stream

    stream: Stream
    if not isinstance(stream_or_socket, socket.socket):
        stream = stream_or_socket
    else:
        stream = socket_stream(stream_or_socket, ctx.cancel)
        stream.link.set_timeout(ctx.spec.timeout)
    target = target_of(ctx.spec)
    return handshake(ctx, stream, target, build_context(target), "tls")


class TlsStage:
    """The handshake with the target, over the TCP connection or the last proxy's tunnel."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.key = step.key
        self.target = target_of(plan.spec)
        self.setup = build_context(self.target)

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        out = handshake(ctx, state.need_stream(), self.target, self.setup, self.key)
        review = state.tls_review  # a hop before may know better what a failure means
        if review is not None:
            out = out._replace(outcome=review(out.outcome))
        state.tls = out
        if out.stream is not None:
            state.stream = out.stream
        late = _queued(ctx, state, out) or _relayed(ctx, state, out)
        summary = _where_the_time_went(ctx, out, late)
        findings = out.outcome.findings + ((late,) if late is not None else ())
        from tlsbench.engine.tls13.smallhello import after_timeout

        dropped = after_timeout(ctx, state, out)
        if dropped is not None:  # it explains the timeout: the path, not the server
            findings = (dropped,) + tuple(f for f in findings if f.code != "tls-timeout")
        return out.outcome._replace(summary=summary, findings=findings)


def _where_the_time_went(ctx: StageContext, out: TlsOutcome, late: Finding | None) -> str:
    """The summary, naming the wait that took most of the stage: the one `late` explains, or a wait of
    SLOW_FIRST_BYTE_MS or more for the server's first byte (through a proxy too, where no finding
    can tell the listener's queue from the path)."""
    from tlsbench.engine.stages.stagetime import SLOW_FIRST_BYTE_MS, name_dominant, wire_ms

    waits: list[tuple[float, str]] = []
    if late is not None and late.code == "relay-delayed-ack":
        from tlsbench.engine.findings.relay import largest_gap

        gap = largest_gap(out.messages)
        if gap is not None:
            waits.append((gap[0], "a relay's delayed-ACK pause"))
    sent = next((m.at_ms for m in out.messages if m.direction == "sent"), None)
    first = next((m.at_ms for m in out.messages if m.direction == "received"), None)
    if sent is not None and first is not None and (
            first - sent >= SLOW_FIRST_BYTE_MS or (late is not None and late.code == "accept-queue-wait")):
        waits.append((first - sent, "waiting for the server's first byte"))
    if not waits:
        return out.outcome.summary
    part, words = max(waits)
    return name_dominant(out.outcome.summary, part, wire_ms(ctx), words)


def _queued(ctx: StageContext, state: RunState, out: TlsOutcome) -> Finding | None:
    """`accept-queue-wait` for a handshake straight after a direct connect, when its answer came late."""
    from tlsbench.engine.findings.backlog import accept_queue_wait

    connect_ms = state.tcp_connect_ms
    steps = [s.name for s in state.plan.steps if s.skip is None]
    if connect_ms is None or ctx.spec.proxies or steps[:steps.index("tls")][-1:] != ["tcp"]:
        return None  # a proxy or a STARTTLS dialogue spoke first: the wait is not the listener's
    sent = next((m.at_ms for m in out.messages if m.direction == "sent" and m.name == "ClientHello"), None)
    first = next((m.at_ms for m in out.messages if m.direction == "received"), None)
    if sent is None or first is None:
        return None
    info = state.socket_info.tcp_info
    return accept_queue_wait(connect_ms, sent, first, where=ctx.spec.target, port=ctx.spec.port,
                             rtt_ms=info.rtt_ms if info is not None else None)


def _relayed(ctx: StageContext, state: RunState, out: TlsOutcome) -> Finding | None:
    """`relay-delayed-ack` for a handshake through a proxy whose server flight paused for a delayed ACK."""
    if not ctx.spec.proxies or not out.outcome.ok:
        return None
    from tlsbench.engine.findings.relay import relay_delayed_ack
    from tlsbench.engine.equivalents import curl_command
    from tlsbench.engine.route.proxies import KIND_NAMES

    hop = ctx.spec.proxies[-1]  # the one that relays to the target
    curl = curl_command(ctx.spec)
    command = (curl.command.replace("curl -v", "curl -so /dev/null -w 'appconnect %{time_appconnect} s'", 1)
               if curl.available else None)
    info = state.socket_info.tcp_info
    return relay_delayed_ack(out.messages, relay=f"{KIND_NAMES.get(hop.kind, hop.kind)} proxy {hop.address}",
                             target=ctx.spec.target, mss=info.rcv_mss if info is not None else None, curl=command)


class ProxyTlsStage:
    """TLS to an HTTPS proxy: its certificate verified and diagnosed like a server's."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.key = step.key
        assert step.hop is not None  # a proxy-tls step always names its hop
        target = proxy_target(step.hop, plan.spec.timeout)
        # The key log covers every TLS connection of the run, the proxy's too (as curl's does).
        self.target = target._replace(tls=target.tls._replace(keylog=plan.spec.tls.keylog))
        self.setup = build_context(self.target)

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        out = handshake(ctx, state.need_stream(), self.target, self.setup, self.key)
        findings = list(out.outcome.findings)
        chain = None
        if out.peer_chain_der:
            chain, more = chain_detail(self.target, out)
            findings += more
        assert isinstance(out.outcome.detail, TlsDetail)  # what handshake() always reports
        detail = ProxyTlsDetail(proxy=self.target.target, tls=out.outcome.detail, chain=chain,
                                messages=tuple(out.messages))
        if out.stream is not None:
            state.stream = out.stream
        # The proxy is the peer of this handshake: what the peer did here, the proxy did.
        findings = [f._replace(stage=self.key, origin="proxy" if f.origin == "peer" else f.origin) for f in findings]
        summary = out.outcome.summary
        if out.outcome.ok and chain is not None and chain.certificates:
            summary += f"; proxy certificate {chain.certificates[0].subject}"
        return StageOutcome(out.outcome.ok, detail, summary, tuple(findings))

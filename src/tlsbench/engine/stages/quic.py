"""The quic stage: a QUIC handshake (ALPN h3) with the target over UDP, for --http3 and --http3-only.

aioquic's QuicConnection runs sans-IO over a connected UDP socket on the run's Link (engine/quic/
session.py): the stage's clock covers the Initial's first datagram to the handshake's end. The
chain aioquic received is verified by OpenSSL against the tls stage's trust (engine/quic/verify.py)
and reported with the tls stage's findings; with --http3-only the handshake is the run's TLS (the
chain stage reads it), with --http3 the TCP path's tls stage stands beside it. The QUIC session
stays open for the app stage, which sends the HTTP/3 request when QUIC is the one that connected.
"""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, TextIO, cast

from tlsbench.engine.capture.taps import quic_keys
from tlsbench.engine.findings.certs import verify_findings
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.quic.findings import failure_finding
from tlsbench.engine.quic.wire import alert_of, error_name, version_name
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.records.details import QuicDetail, TlsDetail
from tlsbench.engine.route.hostport import format_hostport
from tlsbench.engine.spec import ConnectionSpec, expand_path, is_ip
from tlsbench.errors import InputError
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.shared import TlsOutcome, target_of
from tlsbench.engine.stages.tcp import BindError, _bind
from tlsbench.engine.stream import DatagramSocket, Link
from tlsbench.engine.tls.tlsnames import group_name, signature_name

if TYPE_CHECKING:
    from tlsbench.engine.quic.session import Closed, Failure, QuicSession
    from tlsbench.engine.quic.verify import Verdict

OFFERED_VERSIONS = ("QUICv1", "QUICv2")  # what aioquic offers (it starts with QUICv1)


class QuicAttempt:
    """The QUIC attempt, for the app stage: its session (open when it connected and verified) and times."""

    def __init__(self, mode: str, detail: QuicDetail, session: QuicSession | None = None,
                 verdict: Verdict | None = None, failure: Failure | None = None) -> None:
        self.mode = mode
        self.detail = detail
        self.session = session
        self.verdict = verdict
        self.failure = failure

    @property
    def ready(self) -> bool:
        """The handshake completed with h3 and the chain verified (or verification is off)."""
        return (self.session is not None and self.detail.alpn == "h3"
                and (self.verdict is None or self.verdict.verified is not False))

    def result_words(self) -> str:
        if self.ready:
            return "handshake done"
        return self.detail.error or self.detail.failure or "failed"


class QuicStage:
    def __init__(self, step: Step, plan: Plan) -> None:
        # aioquic and pyOpenSSL load here, before any clock (and only for a run that asks for QUIC).
        from tlsbench.engine.quic import h3, session, verify

        self.session_module = session
        self.h3_module = h3  # the app stage's HTTP/3 request: loaded now too, not under its clock
        self.spec = plan.spec
        self.target = target_of(plan.spec)
        self.store = verify.trust_store(plan.spec.tls)
        self.verify_chain = verify.verify_chain
        self.keylog = None
        if plan.spec.tls.keylog:  # made 0600 (or checked) now, as the tls stage does; aioquic appends to it
            from tlsbench.engine.stages.tls import open_keylog

            self.keylog = open_keylog(plan.spec.tls.keylog)
        tls = plan.spec.tls
        self.client = None
        if tls.cert:
            try:
                self.client = session.client_certificate(expand_path(tls.cert), expand_path(tls.key) if tls.key else None)
            except ValueError as exc:
                raise InputError(f"cert/key cannot be used over QUIC (encrypted key, or key does not match the cert): "
                                 f"{exc}", field="cert") from None
        self.name = (tls.sni_name.rstrip(".") if tls.sni_mode == "override" and tls.sni_name and is_ip(self.spec.host)
                     else self.spec.host.rstrip("."))

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        spec, mode = self.spec, self.spec.app.http3
        family, sockaddr = state.need_route().addresses[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            _bind(sock, family, spec.local)  # --interface, --local-port: the UDP socket as the TCP one
            sock.connect(sockaddr)  # no packet: a connected UDP socket hears ICMP errors as ECONNREFUSED
        except (BindError, OSError) as exc:
            sock.close()
            return self.not_started(state, exc, sockaddr, mode)
        local = sock.getsockname()
        datagrams = DatagramSocket(Link(sock, ctx.cancel))
        datagrams.link.set_timeout(spec.timeout)
        state.datagrams = datagrams
        config = self.session_module.configuration(spec.sni, keylog=self.keylog, client=self.client)
        keys = quic_keys(also=config.secrets_log_file)  # --pcap: the secrets go into the capture too
        if keys is not None:
            config.secrets_log_file = cast("TextIO", keys)  # aioquic only writes, flushes and closes it
        quic = self.session_module.QuicSession(datagrams, sockaddr, config, ctx.now_ms)
        where = format_hostport(sockaddr[0], sockaddr[1])
        ctx.begin()
        failure = quic.handshake()
        ctx.end()
        if failure is not None and failure.kind == "closed" and quic.negotiation is not None:
            failure = failure._replace(kind="version-negotiation", negotiation=quic.negotiation)
        chain = quic.peer_chain_der
        verdict = self.verify_chain(self.store, chain, self.name) if failure is None else None
        tls = _tls_detail(spec, quic, verdict, failure)
        detail = _quic_detail(mode, sockaddr, local, quic, tls, failure)
        findings: list[Finding] = []
        if failure is not None:
            quic.close()
            findings.append(self.failure_finding(failure, where, mode, quic.datagrams_sent))
            state.quic = QuicAttempt(mode, detail, failure=failure)
            return StageOutcome(False, detail, findings[0].title, tuple(findings))
        assert verdict is not None
        if verdict.verified is False:
            quic.close(0x100 + 42, "certificate not verified")  # CRYPTO_ERROR bad_certificate, as a client says
            detail = detail._replace(failure="cert", error=f"certificate not verified: {verdict.code} "
                                                          f"({verdict.message})")
            if mode == "only":  # with --http3 the TCP path's tls stage says it, from its own handshake
                findings += verify_findings(self.target, verdict.code or 0, verdict.message or "", chain, self.name)
            session = None
        else:
            session = quic
        state.quic = QuicAttempt(mode, detail, session, verdict)
        if mode == "only":
            state.tls = TlsOutcome(
                outcome=StageOutcome(verdict.verified is not False, tls), messages=[],
                peer_chain_der=chain, verified_chain_der=verdict.verified_chain_der, verify_code=verdict.code,
                verify_message=verdict.message, verify_name=self.name,
                hostname_checked_by="none" if verdict.verified is None else "tlsbench",
                handshake_ms=detail.handshake_ms, chain_verified=verdict.verified)
        summary = (f"{detail.version} TLSv1.3 {quic.cipher}" + (f" {tls.group}" if tls.group else "")
                   + f" alpn {quic.alpn}")
        if verdict.verified is False:
            summary = f"certificate not verified ({verdict.code}: {verdict.message})"
        return StageOutcome(verdict.verified is not False, detail, summary, tuple(findings))

    def not_started(self, state: RunState, exc: Exception, sockaddr: tuple, mode: str) -> StageOutcome:
        """The UDP socket could not be bound or connected as asked: tlsbench's side, no datagram sent."""
        from tlsbench.engine.quic.session import Failure

        what = getattr(exc, "what", "the UDP socket")
        cause = getattr(exc, "exc", exc)
        name = errno.errorcode.get(getattr(cause, "errno", None) or 0)
        failure = Failure("socket", f"{what}: {getattr(cause, 'strerror', None) or cause}", name)
        detail = QuicDetail(peer_address=str(sockaddr[0]), peer_port=int(sockaddr[1]), attempt=mode,
                            failure="socket", error=failure.words, errno_name=name)
        state.quic = QuicAttempt(mode, detail, failure=failure)
        found = self.failure_finding(failure, format_hostport(sockaddr[0], sockaddr[1]), mode, 0)
        return StageOutcome(False, detail, found.title, (found,))

    def failure_finding(self, failure: Failure, where: str, mode: str, sent: int) -> Finding:
        return failure_finding(failure, where, mode, sent, self.spec.timeout, OFFERED_VERSIONS)


def _tls_detail(spec: ConnectionSpec, quic: QuicSession, verdict: Verdict | None,
                failure: Failure | None) -> TlsDetail:
    """The TLS 1.3 inside QUIC, in the tls stage's record."""
    chain = quic.peer_chain_der
    return TlsDetail(sni=spec.sni, sni_sent=spec.sni is not None, version="TLSv1.3" if failure is None else None,
                     cipher=quic.cipher, alpn=quic.alpn, alpn_offered=("h3",), verify=spec.tls.verify,
                     verified=verdict.verified if verdict is not None else None,
                     verify_code=verdict.code if verdict is not None else None,
                     verify_message=verdict.message if verdict is not None else None,
                     group=group_name(quic.group) if quic.group is not None else None,
                     signature_algorithm=signature_name(quic.signature) if quic.signature is not None else None,
                     peer_key=key_words(chain[0]) if chain else None,
                     key_exchange="(EC)DHE" if quic.group is not None else None, alert=_alert(failure))


def _quic_detail(mode: str, sockaddr: tuple, local: tuple, quic: QuicSession, tls: TlsDetail,
                 failure: Failure | None) -> QuicDetail:
    closed = failure.closed if failure is not None else None
    spoken = quic.first_packet_ms is not None and quic.negotiation is None  # a Version Negotiation: none spoken
    return QuicDetail(
        peer_address=str(sockaddr[0]), peer_port=int(sockaddr[1]), attempt=mode, local_address=str(local[0]),
        local_port=int(local[1]), version=_version(quic.version) if spoken else None,
        alpn=quic.alpn, initial_sent_ms=quic.initial_sent_ms, first_packet_ms=quic.first_packet_ms,
        handshake_done_ms=quic.handshake_ms,
        handshake_ms=(quic.handshake_ms - quic.initial_sent_ms
                      if quic.handshake_ms is not None and quic.initial_sent_ms is not None else None),
        datagrams_sent=quic.datagrams_sent, datagrams_received=quic.datagrams_received,
        bytes_sent=quic.bytes_sent, bytes_received=quic.bytes_received, tls=tls,
        failure=failure.kind if failure is not None else None,
        error=(failure.words or None) if failure is not None else None,
        errno_name=failure.errno_name if failure is not None else None,
        close_code=closed.code if closed else None, close_name=_close_name(closed),
        closed_by=closed.by if closed else None, close_reason=(closed.reason or None) if closed else None,
        server_versions=tuple(version_name(v) for v in quic.negotiation.versions) if quic.negotiation else ())


def _version(value: int | None) -> str | None:
    return version_name(value) if value is not None else None


def _close_name(closed: Closed | None) -> str | None:
    return error_name(closed.code, closed.application) if closed is not None else None


def _alert(failure: Failure | None) -> str | None:
    closed = failure.closed if failure is not None else None
    return alert_of(closed.code) if closed is not None and not closed.application else None


def key_words(der: bytes) -> str | None:
    """'EC (secp256r1) 256 bits' for the leaf's public key, as the tls stage words it."""
    from tlsbench.engine.certs import certparse

    try:
        key_type, bits = certparse._key_facts(certparse.load(der))
    except ValueError:
        return None
    return f"{key_type} {bits} bits" if bits else key_type

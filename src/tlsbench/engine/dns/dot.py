"""DNS over TLS (RFC 7858): one TLS connection to the server, the lookup's queries on it, each with
its two-byte length prefix.

The server is verified as the target is (the system store, or `--cafile`), against the name of
`tls://NAME` (sent as SNI; an address is checked against the certificate's IP entries and sends no
SNI); `--doh-insecure` turns that off for DNS servers only. The context is made in `__init__`,
before any clock. The connection's handshake comes back as a stage record (a `tls` record with a
TlsDetail: version, cipher, verification) that the resolve stage shows in its detail.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import TYPE_CHECKING, Sequence

from tlsbench.engine.dns.plain import failure_words, stream_exchange
from tlsbench.engine.dns.servers import DnsServer
from tlsbench.engine.dns.transport import Answer, Exchanged
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.records.details import TlsDetail
from tlsbench.engine.records.result import StageRecord
from tlsbench.engine.spec import ConnectionSpec, expand_path, is_ip
from tlsbench.errors import Cancelled, InputError

if TYPE_CHECKING:
    from tlsbench.engine.stages.context import StageContext


class TlsTransport:
    """DNS over TLS to one server."""

    scheme = "tls"

    def __init__(self, server: DnsServer, spec: ConnectionSpec) -> None:
        self.target = server
        self.server = server.text
        dns = spec.dns
        self.verify = "off" if dns.doh_insecure else ("cafile" if dns.cafile else "system")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8310: TLS 1.2 or later
        context.set_alpn_protocols(["dot"])
        if self.verify == "off":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            try:
                if dns.cafile:
                    context.load_verify_locations(cafile=expand_path(dns.cafile))
                else:
                    context.load_default_certs()
            except (ssl.SSLError, OSError) as exc:
                raise InputError(f"cafile {dns.cafile!r} holds no usable CA certificate ({exc})",
                                 field="cafile") from None
        self.context = context
        self.failure: str | None = None
        self.record: StageRecord | None = None

    def exchange(self, queries: Sequence[bytes], ctx: StageContext, timeout: float) -> Exchanged:
        self.failure, self.record = None, None
        deadline = time.monotonic() + timeout
        host, port = self.target.host, self.target.port
        findings: list[Finding] = []
        sent: list[float] = []
        began = ctx.now_ms()
        ctx.begin()
        try:
            got, error = stream_exchange(lambda: self._connect(host, port, deadline, ctx, timeout, findings),
                                         queries, deadline, ctx, timeout, sent)
        finally:
            ctx.end()
        sent_ms = sent[0] if sent else began
        if error and self.failure is None:
            self.failure = "timeout" if error.startswith("no answer") else "failed"
        answers = []
        for i, q in enumerate(queries):
            if i in got:
                answers.append(Answer(q, got[i][0], sent_ms, got[i][1] - sent_ms))
            else:
                answers.append(Answer(q, None, sent_ms, ctx.now_ms() - sent_ms, error or "no answer"))
        return Exchanged(tuple(answers), (self.record,) if self.record else (), tuple(findings))

    def _connect(self, host: str, port: int, deadline: float, ctx: StageContext, timeout: float,
                 findings: list[Finding]) -> ssl.SSLSocket:
        from tlsbench.engine.findings import dns as dns_findings

        started = ctx.now_ms()
        sni = None if is_ip(host) else host
        detail = TlsDetail(sni=sni, sni_sent=sni is not None, alpn_offered=("dot",), verify=self.verify)
        try:
            raw = socket.create_connection((host, port), timeout=max(0.01, deadline - time.monotonic()))
        except OSError as exc:
            self.failure, words = failure_words(exc, timeout)
            findings.append(dns_findings.server_unreachable(self.server, self.failure, words))
            raise
        ctx.cancel.attach(raw)  # a cancel shuts it down: the handshake's wait ends at once
        raw.settimeout(max(0.01, deadline - time.monotonic()))
        sock = self.context.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
        try:
            sock.do_handshake()
        except ssl.SSLCertVerificationError as exc:
            self.failure = "tls-verify"
            detail = detail._replace(verified=False, verify_code=exc.verify_code, verify_message=exc.verify_message,
                                     error=exc.reason or str(exc), error_reason=exc.reason)
            self._keep(detail, started, ctx, f"{self.server}: certificate not verified ({exc.verify_message})")
            findings.append(dns_findings.server_cert_failed(self.server, exc.verify_code, exc.verify_message,
                                                            self.verify))
            sock.close()
            raise
        except (ssl.SSLError, OSError) as exc:
            if ctx.cancel.cancelled:
                sock.close()
                raise Cancelled("cancelled") from None
            kind, words = failure_words(exc, timeout)
            if kind == "timeout":
                words = f"no TLS answer within {timeout:g} s (does the port speak DNS over TLS?)"
            reason = getattr(exc, "reason", None)
            self.failure = "timeout" if kind == "timeout" else "tls-failed"
            detail = detail._replace(error=words, error_reason=reason)
            self._keep(detail, started, ctx, f"{self.server}: TLS handshake failed ({words})")
            findings.append(dns_findings.server_tls_failed(self.server, words, reason)
                            if kind != "timeout" else dns_findings.server_unreachable(self.server, kind, words))
            sock.close()
            raise
        cipher = sock.cipher()
        detail = detail._replace(version=sock.version(), cipher=cipher[0] if cipher else None,
                                 cipher_bits=cipher[2] if cipher else None, alpn=sock.selected_alpn_protocol(),
                                 verified=None if self.verify == "off" else True)
        shown = f"{sock.version()}, {cipher[0] if cipher else '?'}, " + (
            "not verified (--doh-insecure)" if self.verify == "off" else "verified")
        self._keep(detail, started, ctx, f"DNS over TLS to {self.server}: {shown}", ok=True)
        return sock

    def _keep(self, detail: TlsDetail, started: float, ctx: StageContext, summary: str, ok: bool = False) -> None:
        self.record = StageRecord("tls", "ok" if ok else "failed", started, ctx.now_ms() - started, detail,
                                  summary, key="tls", label="DoT tls", parent=ctx.path or "resolve")

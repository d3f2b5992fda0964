"""Runs a ConnectionSpec stage by stage and emits events; the engine's public entry point.

    result = run_probe(spec, on_event=print, cancel=token)

`on_event` is called from the running thread for every Event (see events.py), in order,
ending with RunFinished. `cancel` (a CancelToken) may be triggered from another thread: the
stage in flight is interrupted (its socket closed) and the result has cancelled=True.

Stages run in order: resolve, tcp, proxy, tls, chain, app. A stage that fails ends the run;
the ones after it are recorded as skipped. An unexpected exception inside a stage becomes a
failed stage with an `internal-error` finding, never a traceback.
"""

from __future__ import annotations

import socket
from typing import Callable

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.errors import Cancelled
from tlsbench.engine.events import (Event, FindingRaised, RunFinished, SocketUpdated, StageFinished,
                                    StageSkipped, StageStarted)
from tlsbench.engine.findings import Evidence, Finding, sort_findings
from tlsbench.engine.result import ProbeResult, SocketInfo, StageRecord
from tlsbench.engine.sockinfo import snapshot
from tlsbench.engine.spec import ConnectionSpec, format_hostport
from tlsbench.engine.stages.context import StageContext, StageOutcome


_NOT_PREPARED = object()


def run_probe(spec: ConnectionSpec, on_event: Callable[[Event], None] | None = None,
              cancel: CancelToken | None = None, prepared=_NOT_PREPARED) -> ProbeResult:
    """Run the spec. `prepared` is preflight(spec)'s value when the caller already checked it."""
    tls_setup = preflight(spec) if prepared is _NOT_PREPARED else prepared
    return _Run(spec, on_event or (lambda event: None), cancel or CancelToken(), tls_setup).execute()


def preflight(spec: ConnectionSpec) -> tuple | None:
    """Import the stage modules this spec needs and build the TLS context, before the clock starts.

    ssl and cryptography take tens of milliseconds to import and a CA store takes some to load;
    a stage timing must measure the network and the handshake, not local set-up. Raises
    InputError (before any stage runs) for a CA file, certificate or key OpenSSL cannot use.
    """
    from importlib import import_module

    names = ["resolve", "tcp"]
    if spec.proxy is not None:
        names.append("proxy")
    names += ["tls", "chain"] if spec.tls.enabled else ["plain"]
    if spec.app.http or spec.app.send is not None:
        names.append("app")
    for name in names:
        import_module(f"tlsbench.engine.stages.{name}")
    if not spec.tls.enabled:
        return None
    from tlsbench.engine.stages.tls import build_context

    setup = build_context(spec)
    if setup[1] is not None:
        # ssl encodes server_hostname with the idna codec: load it now, not inside the handshake.
        import codecs

        codecs.lookup("idna")
    return setup


def internal_error(stage: str, exc: BaseException) -> Finding:
    words = f"{type(exc).__name__}: {exc}"
    return Finding("internal-error", "error", f"tlsbench failed inside the {stage} stage ({type(exc).__name__})",
                   f"An unexpected error stopped the {stage} stage: {words}.",
                   "This is a bug in tlsbench; please report it with the command line used.",
                   stage=stage, origin="local", evidence=(Evidence("exception", words),))


def spec_summary(spec: ConnectionSpec) -> dict:
    """The options used, without secrets."""
    proxy = spec.proxy
    tls = spec.tls
    return {
        "target": spec.target,
        "pin": spec.pin,
        "proxy": None if proxy is None else {
            "kind": proxy.kind, "address": format_hostport(proxy.host, proxy.port), "user": proxy.username,
            "password_given": proxy.password is not None},
        "tls": None if not tls.enabled else {
            "sni": spec.sni, "sni_mode": tls.sni_mode, "min_version": tls.min_version,
            "max_version": tls.max_version, "ciphers": tls.ciphers, "alpn": list(tls.alpn), "verify": tls.verify,
            "cafile": tls.cafile, "client_cert": tls.cert},
        "app": "http" if spec.app.http else ("send" if spec.app.send is not None else None),
        "timeout": spec.timeout,
    }


class _Run:
    def __init__(self, spec: ConnectionSpec, emit: Callable[[Event], None], cancel: CancelToken,
                 tls_setup: tuple | None = None) -> None:
        self.spec = spec
        self.emit = emit
        self.ctx = StageContext(spec=spec, emit=emit, cancel=cancel, tls_setup=tls_setup)
        self.records: list[StageRecord] = []
        self.findings: list[Finding] = []
        self.sock: socket.socket | None = None
        self.socket_info = SocketInfo(via_proxy=spec.proxy is not None)
        self.cancelled = False
        self.failed: str | None = None

    # --- one stage -----------------------------------------------------------------------------

    def stage(self, name: str, doing: str, body: Callable[[], tuple[StageOutcome, object]]):
        """Run one stage body; returns its extra value, or None when the stage failed."""
        started = self.ctx.now_ms()
        self.emit(StageStarted(name, started, doing))  # type: ignore[arg-type]
        extra = None
        try:
            outcome, extra = body()
        except Cancelled:
            outcome = StageOutcome(False, None, "cancelled")
        except Exception as exc:  # any bug in a stage becomes a finding, never a traceback
            outcome = StageOutcome(False, None, f"internal error: {type(exc).__name__}", (internal_error(name, exc),))
        if self.ctx.cancel.cancelled:
            # Whatever the stage saw after its socket was closed under it is not the peer's doing.
            outcome = StageOutcome(False, outcome.detail, "cancelled")
            self.cancelled = True
            extra = None
        record = StageRecord(name, "ok" if outcome.ok else "failed", started, self.ctx.now_ms() - started,
                             outcome.detail, outcome.summary)  # type: ignore[arg-type]
        self.records.append(record)
        self.emit(StageFinished(record))
        for finding in outcome.findings:
            self.findings.append(finding)
            self.emit(FindingRaised(finding))
        if not outcome.ok:
            self.failed = name
            return None
        return extra if extra is not None else True

    def skip(self, name: str, reason: str) -> None:
        now = self.ctx.now_ms()
        self.records.append(StageRecord(name, "skipped", now, 0.0, None, reason))
        self.emit(StageSkipped(name, reason))  # type: ignore[arg-type]

    def skip_after_failure(self, name: str) -> None:
        self.skip(name, "cancelled" if self.cancelled else f"not run: the {self.failed} stage failed")

    def update_socket(self) -> None:
        if self.sock is None:
            return
        self.socket_info = snapshot(self.sock, via_proxy=self.spec.proxy is not None, previous=self.socket_info)
        self.emit(SocketUpdated(self.ctx.now_ms(), self.socket_info))

    # --- the run -------------------------------------------------------------------------------

    def execute(self) -> ProbeResult:
        tls_out = None
        try:
            tls_out = self._stages()
        finally:
            if self.sock is not None:
                self.sock.close()
        result = ProbeResult(
            ok=not self.cancelled and all(r.status != "failed" for r in self.records),
            target=self.spec.target,
            stages=tuple(self.records),
            socket=self.socket_info,
            tls=getattr(getattr(tls_out, "outcome", None), "detail", None),
            messages=tuple(getattr(tls_out, "messages", ()) or ()),
            chain=self._chain_detail,
            findings=sort_findings(self.findings),
            total_ms=self.ctx.now_ms(),
            cancelled=self.cancelled,
            spec_summary=spec_summary(self.spec),
        )
        self.emit(RunFinished(result))
        return result

    _chain_detail = None

    def _stages(self):
        from tlsbench.engine.stages.resolve import run_resolve
        from tlsbench.engine.stages.tcp import run_tcp

        spec = self.spec
        order = ["resolve", "tcp", "proxy", "tls", "chain", "app"]
        name = spec.proxy.host if spec.proxy else (spec.pin or spec.host)
        route = self.stage("resolve", f"looking up {name}", lambda: run_resolve(self.ctx))
        if route is None:
            return self._rest(order[1:])

        def tcp():
            outcome, sock = run_tcp(self.ctx, route)
            self.sock = sock
            return outcome, sock

        who = "the proxy " if route.role == "proxy" else ""
        if self.stage("tcp", f"connecting to {who}{format_hostport(route.name, route.port)}", tcp) is None:
            return self._rest(order[2:])
        self.update_socket()

        if spec.proxy is None:
            self.skip("proxy", "direct connection")
        else:
            def proxy():
                from tlsbench.engine.stages.proxy import run_proxy

                assert self.sock is not None
                outcome, sock = run_proxy(self.ctx, self.sock, route)
                self.sock = sock
                return outcome, sock

            asked = format_hostport(route.proxy_dest or spec.host, spec.port)
            if self.stage("proxy", f"{spec.proxy.kind} request for {asked}", proxy) is None:
                return self._rest(order[3:])
            self.update_socket()

        channel = None
        tls_out = None
        if not spec.tls.enabled:
            self.skip("tls", "--no-tls: plain TCP")
            self.skip("chain", "no TLS")
            from tlsbench.engine.stages.plain import PlainChannel

            channel = PlainChannel(self.sock)  # type: ignore[arg-type]
        else:
            holder: dict = {}

            def tls():
                from tlsbench.engine.stages.tls import run_tls

                out = run_tls(self.ctx, self.sock)  # type: ignore[arg-type]
                holder["out"] = out
                return out.outcome, out

            sni = spec.sni
            self.stage("tls", f"TLS handshake (SNI {sni})" if sni else "TLS handshake (no SNI)", tls)
            tls_out = holder.get("out")
            self.update_socket()
            tls_failed = self.failed is not None
            # After a failed handshake the chain is still worth showing when the peer sent one
            # (that is how an expired or untrusted certificate is explained).
            if tls_failed and (self.cancelled or not getattr(tls_out, "peer_chain_der", ())):
                return self._rest(order[4:], tls_out)
            channel = getattr(tls_out, "channel", None)

            def chain():
                from tlsbench.engine.stages.chain import run_chain

                outcome = run_chain(self.ctx, tls_out)
                self._chain_detail = outcome.detail
                return outcome, True

            chained = self.stage("chain", "checking the certificate chain", chain)
            if tls_failed:
                self.failed = "tls"
                return self._rest(order[5:], tls_out)
            if chained is None:
                return self._rest(order[5:], tls_out)

        if spec.app.http or spec.app.send is not None:
            def app():
                from tlsbench.engine.stages.app import run_app

                return run_app(self.ctx, channel), True

            self.stage("app", "HTTP request" if spec.app.http else "sending text", app)
            self.update_socket()
        else:
            self.skip("app", "no --http or --send")
        return tls_out

    def _rest(self, names: list[str], tls_out=None):
        for name in names:
            self.skip_after_failure(name)
        return tls_out

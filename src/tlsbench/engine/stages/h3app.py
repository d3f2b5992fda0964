"""The app stage's HTTP/3 side (--http3, --http3-only): the request over QUIC when QUIC is the one that
connected, or over TCP+TLS (the usual app stage) when that one won; the race's verdict and what the
TCP response's Alt-Svc said go into the app detail."""

from __future__ import annotations

from typing import Callable

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence
from tlsbench.engine.quic.race import alt_svc, alt_svc_findings, decide
from tlsbench.engine.records.details import AppDetail, RaceDetail
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.quic import QuicAttempt


def run_http3(ctx: StageContext, state: RunState, quic: QuicAttempt,
              over_tcp: Callable[[], StageOutcome]) -> StageOutcome:
    race = decide(quic, state) if quic.mode == "race" else None
    try:
        if race is None or race.winner == "quic":
            return request_h3(ctx, quic, race)
        outcome = over_tcp()
    finally:
        if quic.session is not None:
            quic.session.close()
    value = alt_svc(outcome.detail)
    race = race._replace(alt_svc=value)
    detail = outcome.detail._replace(race=race) if isinstance(outcome.detail, AppDetail) else outcome.detail
    findings = outcome.findings + tuple(alt_svc_findings(quic, value, ctx.spec.port, state.https_record))
    return outcome._replace(detail=detail, findings=findings,
                            summary=f"{outcome.summary} (over TCP: {race.reason})")


def request_h3(ctx: StageContext, quic: QuicAttempt, race: RaceDetail | None) -> StageOutcome:
    from tlsbench.engine.quic.h3 import get
    from tlsbench.engine.stages.app import authority

    session = quic.session
    if session is None:  # the plan runs this stage only after QUIC connected
        raise RuntimeError("no QUIC session: the quic stage did not connect")
    spec = ctx.spec
    ctx.begin()
    response = get(session, authority(spec), spec.app.path)
    ctx.end()
    if response.first_byte_ms is not None:
        ctx.wire_end = response.first_byte_ms if response.status is None else ctx.wire_end
    error = response.error or (response.failure.words or response.failure.kind if response.failure else None)
    request = "\n".join(f"{k}: {v}" for k, v in response.request)
    detail = AppDetail(mode="http", request=request, protocol="h3", status=response.status,
                       status_line=f"HTTP/3 {response.status}" if response.status is not None else None,
                       headers=response.headers,
                       ttfb_ms=(response.first_byte_ms - response.sent_ms
                                if response.first_byte_ms is not None and response.sent_ms is not None else None),
                       bytes_received=response.body_bytes, error=error, race=race)
    won = f" (QUIC won: {race.reason})" if race is not None else ""
    if response.status is None:
        closed = response.failure.closed if response.failure is not None else None
        from tlsbench.engine.quic.wire import alert_of, error_name
        from tlsbench.engine.tls.tlsmsg import ALERT_MEANINGS

        said = error_name(closed.code, closed.application) if closed is not None else (error or "no answer")
        alert = alert_of(closed.code) if closed is not None and not closed.application else None
        words = f"The GET {spec.app.path} over QUIC got no response header: {said}."
        hint = ""
        if alert in ("bad_certificate", "certificate_required", "unknown_ca"):
            # TLS 1.3 sends the client's certificate (or its absence) last: the server's verdict on it comes now
            words += (f" The server closed with this alert after the handshake: {ALERT_MEANINGS.get(alert, alert)}; "
                      "in TLS 1.3 that is its verdict on the client certificate"
                      + (" (none was sent)." if not spec.tls.cert else " sent."))
            hint = "Give the client certificate the server asks for: --cert FILE --key FILE." if not spec.tls.cert \
                else ""
        found = finding("h3-request-failed", "The HTTP/3 request got no response", words, hint,
                        (Evidence("ended by", said),))
        return StageOutcome(False, detail, f"HTTP/3: no response ({said}){won}", (found,))
    return StageOutcome(True, detail, f"HTTP/3 {response.status}{won}")

"""The reconnect stage (--reconnect, s_client's name): is the first connection's session resumed?

The first connection is closed cleanly first (close_notify, then the session tickets a TLS 1.3
server sends after the handshake are read: only then is the session resumable), outside the
clock. Then a second connection runs over the same route (the same address, the same proxies)
and its handshake offers that session, in the same SSL context. The stage's time is the second
handshake; it says whether the server resumed, what was offered (a ticket or a session ID), the
ticket's lifetime hint and how much shorter the resumed handshake was. A server that issued a
session and did not resume it is `resumption-refused`.
"""

from __future__ import annotations

from tlsbench.engine.records.details import ReconnectDetail, TlsDetail
from tlsbench.errors import Cancelled
from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.shared import TlsOutcome
from tlsbench.engine.stages.tls import handshake, target_of
from tlsbench.engine.stream import Transcript
from tlsbench.engine.tls.tlsfacts import negotiated

CLOSE_READ = 0.2  # seconds to read the first connection's tickets and close_notify (as the runner does)


class ReconnectStage:
    def __init__(self, step: Step, plan: Plan) -> None:
        from tlsbench.engine.route.opener import RouteOpener

        self.key = step.key
        self.spec = plan.spec
        self.target = target_of(plan.spec)
        # The route's own stages, prepared here too (before any clock): the second connection runs them.
        self.route = RouteOpener(plan)

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        from tlsbench.engine.route.opener import close_first

        first = state.tls
        if first is None or first.stream is None:
            return StageOutcome(False, None, "no first connection to resume")
        close_first(state, CLOSE_READ)  # the tickets are read on the way: only then is the session resumable
        sslobj = first.stream.pump.sslobj
        session = sslobj.session
        version = sslobj.version()
        params = negotiated(first.messages)  # the trace: it holds the tickets read at the close
        tickets = sum(1 for m in first.messages if m.name == "NewSessionTicket" and m.direction == "received")
        lifetime = params.ticket_lifetimes[0] if params.ticket_lifetimes else None
        offered = None
        if session is not None and session.has_ticket:
            offered = "ticket"
        elif session is not None and version != "TLSv1.3" and session.id:
            offered = "session ID"
        base = ReconnectDetail(offered=offered, resumed=None, tickets=tickets, ticket_lifetime_s=lifetime,
                               first_handshake_ms=first.handshake_ms)
        if offered is None:
            ctx.begin()
            ctx.end()  # nothing crossed the wire for this stage
            return StageOutcome(True, base, "nothing to resume: the server sent no ticket"
                                + ("" if version == "TLSv1.3" else " and no session ID"),
                                (_unavailable(version),))
        sub, failure, connect_ms = self._connect(ctx, state)
        if failure is not None:
            return StageOutcome(False, base._replace(error=failure), f"the second connection failed: {failure}")
        base = base._replace(connect_ms=connect_ms)
        assert sub.stream is not None and sub.link is not None  # an opened route ends in a stream
        sub.stream.transcript = Transcript()
        assert first.setup is not None  # a handshake's outcome carries the context it ran with
        second = handshake(ctx, sub.stream, self.target, first.setup, self.key, session=session)
        try:
            if second.stream is not None:
                second.stream.finish(CLOSE_READ)
                second.stream.close()
        except (OSError, TimeoutError, Cancelled):
            pass
        finally:
            sub.link.sock.close()
        return self._outcome(base, second, sub)

    def _connect(self, ctx: StageContext, state: RunState) -> tuple[RunState, str | None, float]:
        """The route again, quietly (its stages' events are not the run's), to the address used first."""
        began = ctx.now_ms()
        peer = state.socket_info.peer_address if state.socket_info else None
        sub, failure = self.route.open(state.route, ctx.cancel, peer=peer)
        return sub, failure, ctx.now_ms() - began

    def _outcome(self, base: ReconnectDetail, second: TlsOutcome, sub: RunState) -> StageOutcome:
        d = second.outcome.detail
        assert isinstance(d, TlsDetail)  # what handshake() always reports
        ok = second.outcome.ok
        resumed = bool(ok and d.session_reused)
        psk = any(e.name == "pre_shared_key" for e in d.server_extensions)
        faster = None
        if base.first_handshake_ms and second.handshake_ms is not None:
            faster = round(100.0 * (base.first_handshake_ms - second.handshake_ms) / base.first_handshake_ms, 1)
        detail = base._replace(resumed=resumed if ok else None, resumed_handshake_ms=second.handshake_ms,
                               faster_pct=faster, version=d.version, cipher=d.cipher, psk=psk, tls=d,
                               messages=tuple(second.messages),
                               error=None if ok else (d.error or "the handshake failed"))
        if not ok:
            findings = tuple(f._replace(stage=self.key, title=f"Reconnect: {f.title}") for f in second.outcome.findings)
            return StageOutcome(False, detail, f"the second handshake failed: {second.outcome.summary}", findings)
        times = (f"{second.handshake_ms:.1f} ms vs {base.first_handshake_ms:.1f} ms the first time"
                 if second.handshake_ms is not None and base.first_handshake_ms else "")
        life = f", ticket lifetime {base.ticket_lifetime_s} s" if base.ticket_lifetime_s else ""
        if resumed:
            pct = f" ({faster:.0f}% faster)" if faster is not None and faster > 0 else ""
            return StageOutcome(True, detail, f"resumed ({base.offered}{life}): {times}{pct}")
        return StageOutcome(True, detail, f"NOT resumed: full handshake again ({base.offered} offered{life}); {times}",
                            (_refused(base, d.version),))


def _unavailable(version: str | None) -> Finding:
    words = ("sent no session ticket after the handshake" if version == "TLSv1.3"
             else "sent neither a session ticket nor a session ID")
    return finding("resumption-unavailable", "The server offers no session resumption", f"The server {words}, so there is nothing a client could resume: every connection pays for a "
                   "full handshake.", "Enable session tickets (nginx ssl_session_tickets on, or a session cache: ssl_session_cache "
                   "shared:SSL:10m) if reconnecting clients matter.", (Evidence("version", version or "?"),), severity="info", origin="peer")


def _refused(base: ReconnectDetail, version: str | None) -> Finding:
    return finding("resumption-refused", f"The server issued a {base.offered} but did not resume the session", f"The first connection received a {base.offered}"
                   + (f" ({base.tickets} NewSessionTicket message(s))" if base.tickets else "")
                   + "; the second connection offered it and the server answered with a full handshake. "
                   "Servers do this when tickets are issued but cannot be decrypted later (the ticket key "
                   "changes, or differs between servers behind a balancer), or when the session cache is off "
                   "or too small.", "Check the server's ticket keys and session cache (nginx: ssl_session_tickets, "
                   "ssl_session_ticket_key on every node, ssl_session_cache); compare with openssl s_client "
                   "-reconnect.", (Evidence("offered", base.offered or "?"), Evidence("version", version or "?"),
                             Evidence("tickets received", str(base.tickets)),
                             Evidence("ticket lifetime hint", f"{base.ticket_lifetime_s} s"
                                      if base.ticket_lifetime_s is not None else "none")), severity="warning", origin="peer")

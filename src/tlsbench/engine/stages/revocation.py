"""The revocation stage (--check-revocation): the leaf's status from its OCSP responder and CRL
distribution points (engine/certs/revocation.py), over plain HTTP, directly (not through the route's
proxies), within the stage's timeout. The server's stapled response comes first: asked for with a
TLS 1.2 hello, or — when the run negotiated TLS 1.3, or the server takes no TLS 1.2 hello — read
from the encrypted Certificate message by tlsbench's own TLS 1.3 client (engine/tls13/). Revoked fails the run (`cert-revoked`, with the date and
reason); an unknown answer or no answer at all is a warning; a leaf naming no source is said so.
"""

from __future__ import annotations

import time

from tlsbench.engine.records.details import RevocationCheck, RevocationDetail
from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome


class RevocationStage:
    def __init__(self, step: Step, plan: Plan) -> None:
        from tlsbench.engine.certs import revocation  # noqa: F401 - imported before any clock (cryptography's ocsp)
        from tlsbench.engine.route.opener import RouteOpener

        self.key = step.key
        self.spec = plan.spec
        self.route = RouteOpener(plan)  # one more connection: the stapled response (TLS 1.2 or 1.3)
        from tlsbench.engine.tls13 import connect  # noqa: F401 - the TLS 1.3 client, before any clock

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        from tlsbench.engine.certs.revocation import check_revocation

        tls = state.tls
        if tls is None or not tls.peer_chain_der:
            return StageOutcome(False, None, "no certificate to check")
        issuer = tls.verified_chain_der[1] if len(tls.verified_chain_der) > 1 else (
            tls.peer_chain_der[1] if len(tls.peer_chain_der) > 1 else None)
        ctx.begin()
        try:
            stapled = self._stapled(ctx, state, tls.peer_chain_der[0], issuer)
            detail = check_revocation(tls.peer_chain_der[0], issuer, time.monotonic() + self.spec.timeout, stapled)
        except ValueError as exc:  # a leaf cryptography cannot read
            ctx.end()
            return StageOutcome(False, RevocationDetail(status="unknown"), f"the leaf cannot be read: {exc}")
        ctx.end()
        findings = tuple(revocation_findings(detail))
        return StageOutcome(detail.status != "revoked", detail, _summary(detail), findings)


    def _stapled(self, ctx: StageContext, state: RunState, leaf: bytes, issuer: bytes | None) -> RevocationCheck:
        """Ask for the stapled OCSP response with a TLS 1.2 hello over the same route."""
        from tlsbench.engine.certs import stapling
        from tlsbench.engine.tls.enumeration import OFFER_ORDER
        from tlsbench.engine.certs.revocation import check_stapled
        from tlsbench.engine.route.opener import close

        where = "the server's stapled response (TLS 1.2 status_request)"
        from tlsbench.engine.route.opener import close_first

        close_first(state)  # some servers (s_server) serve one connection at a time
        peer = state.socket_info.peer_address if state.socket_info else None
        tls = state.tls
        if tls is not None and getattr(tls.outcome.detail, "version", None) == "TLSv1.3":
            return self._stapled13(ctx, state, leaf, issuer, peer)
        sub, failure = self.route.open(state.route, ctx.cancel, peer=peer)
        if failure is not None:
            return RevocationCheck("stapled", where, "unreachable", reason=failure)
        assert sub.stream is not None  # an opened route ends in a stream
        data = b""
        try:
            sub.stream.send(stapling.stapling_hello([s.id for s in OFFER_ORDER], self.spec.sni))
            while True:
                flight = stapling.read_flight(data)
                if flight.kind != "incomplete":
                    break
                chunk = sub.stream.recv(65536)
                if not chunk:
                    flight = stapling.read_flight(data, eof=True)
                    break
                data += chunk
        except (TimeoutError, OSError) as exc:
            return RevocationCheck("stapled", where, "unreachable", reason=f"no answer to the TLS 1.2 hello ({exc})")
        finally:
            close(sub)
        if flight.kind != "done":  # TLS 1.3 only, say: its staple is in the encrypted Certificate
            return self._stapled13(ctx, state, leaf, issuer, peer)
        der = stapling.ocsp_from_flight(flight.messages)
        if der is None:
            return RevocationCheck("stapled", where, "none", reason="the server staples no OCSP response")
        return check_stapled(der, leaf, issuer, where)


    def _stapled13(self, ctx: StageContext, state: RunState, leaf: bytes, issuer: bytes | None,
                   peer: str | None) -> RevocationCheck:
        """The staple of a TLS 1.3 server: its Certificate message's status_request, decrypted."""
        from tlsbench.engine.certs.revocation import check_stapled
        from tlsbench.engine.tls13.client import Offer
        from tlsbench.engine.tls13.connect import first_flight
        from tlsbench.engine.tls.tlsmsg import alert_name
        from tlsbench.engine.tls13.keyshare import SECP256R1, SECP384R1, X25519

        where = "the server's stapled response (TLS 1.3 Certificate, status_request)"
        offer = Offer(sni=self.spec.sni, groups=(X25519, SECP256R1, SECP384R1), shares=(X25519,),
                      alpn=self.spec.tls.alpn)
        flight = first_flight(self.route, state.route, offer, ctx.cancel, self.spec.timeout, peer=peer)
        cert = flight.certificate
        if cert is None:
            said = f"the alert {alert_name(flight.alert.description)}" if flight.alert is not None else flight.reason
            return RevocationCheck("stapled", where, "unreachable",
                                   reason=f"no TLS 1.3 Certificate message to read ({said or flight.outcome})")
        entry = cert.entries[0]
        if entry.der != leaf:
            return RevocationCheck("stapled", where, "unknown",
                                   reason="the TLS 1.3 connection was served another certificate than the run's")
        if entry.ocsp is None:
            return RevocationCheck("stapled", where, "none", reason="the server staples no OCSP response")
        return check_stapled(entry.ocsp, leaf, issuer, where)


def _summary(d: RevocationDetail) -> str:
    if d.status == "no-source":
        return "the certificate names no OCSP responder or CRL (over http://)"
    parts = [f"{'stapled OCSP' if c.method == 'stapled' else c.method.upper()} {c.status}"
             + (f" ({c.reason})" if c.reason and c.status != "good" else "") for c in d.checks]
    if d.stapled is not None and d.stapled.status == "none":
        parts.append("nothing stapled")
    return f"{d.status}: " + ", ".join(parts)


def _evidence(d: RevocationDetail) -> tuple[Evidence, ...]:
    out = [Evidence("certificate", f"{d.leaf} (serial {d.serial})")]
    for c in d.checks:
        out.append(Evidence(f"{c.method.upper()} {c.url}", c.answer or c.reason or c.status))
    if d.not_checked:
        out.append(Evidence("not asked (not http://)", ", ".join(d.not_checked)))
    return tuple(out)


def _source_words(c: RevocationCheck) -> str:
    """Who gave an answer, in words: the server's staple is not its issuer's CRL."""
    if c.method == "stapled":
        signer = f", signed by {c.signed_by}" if c.signed_by else ""
        return f"the OCSP response the server stapled to its handshake{signer}"
    if c.method == "ocsp":
        return f"its issuer's OCSP responder ({c.url})"
    return f"its issuer's CRL ({c.url})"


def revocation_findings(d: RevocationDetail) -> list[Finding]:
    ev = _evidence(d)
    if d.status == "revoked":
        hits = [c for c in d.checks if c.status == "revoked"]
        hit = hits[0]
        why = f" (reason: {hit.reason})" if hit.reason else ""
        said = _source_words(hit)
        also = [_source_words(c) for c in hits[1:]]
        return [finding("cert-revoked", f"The server's certificate was revoked on {hit.revoked_at}{why}", f"{said[0].upper()}{said[1:]} says the certificate "
                        f"was revoked on {hit.revoked_at}{why}" + (f"; so does {' and '.join(also)}" if also else "")
                        + ". Browsers that check refuse it; a revoked key may be "
                        "in someone else's hands.", "Replace the certificate (and its key, if it was compromised) on the server.", ev, severity="error", origin="peer")]
    if d.status == "unknown":
        return [finding("revocation-unknown", "The certificate's revocation status is unknown", "The revocation sources answered, but not with a usable status: "
                        + "; ".join(f"{c.method.upper()}: {c.reason}" for c in d.checks if c.reason) + ".", "Ask the CA's responder directly (openssl ocsp -issuer ISSUER -cert LEAF -url URL).", ev, severity="warning", origin="peer")]
    if d.status == "unreachable":
        return [finding("revocation-unreachable", "No revocation source could be reached", "None of the OCSP responders or CRL distribution points the certificate names answered: "
                        + "; ".join(f"{c.url}: {c.reason}" for c in d.checks) + ". Clients that require an answer "
                        "(hard-fail) refuse the certificate; most soft-fail and go on.", "Check that this host may reach the CA's responder (a firewall, a proxy); raise --timeout.", ev, severity="warning", origin="network")]
    if d.status == "no-source":
        return [finding("revocation-no-source", "The certificate names no revocation source tlsbench can ask", "The leaf has no OCSP responder and no CRL distribution point over http:// (several public "
                        "CAs dropped OCSP; a private CA may publish none), so its revocation cannot be checked.", "Nothing to do unless your clients require revocation checks.", ev, severity="info", origin="peer")]
    return []

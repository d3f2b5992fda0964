"""The key-exchange stage (--groups LIST, --pq): one more connection over the run's route with
tlsbench's own TLS 1.3 hello (engine/tls13/) offering those groups, since Python's `ssl` cannot
set groups at all, nor offer X25519MLKEM768. What the server did — selected the hybrid (its
1,120-byte share decapsulated and EncryptedExtensions decrypted prove it), fell back to a
classical group, or asked with a HelloRetryRequest — is the stage's detail and a finding worded
from its bytes. The run's tls stage is OpenSSL's and is not changed by these options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.records.details import KeyExchangeDetail
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.tls.tlsnames import GROUPS, group_name, signature_name, suite_name

if TYPE_CHECKING:  # the client is imported when the stage is prepared, not with the plan
    from tlsbench.engine.tls13.client import Offer
    from tlsbench.engine.tls13.connect import FirstFlight

HYBRID = "X25519MLKEM768"


def group_ids(names: tuple[str, ...]) -> tuple[int, ...]:
    by_name = {v: k for k, v in GROUPS.items()}
    return tuple(by_name[n] for n in names if n in by_name)


def offer_for(spec_groups: tuple[str, ...], sni: str | None, alpn: tuple[str, ...] = (),
              status: bool = True) -> "Offer":
    """The hello's offer: shares for the first group tlsbench can make one for and, when that is the
    hybrid, for x25519 too when listed (as browsers send both)."""
    from tlsbench.engine.tls13.client import Offer
    from tlsbench.engine.tls13.keyshare import SHAREABLE, X25519, X25519MLKEM768

    ids = group_ids(spec_groups)
    first = next((g for g in ids if g in SHAREABLE), None)
    shares = () if first is None else (first,) + ((X25519,) if first == X25519MLKEM768 and X25519 in ids else ())
    return Offer(sni=sni, groups=ids, shares=shares, alpn=alpn, status=status)


class KeyExchangeStage:
    def __init__(self, step: Step, plan: Plan) -> None:
        from tlsbench.engine.route.opener import RouteOpener
        from tlsbench.engine.tls13 import connect  # noqa: F401 - cryptography's KEM loaded before any clock

        self.key = step.key
        self.spec = plan.spec
        self.route = RouteOpener(plan)

    def runs_after(self, state: RunState, failed: Step) -> bool:
        """After a failed handshake too (the route worked): its own hello may tell why, e.g. a server
        that speaks only groups OpenSSL 3.0 cannot offer."""
        return failed.name in ("tls", "chain", "app")

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        from tlsbench.engine.route.opener import close_first
        from tlsbench.engine.tls13 import smallhello
        from tlsbench.engine.tls13.connect import first_flight
        from tlsbench.engine.tls13.smallhello import is_large, try_small

        close_first(state)  # some servers (s_server) serve one connection at a time
        offer = offer_for(self.spec.tls.groups, self.spec.sni, self.spec.tls.alpn)
        peer = state.socket_info.peer_address if state.socket_info else None
        ctx.begin()
        flight = first_flight(self.route, state.route, offer, ctx.cancel, self.spec.timeout, peer=peer)
        ctx.end()
        detail = detail_of(flight)
        dropped = None
        if flight.outcome == "timeout" and flight.hello_sizes and is_large(max(flight.hello_sizes), flight.mss):
            # No answer to a large hello: does a small one over the same route get one? (outside the clock)
            small = try_small(self.route, state.route, self.spec.sni, ctx.cancel, self.spec.timeout, peer=peer)
            dropped = smallhello.dropped(max(flight.hello_sizes), small, flight.mss, "key-exchange",
                                         self.spec.timeout)
            detail = detail._replace(small_hello_bytes=small.hello_sizes[0] if small.hello_sizes else None,
                                     small_answered=smallhello.answered(small))
        findings = (dropped,) if dropped is not None else tuple(key_exchange_findings(detail))
        return StageOutcome(detail.outcome == "finished" and detail.signature_problem is None
                            and detail.finished_ok is not False, detail, summary(detail), findings)


def detail_of(flight: "FirstFlight") -> KeyExchangeDetail:
    from tlsbench.engine.tls.tlsmsg import alert_name
    from tlsbench.engine.tls13 import client as c

    hello, retry = flight.server_hello, flight.retry
    verify = flight.first(c.CertificateVerifyRead)
    finished = flight.first(c.FinishedRead)
    alert = flight.alert
    older = hello is not None and hello.version != 0x0304
    return KeyExchangeDetail(
        offered=tuple(group_name(g) for g in flight.offer.groups),
        shared=tuple(group_name(g) for g in flight.offer.shares), outcome="not-tls13" if older else flight.outcome,
        selected=group_name(hello.group) if hello is not None and hello.group and not older else None,
        hello_retry=group_name(retry.group) if retry is not None and retry.group is not None else None,
        server_share_bytes=hello.share_bytes if hello is not None else None, decrypted=flight.decrypted,
        suite=suite_name(hello.suite) if hello is not None else None,
        signature=signature_name(verify.scheme) if isinstance(verify, c.CertificateVerifyRead) else None,
        signature_problem=verify.problem if isinstance(verify, c.CertificateVerifyRead) else None,
        finished_ok=finished.ok if isinstance(finished, c.FinishedRead) else None,
        alert=alert_name(alert.description) if alert is not None else None, reason=flight.reason,
        hello_bytes=flight.hello_sizes, mss=flight.mss)


def summary(d: KeyExchangeDetail) -> str:
    if d.small_answered:
        return (f"no answer to a {max(d.hello_bytes):,}-byte hello; a {d.small_hello_bytes:,}-byte one over the same "
                "route was answered")
    retry = f" after a HelloRetryRequest for {d.hello_retry}" if d.hello_retry else ""
    if d.selected and d.decrypted:
        proof = (f", its {d.server_share_bytes:,}-byte share decapsulated and EncryptedExtensions decrypted"
                 if d.selected == HYBRID else ", EncryptedExtensions decrypted")
        return f"{d.selected} selected{retry}{proof}"
    if d.outcome == "not-tls13":
        return "the server answered with an older version than TLS 1.3: no TLS 1.3 groups to ask about"
    if d.alert:
        return f"the server answered with the alert {d.alert}{retry}"
    return f"{d.outcome}: {d.reason or 'no first flight'}{retry}"


def _evidence(d: KeyExchangeDetail) -> tuple[Evidence, ...]:
    out = [Evidence("offered (supported_groups)", ", ".join(d.offered)),
           Evidence("key shares sent", ", ".join(d.shared) or "none"),
           Evidence("ClientHello size", " then ".join(f"{n:,} bytes" for n in d.hello_bytes) or "not sent")]
    if d.hello_retry:
        out.append(Evidence("HelloRetryRequest", f"asked for {d.hello_retry}"))
    if d.selected:
        out.append(Evidence("ServerHello key_share", f"{d.selected}, {d.server_share_bytes:,} bytes"))
    if d.alert:
        out.append(Evidence("alert received", d.alert))
    if d.reason:
        out.append(Evidence("ended", d.reason))
    return tuple(out)


def key_exchange_findings(d: KeyExchangeDetail) -> list[Finding]:
    ev = _evidence(d)
    out: list[Finding] = []
    if d.hello_retry:
        out.append(finding("key-share-retry", f"The server asked for a {d.hello_retry} key share (HelloRetryRequest)",
                           f"The server's HelloRetryRequest names {d.hello_retry}, for which the first hello carried "
                           f"no share (shares sent: {', '.join(d.shared) or 'none'}): the handshake costs one more "
                           "round trip with clients that guess as this hello did.",
                           "Nothing to fix unless the round trip matters; a server preferring a group clients "
                           "share first avoids it.", ev))
    if d.selected and d.decrypted:
        if d.selected == HYBRID:
            out.append(finding("pq-hybrid-selected", "The server chose X25519MLKEM768 (post-quantum hybrid)",
                               f"The ServerHello's key share is {HYBRID}, {d.server_share_bytes:,} bytes (the ML-KEM-768 "
                               "ciphertext and an X25519 key); decapsulated with tlsbench's ML-KEM key, its secret "
                               "gave the keys that decrypted EncryptedExtensions.", "Nothing to do.", ev))
        elif HYBRID in d.offered:
            out.append(finding("pq-fallback", f"The server chose {d.selected}, not the post-quantum hybrid offered",
                               f"The hello offered {HYBRID}{' with a share' if HYBRID in d.shared else ''}; the "
                               f"ServerHello's key share is {d.selected}. Recorded traffic could be decrypted by a "
                               "future quantum computer.",
                               "Enable X25519MLKEM768 on the server (OpenSSL 3.5 and later, BoringSSL, recent "
                               "GnuTLS/NSS/rustls offer it).", ev))
        if d.signature_problem or d.finished_ok is False:
            what = (f"its CertificateVerify ({d.signature}): {d.signature_problem}" if d.signature_problem
                    else "its Finished does not match the transcript")
            out.append(finding("tls13-flight-invalid", "The server's TLS 1.3 first flight does not verify",
                               f"The records decrypted, but {what}.",
                               "Check the server's key and certificate pair (and any middlebox rewriting the "
                               "handshake).", ev))
        return out
    if d.outcome == "not-tls13" or d.alert == "protocol_version":
        out.append(finding("tls13-not-spoken", "The server does not speak TLS 1.3: the groups were not asked",
                           "It answered tlsbench's TLS 1.3 hello " + (f"with the alert {d.alert}" if d.alert else
                                                                     "with an older version's ServerHello")
                           + "; key-exchange groups offered in TLS 1.3 (post-quantum ones included) need TLS 1.3.",
                           "Enable TLS 1.3 on the server.", ev))
        return out
    if d.alert:
        refused = d.alert in ("handshake_failure", "insufficient_security", "illegal_parameter")
        if refused:
            out.append(finding("groups-refused", f"The server refused the hello offering {', '.join(d.offered)}",
                               f"It answered the TLS 1.3 hello with the alert {d.alert}"
                               + (f" after asking for {d.hello_retry}" if d.hello_retry else "")
                               + ": none of the groups offered (or none with the suites offered) suit it.",
                               "Offer the groups the server supports (x25519 and secp256r1 are the usual ones).", ev))
        else:
            out.append(finding("tls13-flight-invalid", f"The server answered the TLS 1.3 hello with {d.alert}",
                               f"The server sent the alert {d.alert} instead of its first flight.",
                               "See the alert; the run's own handshake (OpenSSL's) shows whether it is this hello's.",
                               ev))
        return out
    if d.outcome == "failed":
        out.append(finding("tls13-flight-invalid", "The server's TLS 1.3 first flight is not valid",
                           f"Reading its answer to the TLS 1.3 hello stopped at: {d.reason}.",
                           "Compare with the run's own handshake; a middlebox may be rewriting the bytes.", ev))
    elif d.outcome in ("timeout", "closed"):
        size = max(d.hello_bytes) if d.hello_bytes else 0
        out.append(finding("tls13-no-answer", f"No answer to a {size:,}-byte TLS 1.3 hello" if size else
                           "No answer to tlsbench's own TLS 1.3 hello",
                           f"The connection {'timed out' if d.outcome == 'timeout' else 'was closed'} before the "
                           f"server's first flight ({d.reason}).",
                           "Try --diagnose: it compares with a small hello over the same route.", ev))
    return out

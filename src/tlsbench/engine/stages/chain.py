"""The chain stage: every certificate the server sent, parsed, with its verification status."""

from __future__ import annotations

import time

from tlsbench.engine.certs import certparse
from tlsbench.engine.certs.ct import leaf_scts, sct_findings
from tlsbench.engine.certs.rawcert import raw_cert_info
from tlsbench.engine.records.details import CertInfo, ChainDetail
from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.certs import DATE_CODES, expiry_findings, extension_finding, leaf_dns_names, mismatch_hint
from tlsbench.engine.findings.tls import openssl_peer
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.certs.serials import serial_findings
from tlsbench.engine.suggestions import Suggestion
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.shared import TlsOutcome, TlsTarget, target_of

_CODE_STATUS = {10: "expired", 9: "not yet valid", 18: "self-signed, untrusted", 19: "untrusted root",
                20: "issuer unknown", 62: "hostname mismatch", 64: "IP address mismatch"}


def _status(info: CertInfo, tls: TlsOutcome, in_verified: bool, last: bool, verify_off: bool) -> str:
    if info.status != "ok":
        return info.status  # the dates speak for themselves
    if verify_off:
        return "not checked"
    if in_verified:
        return "ok"
    code = tls.verify_code
    if code in (62, 64) and info.position == 0:
        return _CODE_STATUS[code]
    if code in (20, 19, 18, 2, 21) and last:
        return _CODE_STATUS.get(code, "untrusted")
    return "not verified"


_MEMO: dict[tuple, tuple[ChainDetail, tuple[Finding, ...]]] = {}
_MEMO_SIZE = 32


def chain_detail(t: TlsTarget, tls: TlsOutcome) -> tuple[ChainDetail, list[Finding]]:
    """Every certificate the peer sent, parsed, with its status; and the findings they carry.

    Worked out once per distinct chain, verdict and minute: the runs of a series (`probe --count`)
    see the same certificates, and what they say can only change with the clock (days left, expiry),
    which certparse reads to the minute too. Both records are immutable: each run gets the same.
    """
    key = (t, tls.peer_chain_der, tls.verified_chain_der, tls.verify_code, tls.verify_message, tls.verify_name,
           tls.chain_verified, int(time.time() // 60))
    known = _MEMO.get(key)
    if known is None:
        detail, findings = _chain_detail(t, tls)
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        known = _MEMO[key] = (detail, tuple(findings))
    return known[0], list(known[1])


def _chain_detail(t: TlsTarget, tls: TlsOutcome) -> tuple[ChainDetail, list[Finding]]:
    verify_off = t.tls.verify == "off"
    trust = "off" if verify_off else ("system" if t.tls.verify == "system" else f"cafile {t.tls.cafile}")
    name = tls.verify_name
    verified = {d for d in tls.verified_chain_der}
    infos: list[CertInfo] = []
    findings: list[Finding] = []
    for pos, der in enumerate(tls.peer_chain_der):
        try:
            info = certparse.parse_cert(der, pos)
        except ValueError as exc:  # a certificate cryptography cannot parse is still evidence
            raw = raw_cert_info(der, pos)  # what a DER walk can read of it: shown, as OpenSSL saw it
            if pos == 0 and tls.verify_code == 62 and tls.verify_message and "not checked" in tls.verify_message:
                continue  # the tls stage's finding already says the leaf does not parse
            findings.append(finding("cert-unparsable", f"Certificate #{pos} could not be parsed",
                                    f"cryptography refused it: {exc}"
                                    + ("; what its DER holds is shown as read (names, serial, dates), and the "
                                       "chain's verdict is OpenSSL's" if raw is not None else ""),
                                    Suggestion("Inspect it with openssl.", (),
                                               (openssl_peer(t, "-showcerts"),)),
                                    (Evidence("DER (hex, first 64 bytes)", der[:64].hex()),)))
            if raw is None:
                continue
            info = raw
        for which, complaint in certparse.unreadable_names(der):
            findings.append(finding("cert-unparsable", f"Certificate #{pos}'s {which} does not parse in cryptography",
                                    f"cryptography refused the {which} ({complaint}); it is shown as tlsbench's own "
                                    "DER reader read it (a T61String or another legacy string type holding bytes "
                                    "that are not UTF-8, say). OpenSSL's verification is unaffected: the chain's "
                                    "verdict is its own.",
                                    Suggestion("Inspect it with openssl.", (), (openssl_peer(t, "-showcerts"),)),
                                    (Evidence(which, getattr(info, which)),
                                     Evidence("DER (hex, first 64 bytes)", der[:64].hex()))))
        broken = certparse.broken_extensions(der)
        if broken and (verify_off or tls.verify_code is None or tls.verify_code in DATE_CODES):
            findings.append(extension_finding(pos, info.subject, broken))  # else the tls stage's finding names it
        in_verified = der in verified
        last = pos == len(tls.peer_chain_der) - 1
        infos.append(info._replace(verified=None if verify_off else in_verified,
                             status=_status(info, tls, in_verified, last, verify_off)))
    match = None
    if infos and name:
        try:
            match = certparse.match_name(tls.peer_chain_der[0], name)
        except ValueError:
            match = None
    # Verification's own verdict: a chain OpenSSL verified stays verified when the handshake ended
    # later for another reason (the server wanted a client certificate).
    chain_ok = None if verify_off else bool(tls.chain_verified)
    parsed = {der: info for der, info in zip(tls.peer_chain_der, infos)} if len(infos) == len(tls.peer_chain_der) \
        else {}
    path, source = verified_path(t, tls, parsed) if chain_ok else ((), None)
    scts = leaf_scts(tls.peer_chain_der[0]) if infos and infos[0].position == 0 else ()
    detail = ChainDetail(certificates=tuple(infos), verified=chain_ok, verify_code=tls.verify_code,
                         verify_message=tls.verify_message, hostname=name, hostname_match=match,
                         trust_source=trust, verified_path=path, anchor_source=source, scts=scts)
    if infos and getattr(t, "role", "target") == "target":
        findings += sct_findings(scts, bool(chain_ok and t.tls.verify == "system"), infos[0].subject)
    findings += expiry_findings(tuple(infos))
    findings += serial_findings(tls.peer_chain_der, {i.position: i.subject for i in infos},
                                role=getattr(t, "role", "target"))
    if verify_off and match is False and infos:
        leaf = infos[0]
        findings.append(finding("cert-hostname-mismatch",
                                f"The certificate is not valid for {name!r} (not enforced: verification is off)",
                                f"The leaf names {', '.join(leaf.sans) or 'no SANs'}; verification is off, so the "
                                "connection went ahead anyway.",
                                mismatch_hint(t, name, leaf_dns_names(tls.peer_chain_der)),
                                (Evidence("name checked", name or "?"),
                                 Evidence("certificate names (SANs)", ", ".join(leaf.sans) or "none")),
                                severity="warning"))
    return detail, findings


def anchor_source(t: TlsTarget) -> str:
    """Where a trust anchor came from, in words: the CA file given, or the system store's files."""
    if t.tls.verify == "cafile":
        return f"CA file {t.tls.cafile}"
    import ssl

    paths = ssl.get_default_verify_paths()
    where = [p for p in (paths.cafile, paths.capath) if p]
    return "system store" + (f" ({', '.join(where)})" if where else "")


def verified_path(t: TlsTarget, tls: TlsOutcome, parsed: dict | None = None) -> tuple[tuple[CertInfo, ...], str | None]:
    """The chain OpenSSL built and verified, leaf first, the last one marked as the trust anchor.
    `parsed` holds the CertInfo of certificates already parsed (those the peer sent), by DER."""
    sent = set(tls.peer_chain_der)
    path: list[CertInfo] = []
    count = len(tls.verified_chain_der)
    for pos, der in enumerate(tls.verified_chain_der):
        known = (parsed or {}).get(der)
        try:
            info = known._replace(position=pos) if known is not None else certparse.parse_cert(der, pos)
        except ValueError:
            raw = raw_cert_info(der, pos)
            if raw is None:
                continue
            info = raw
        path.append(info._replace(verified=True, sent=der in sent, anchor=pos == count - 1))
    return tuple(path), (anchor_source(t) if path else None)


class ChainStage:
    """Local work: parsing what the server sent. It also runs after a failed handshake when the
    server sent certificates, since they explain an expired or untrusted one."""

    def __init__(self, step: Step, plan: Plan) -> None:
        self.target = target_of(plan.spec)

    def runs_after(self, state: RunState, failed: Step) -> bool:
        return failed.name in ("tls", "quic") and state.tls is not None and bool(state.tls.peer_chain_der)

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        tls = state.need_tls()
        if not tls.peer_chain_der:
            verify_off = self.target.tls.verify == "off"
            detail = ChainDetail(verified=None if verify_off else False, verify_code=tls.verify_code,
                                 verify_message=tls.verify_message, hostname=tls.verify_name,
                                 trust_source="off" if verify_off else self.target.tls.verify)
            state.chain = detail
            return StageOutcome(ok=False, detail=detail, summary="the server sent no certificate")
        detail, findings = chain_detail(self.target, tls)
        state.chain = detail
        infos = detail.certificates
        leaf = infos[0] if infos else None
        summary = f"{len(infos)} certificate(s)"
        if leaf is not None:
            summary += f", leaf {leaf.subject}, {leaf.lifetime}"
        chain_ok = detail.verified
        summary += "; verified" if chain_ok else ("; not verified" if chain_ok is False else "; verification off")
        if detail.verified_path:
            summary += f" up to {detail.verified_path[-1].subject}"
        # Failed when there is nothing to show or the chain did not verify (the tls stage says why).
        return StageOutcome(ok=bool(infos) and chain_ok is not False, detail=detail, summary=summary,
                            findings=tuple(findings))


def run_chain(ctx: StageContext, tls: TlsOutcome) -> StageOutcome:
    """The chain stage for one handshake's outcome, outside a run."""
    from tlsbench.engine.plan import plan_for

    plan = plan_for(ctx.spec)
    state = RunState(plan)
    state.tls = tls
    step = plan.step("chain")
    assert step is not None  # a plan with TLS has a chain step
    return ChainStage(step, plan).run(ctx, state)

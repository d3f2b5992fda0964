"""The chain stage: every certificate the server sent, parsed, with its verification status."""

from __future__ import annotations


from tlsbench.engine import certparse
from tlsbench.engine.details import CertInfo, ChainDetail
from tlsbench.engine.diagnosis.certs import expiry_findings
from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.tls import TlsOutcome, TlsTarget, target_of

_CODE_STATUS = {10: "expired", 9: "not yet valid", 18: "self-signed, untrusted", 19: "untrusted root",
                20: "issuer unknown", 62: "hostname mismatch"}


def _status(info: CertInfo, tls: TlsOutcome, in_verified: bool, last: bool, verify_off: bool) -> str:
    if info.status != "ok":
        return info.status  # the dates speak for themselves
    if verify_off:
        return "not checked"
    if in_verified:
        return "ok"
    code = tls.verify_code
    if code == 62 and info.position == 0:
        return "hostname mismatch"
    if code in (20, 19, 18, 2, 21) and last:
        return _CODE_STATUS.get(code, "untrusted")
    return "not verified"


def chain_detail(t: TlsTarget, tls: TlsOutcome) -> tuple[ChainDetail, list[Finding]]:
    """Every certificate the peer sent, parsed, with its status; and the findings they carry."""
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
            findings.append(Finding("cert-unparsable", "warning", f"Certificate #{pos} could not be parsed",
                                    f"cryptography refused it: {exc}", "Inspect it with openssl x509 -text.",
                                    stage="chain", evidence=(Evidence("DER (hex, first 64 bytes)",
                                                                      der[:64].hex()),)))
            continue
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
    chain_ok = None if verify_off else (tls.outcome.ok and tls.verify_code is None)
    detail = ChainDetail(certificates=tuple(infos), verified=chain_ok, verify_code=tls.verify_code,
                         verify_message=tls.verify_message, hostname=name, hostname_match=match,
                         trust_source=trust)
    findings += expiry_findings(tuple(infos))
    if verify_off and match is False and infos:
        leaf = infos[0]
        findings.append(Finding("cert-hostname-mismatch", "warning",
                                f"The certificate is not valid for {name!r} (not enforced: --insecure)",
                                f"The leaf names {', '.join(leaf.sans) or 'no SANs'}; verification is off, so the "
                                "connection went ahead anyway.", "Use a name the certificate holds.",
                                stage="chain", origin="peer",
                                evidence=(Evidence("name checked", name or "?"),
                                          Evidence("certificate names (SANs)", ", ".join(leaf.sans) or "none"))))
    return detail, findings


class ChainStage:
    """Local work: parsing what the server sent. It also runs after a failed handshake when the
    server sent certificates, since they explain an expired or untrusted one."""

    def __init__(self, step, plan) -> None:
        self.target = target_of(plan.spec)

    def runs_after(self, state, failed) -> bool:
        return failed.name == "tls" and state.tls is not None and bool(state.tls.peer_chain_der)

    def run(self, ctx: StageContext, state) -> StageOutcome:
        tls: TlsOutcome = state.tls
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
        # Failed when there is nothing to show or the chain did not verify (the tls stage says why).
        return StageOutcome(ok=bool(infos) and chain_ok is not False, detail=detail, summary=summary,
                            findings=tuple(findings))


def run_chain(ctx: StageContext, tls: TlsOutcome) -> StageOutcome:
    """The chain stage for one handshake's outcome, outside a run."""
    from tlsbench.engine.plan import plan_for

    plan = plan_for(ctx.spec)
    state = RunState(plan)
    state.tls = tls
    return ChainStage(plan.step("chain"), plan).run(ctx, state)

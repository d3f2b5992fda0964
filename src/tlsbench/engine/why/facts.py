"""What the first run showed, in the terms the variant rules ask about.

Read from the ProbeResult alone (its stages, findings and chain): where it failed, the codes it
raised, the alert, the bytes a peer sent instead of TLS, and the leaf certificate when the
handshake got that far.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

from tlsbench.engine.route.hostport import is_ip
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec


class Facts(NamedTuple):
    spec: ConnectionSpec
    values: dict  # values_of(spec)
    result: ProbeResult
    failed_stage: str | None  # the kind of the first failed stage ("tls"), None when the run completed
    codes: frozenset[str]
    alert: str | None  # the alert that ended the handshake, when one did
    first_bytes: bytes  # what the peer sent instead of TLS (tls stage), or as its answer (app stage)
    leaf_pem: str | None  # the leaf certificate the peer sent (PEM), when the handshake got that far
    leaf_sha256: str | None
    leaf_names: tuple[str, ...]  # its DNS names (SANs), as written
    suggested_sni: tuple[str, ...]  # names the user asked the diagnosis to try as SNI
    connected_to: str | None  # the address the first run connected to for the target (direct only)
    issuer_urls: tuple[str, ...] = ()  # the leaf's AIA "CA Issuers" URLs (http:// only)
    done: dict = {}  # key -> VariantOutcome of the variants finished so far (filled as they end)

    @property
    def ok(self) -> bool:
        return self.failed_stage is None and self.result.ok

    @property
    def tls(self) -> bool:
        return self.spec.tls.enabled

    def failed_at(self, *stages: str) -> bool:
        return self.failed_stage in stages

    def has(self, *codes: str) -> bool:
        return any(c in self.codes for c in codes)

    @property
    def target_is_ip(self) -> bool:
        return is_ip(self.spec.host)

    def result_of(self, key: str) -> ProbeResult | None:
        """The run of a finished variant (None when it did not run, or not yet)."""
        outcome = self.done.get(key)
        return outcome.result if outcome is not None and outcome.ran else None


def facts_of(spec: ConnectionSpec, result: ProbeResult, suggested_sni: Iterable[str] = ()) -> Facts:
    from tlsbench.engine.options import values_of

    failed = next((s.name for s in result.stages if s.status == "failed"), None)
    tls_detail = result.tls
    first = b""
    if tls_detail is not None and tls_detail.first_bytes_hex:
        first = bytes.fromhex(tls_detail.first_bytes_hex)
    app = result.stage("app")
    app_hex = getattr(app.detail, "first_bytes_hex", None) if app is not None else None
    if not first and app_hex:
        first = bytes.fromhex(app_hex)
    leaf = result.chain.certificates[0] if result.chain is not None and result.chain.certificates else None
    names: list[str] = []
    if leaf is not None:
        names = [s[4:] for s in leaf.sans if s.startswith("DNS:")]
    resolved = result.stage("resolve")
    chosen = getattr(resolved.detail, "chosen", None) if resolved is not None and not spec.proxies else None
    return Facts(spec=spec, values=values_of(spec), result=result,
                 failed_stage=failed if not result.ok else None, codes=frozenset(result.codes()),
                 alert=getattr(tls_detail, "alert", None), first_bytes=first,
                 leaf_pem=leaf.pem if leaf is not None else None, leaf_sha256=leaf.sha256 if leaf else None,
                 leaf_names=tuple(names), suggested_sni=tuple(suggested_sni), connected_to=chosen,
                 issuer_urls=issuer_urls(leaf.pem) if leaf is not None else (), done={})


def issuer_urls(pem: str) -> tuple[str, ...]:
    """The http:// "CA Issuers" URLs of a certificate's Authority Information Access extension."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (ValueError, x509.ExtensionNotFound):
        return ()
    urls = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
            and isinstance(d.access_location, x509.UniformResourceIdentifier)]
    return tuple(u for u in urls if u.lower().startswith("http://"))

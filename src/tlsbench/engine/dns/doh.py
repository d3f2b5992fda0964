"""DNS over HTTPS (RFC 8484) on a connection of tlsbench's own, shown stage by stage.

    transport = DohTransport("https://dns.lab.test/dns-query", run_spec, insecure=False)  # before any clock
    exchanged = transport.exchange([query_a, query_aaaa], ctx, timeout)                  # in the resolve stage

The connection is a plan of its own, run inside the resolve stage (`runner.run_nested`): resolve
the DoH host (the system resolver: no recursion), tcp, the run's proxy hops (curl's DoH follows
the proxy route too), tls (SNI and verification for the DoH host; the run's `--cafile` verifies it,
`insecure` turns verification off for it alone; ALPN h2 only), then the doh stage
(stages/doh.py): every query a POST on its own HTTP/2 stream. What the run asked of its target —
the client certificate, an SNI override, `--pin`, STARTTLS, ALPN, TLS versions and ciphers, the
request — is not the DoH server's business and is not applied; the key log is (as curl's
SSLKEYLOGFILE covers its DoH connections).

The nested stages' records come back in `Exchanged.connection` (each with `parent`, the resolve
stage's path) and their findings in `Exchanged.findings`, worded as the DoH server's.
`connection_json(records)` is their JSON form, for the resolve stage's detail (`connection`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from tlsbench.engine.dns.transport import Answer, Exchanged
from tlsbench.errors import Cancelled, InputError

if TYPE_CHECKING:
    from tlsbench.engine.findings.model import Finding
    from tlsbench.engine.plan import Plan
    from tlsbench.engine.records.result import StageRecord
    from tlsbench.engine.spec import ConnectionSpec
    from tlsbench.engine.stages.context import StageContext
    from tlsbench.engine.stages.doh import DohStage

FIELD = "doh_url"


def parse_doh_url(url: str) -> tuple[str, int, str]:
    """(host, port, path with its query) of an https:// URL, or InputError naming what is wrong.
    The URL itself is never repeated in the message: it could hold a password."""
    from urllib.parse import quote, urlsplit

    from tlsbench.engine.route.hostport import check_host

    text = url.strip()
    if not text or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        raise InputError("DoH URL is empty or holds spaces or control characters", field=FIELD)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"DoH URL does not parse ({str(exc).split(':')[0]})", field=FIELD) from None
    if parts.scheme.lower() != "https":
        raise InputError("DoH URL must start with https:// (DNS over HTTPS, RFC 8484)", field=FIELD)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InputError("DoH URL must not hold a user or password", field=FIELD)
    if not parts.hostname:
        raise InputError("DoH URL names no host", field=FIELD)
    host = check_host(parts.hostname, FIELD)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # A request's :path is ASCII: other characters go as their UTF-8 percent-encoded, as curl sends them.
    path = quote(path, safe="".join(chr(c) for c in range(0x21, 0x7F)))
    return host, port if port is not None else 443, path


def doh_spec(url: str, run_spec: ConnectionSpec, insecure: bool, cafile: str | None = None) -> ConnectionSpec:
    """The DoH server's connection, from the run's: its route and timeout, its CA file, its key log
    and local side (but the ports: the run's own connection takes those)."""
    from tlsbench.engine.spec import AppSpec, ConnectionSpec, LocalSpec, TlsSpec

    host, port, path = parse_doh_url(url)
    run_tls = run_spec.tls
    ca = cafile if cafile is not None else (run_tls.cafile if run_tls.verify == "cafile" else None)
    tls = TlsSpec(enabled=True, alpn=("h2",), verify="off" if insecure else ("cafile" if ca else "system"),
                  cafile=None if insecure else ca, keylog=run_tls.keylog if run_tls.enabled else None,
                  keylog_from_env=run_tls.keylog_from_env)
    local = LocalSpec(interface=run_spec.local.interface, family=run_spec.local.family)
    return ConnectionSpec(host=host, port=port, proxies=run_spec.proxies, tls=tls, app=AppSpec(path=path),
                          timeout=run_spec.timeout, local=local)


def doh_plan(spec: ConnectionSpec) -> Plan:
    """resolve, tcp, [proxy-tls], proxy ..., tls, chain, doh: the plan of `spec` with the doh stage for
    its app step, and without the steps a direct connection skips."""
    from tlsbench.engine.plan import KINDS, Plan, Step, plan_for

    steps = []
    for step in plan_for(spec).steps:
        if step.name == "app":
            step = Step(KINDS["doh"], "doh", doing="DNS queries over HTTP/2", label=KINDS["doh"].label)
        elif step.skip is not None and step.name == "proxy":
            continue  # a direct connection: no proxy row under the resolve stage
        steps.append(step)
    return Plan(spec, tuple(steps))


class DohTransport:
    """A way to one DoH server, over a connection made for each lookup (see the module's docstring)."""

    scheme = "https"

    def __init__(self, url: str, run_spec: ConnectionSpec, insecure: bool, cafile: str | None = None) -> None:
        """Before any clock: the URL checked (InputError), the nested plan made and every stage of it
        prepared (its TLS context, its CA file). `cafile`: the CA file that verifies the DoH server
        when the run's spec cannot hold one (a --no-tls target); by default the run's."""
        from tlsbench.engine.runner import preflight
        from tlsbench.engine.stages.doh import DohStage, doh_url

        spec = doh_spec(url, run_spec, insecure, cafile)
        self.spec = spec
        self.server = doh_url(spec.host, spec.port, spec.app.path)
        self.prepared = preflight(spec, doh_plan(spec))
        stage = next(s for s in self.prepared.stages if isinstance(s, DohStage))
        self.stage: DohStage = stage

    def exchange(self, queries: Sequence[bytes], ctx: StageContext, timeout: float) -> Exchanged:
        """Every query on one connection to the DoH server; its stages run nested in ctx's stage.
        Raises only Cancelled."""
        from tlsbench.engine.records.details import DohDetail
        from tlsbench.engine.runner import run_nested

        self.stage.queries = tuple(queries)
        self.stage.timeout = timeout
        started = ctx.now_ms()
        nested = run_nested(ctx, self.prepared)
        if nested.cancelled or ctx.cancel.cancelled:
            raise Cancelled("cancelled during the DoH lookup")
        record = next((r for r in nested.records if r.name == "doh"), None)
        detail = record.detail if record is not None else None
        if isinstance(detail, DohDetail) and len(detail.queries) == len(queries):
            answers = tuple(Answer(q, d.answer if d.error is None else None, d.sent_ms, d.ms or 0.0, d.error)
                            for q, d in zip(queries, detail.queries))
        else:
            why = _no_connection(nested.records, detail)
            answers = tuple(Answer(q, None, started, ctx.now_ms() - started, why) for q in queries)
        return Exchanged(answers, nested.records, as_doh_findings(nested.findings, self.server))


def _no_connection(records: Sequence[StageRecord], detail: object) -> str:
    """Why no query had an answer: the first nested stage that failed, in its own summary."""
    failed = next((r for r in records if r.status == "failed"), None)
    if failed is not None:
        return f"no connection to the DoH server: {failed.label or failed.name} failed ({failed.summary})"
    return getattr(detail, "error", None) or "no connection to the DoH server"


def as_doh_findings(findings: Sequence[Finding], url: str) -> tuple[Finding, ...]:
    """The nested run's findings, said of the DoH server's connection, their stage the resolve stage
    they are reported in. Their changes are the run's options for its target, so they are worded
    here, once, in the probe's flags (--doh-insecure for turning verification off, the DoH server's
    own switch); the key log's warning is the run's own already."""
    from tlsbench.engine.suggestions import Suggestion, cli_change, literal, render, cli_setting

    def change_words(change: object) -> str:
        values = getattr(change, "values", {})
        if values.get("insecure") is True or values.get("verify") == "off":
            return "--doh-insecure"
        return cli_change(change)  # type: ignore[arg-type]

    def setting_words(name: str) -> str:
        return "--doh-insecure" if name == "insecure" else cli_setting(name)

    out = []
    for f in findings:
        if f.code == "keylog-enabled":
            continue
        text = render(f.suggestion, change_words, setting_words)
        out.append(f._replace(
            title=f"DoH server: {f.title}",
            explanation=f"On the connection to the DNS-over-HTTPS server {url}: {f.explanation}",
            suggestion=Suggestion(literal(text), (), f.suggestion.peers),
            stage="resolve"))
    return tuple(out)


def connection_json(records: Sequence[StageRecord]) -> list[dict]:
    """The DoH connection's stage records as JSON: each as the run's own stages are in `stages`, with
    its `key` and `parent` (the stage it ran in). The resolve stage's detail puts this list under
    `connection`."""
    return [{**r.to_dict(), "key": r.id, "parent": r.parent} for r in records]

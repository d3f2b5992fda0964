"""Two runs side by side, from their history records: the options that differed, the socket, each
stage's time, the chain (fingerprints, leaf first) and the findings (only in A, only in B, both).

Pure functions over records (dicts as stored): the CLI prints them as text or JSON, the workbench
as tables. The current run of the workbench is turned into a record the same way (record.py).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

SOCKET_FIELDS = ("local_address", "local_port", "peer_address", "peer_port")


class Row(NamedTuple):
    """One compared line: what, A's value, B's value, whether they differ."""

    key: str
    a: str
    b: str
    differs: bool


class StageRow(NamedTuple):
    key: str  # "tcp", "proxy#2"
    a_status: str | None  # None: the stage is not in A's plan
    a_ms: float | None
    b_status: str | None
    b_ms: float | None

    @property
    def delta_ms(self) -> float | None:
        if self.a_ms is None or self.b_ms is None or "skipped" in (self.a_status, self.b_status):
            return None
        return self.b_ms - self.a_ms


class Comparison(NamedTuple):
    a_at: str
    b_at: str
    a_verdict: str
    b_verdict: str
    options: list[Row]  # only those that differ
    socket: list[Row]
    stages: list[StageRow]
    total: StageRow
    chain: list[Row]  # position -> sha256 fingerprints
    findings_only_a: list[str]
    findings_only_b: list[str]
    findings_both: list[str]


def stage_key(stage: dict[str, Any]) -> str:
    name = str(stage.get("name", "?"))
    index = stage.get("index")
    return f"{name}#{index}" if index is not None else name


def stage_label(key: str) -> str:
    """'tcp connect', 'proxy 2': the waterfall's words for a stage key."""
    from tlsbench.engine.plan import KINDS

    name, _, index = key.partition("#")
    kind = KINDS.get(name)
    label = kind.label if kind is not None else name
    return f"{label} {index}" if index else label


def short_fingerprint(fingerprint: str, size: int = 8) -> str:
    """The first `size` bytes of a colon-separated fingerprint (8: as `probe --count` shows a leaf)."""
    parts = fingerprint.split(":")
    return ":".join(parts[:size]) + ("…" if len(parts) > size else "")


def stage_status(stage: dict[str, Any]) -> str:
    """ok | failed | skipped | cancelled (a stage cut by a cancel is recorded failed, 'cancelled')."""
    status = str(stage.get("status", "?"))
    if status == "failed" and str(stage.get("summary") or "").strip() == "cancelled":
        return "cancelled"
    return status


def verdict(result: dict[str, Any]) -> str:
    if result.get("cancelled"):
        return "cancelled"
    return "ok" if result.get("ok") else "failed"


def finding_codes(result: dict[str, Any]) -> list[str]:
    return [str(f.get("code")) for f in result.get("findings") or [] if isinstance(f, dict)]


def fingerprints(result: dict[str, Any]) -> list[str]:
    return [str(c.get("sha256") or "?") for c in result.get("chain") or [] if isinstance(c, dict)]


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """{'tls.sni': 'override', 'proxy[1].host': '127.0.0.1', ...}: a connection's values by path."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value, 1):
            out.update(flatten(item, f"{prefix}[{i}]"))
    else:
        out[prefix] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return out


def _connection(record: dict[str, Any]) -> dict[str, str]:
    connection = dict(record.get("connection") or {})
    connection.pop("description", None)
    if isinstance(connection.get("proxy"), dict):
        connection["proxy"] = [connection["proxy"]]  # one hop and a chain of one read alike
    return flatten(connection)


def _stages(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stage_key(s): s for s in result.get("stages") or [] if isinstance(s, dict)}


def _ms(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def compare(a: dict[str, Any], b: dict[str, Any]) -> Comparison:
    """Run A (usually the older) against run B."""
    ra, rb = a.get("result") or {}, b.get("result") or {}
    ca, cb = _connection(a), _connection(b)
    options = [Row(k, ca.get(k, "—"), cb.get(k, "—"), True)
               for k in list(ca) + [k for k in cb if k not in ca] if ca.get(k) != cb.get(k)]
    sa, sb = ra.get("socket") or {}, rb.get("socket") or {}
    socket = [Row(k, _text(sa.get(k)), _text(sb.get(k)), sa.get(k) != sb.get(k)) for k in SOCKET_FIELDS]
    sta, stb = _stages(ra), _stages(rb)
    stages = []
    for key in list(sta) + [k for k in stb if k not in sta]:
        x, y = sta.get(key), stb.get(key)
        stages.append(StageRow(key, stage_status(x) if x else None, _ms(x.get("duration_ms")) if x else None,
                               stage_status(y) if y else None, _ms(y.get("duration_ms")) if y else None))
    total = StageRow("total", verdict(ra), _ms(ra.get("total_ms")), verdict(rb), _ms(rb.get("total_ms")))
    fa, fb = fingerprints(ra), fingerprints(rb)
    chain = [Row("leaf" if i == 0 else f"#{i}", fa[i] if i < len(fa) else "—", fb[i] if i < len(fb) else "—",
                 (fa[i] if i < len(fa) else None) != (fb[i] if i < len(fb) else None))
             for i in range(max(len(fa), len(fb)))]
    codes_a, codes_b = finding_codes(ra), finding_codes(rb)
    return Comparison(str(a.get("at", "?")), str(b.get("at", "?")), verdict(ra), verdict(rb), options, socket,
                      stages, total, chain,
                      [c for c in _unique(codes_a) if c not in codes_b],
                      [c for c in _unique(codes_b) if c not in codes_a],
                      [c for c in _unique(codes_a) if c in codes_b])


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def _text(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def cell(status: str | None, ms: float | None) -> str:
    """'ok 1.2 ms', 'skipped', '—' (not in this run's plan)."""
    if status is None:
        return "—"
    if status == "skipped" or ms is None:
        return status
    return f"{status} {ms:.1f} ms"


def delta_text(row: StageRow) -> str:
    delta = row.delta_ms
    if delta is None:
        return ""
    return "±0.0 ms" if abs(delta) < 0.05 else f"{delta:+.1f} ms"


def comparison_json(c: Comparison, a_number: int | None = None, b_number: int | None = None) -> dict[str, Any]:
    return {
        "a": {"run": a_number, "at": c.a_at, "verdict": c.a_verdict},
        "b": {"run": b_number, "at": c.b_at, "verdict": c.b_verdict},
        "options_differ": [{"option": r.key, "a": r.a, "b": r.b} for r in c.options],
        "socket": [{"field": r.key, "a": r.a, "b": r.b, "differs": r.differs} for r in c.socket],
        "stages": [{"stage": s.key, "a": {"status": s.a_status, "ms": s.a_ms},
                    "b": {"status": s.b_status, "ms": s.b_ms}, "delta_ms": s.delta_ms}
                   for s in c.stages + [c.total]],
        "chain": [{"position": r.key, "a": r.a, "b": r.b, "same": not r.differs} for r in c.chain],
        "findings": {"only_a": c.findings_only_a, "only_b": c.findings_only_b, "both": c.findings_both},
    }


def comparison_lines(c: Comparison, a_name: str = "A", b_name: str = "B") -> list[str]:
    """The comparison as text, one section after another (data: shown through visible() by callers)."""
    lines = [f"A = {a_name}: {c.a_at} {c.a_verdict}", f"B = {b_name}: {c.b_at} {c.b_verdict}", "",
             "options that differed:"]
    lines += [f"  {r.key}: {r.a} -> {r.b}" for r in c.options] or ["  none"]
    lines += ["", "socket:"]
    width = max(len(r.key) for r in c.socket)
    lines += [f"  {r.key:<{width}}  {r.a:<24} {r.b:<24}{'  differs' if r.differs else ''}" for r in c.socket]
    lines += ["", "stages:"]
    rows = c.stages + [c.total]
    width = max(len(r.key) for r in rows)
    for row in rows:
        lines.append(f"  {row.key:<{width}}  {cell(row.a_status, row.a_ms):<20} {cell(row.b_status, row.b_ms):<20} "
                     f"{delta_text(row)}".rstrip())
    lines += ["", "chain (sha256, leaf first):"]
    for r in c.chain:
        lines += [f"  {r.key:<5} A {r.a}", f"  {'':<5} B {r.b}{'' if r.differs else '  (same)'}"]
    if not c.chain:
        lines.append("  none in either run")
    lines += ["", "findings:",
              f"  only in A: {', '.join(c.findings_only_a) or 'none'}",
              f"  only in B: {', '.join(c.findings_only_b) or 'none'}",
              f"  in both:   {', '.join(c.findings_both) or 'none'}"]
    return lines


def summary_line(number: int, record: dict[str, Any]) -> str:
    """One run of `tlsbench history`: number, when, verdict, total, each stage's ms, finding codes."""
    result = record.get("result") or {}
    parts = []
    for stage in result.get("stages") or []:
        if not isinstance(stage, dict) or stage_status(stage) == "skipped":
            continue
        ms = _ms(stage.get("duration_ms"))
        status = stage_status(stage)
        parts.append(f"{stage_key(stage)} {'?' if ms is None else f'{ms:.1f}'}"
                     + ("" if status == "ok" else f" {status}"))
    total = _ms(result.get("total_ms"))
    total_text = "?" if total is None else f"{total:.1f} ms"
    when = str(record.get("at", "?")).replace("T", " ")
    codes = ",".join(_unique(finding_codes(result))) or "-"
    return f"#{number:<3} {when}  {verdict(result):<9} {total_text:>10}  {', '.join(parts)}  findings: {codes}"

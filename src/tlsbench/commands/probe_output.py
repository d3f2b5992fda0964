"""How `tlsbench probe` shows a run: a live waterfall for people, one JSON object for scripts.

Everything that came from the network passes through `visible()` before it is printed. Colour
is plain ANSI, only on a terminal and only when NO_COLOR is unset (https://no-color.org).
"""

from __future__ import annotations

import os
from typing import TextIO

from tlsbench.commands.whole_lines import write_line
from tlsbench.engine.records import jsonout
from tlsbench.engine.events import Event, RunFinished, StageFinished, StageSkipped, TlsMessageSeen
from tlsbench.engine.records.result import ProbeResult, StageRecord
from tlsbench.engine.spec import format_hostport
from tlsbench.engine.suggestions import cli_text
from tlsbench.visible import visible

_CODES = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "dim": "2", "bold": "1"}
ANSWER_CHARS = 160  # how much of the peer's answer the summary shows (the JSON has it all)
SEVERITY_COLOUR = {"error": "red", "warning": "yellow", "info": "cyan"}


def want_colour(stream: TextIO, environ=os.environ) -> bool:
    if "NO_COLOR" in environ and environ["NO_COLOR"] != "":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def stage_name(key: str) -> str:
    """A stage as the waterfall names it: 'tls', or 'proxy 2' for the second hop of a chain."""
    return key.replace("#", " ")


def one_line(text: object) -> str:
    return visible(str(text), keep_newlines=False)


def nested_name(parent: str | None, stage: str) -> str:
    """A stage's name in the waterfall; one run inside another stage (a lookup's own connection) is
    named by that stage's path, so its line is never taken for the run's own stage of that name."""
    return f"{parent}/{stage_name(stage)}" if parent else stage_name(stage)


class Waterfall:
    """Consumes engine events and prints one line per stage as it finishes, then the summary."""

    def __init__(self, stream: TextIO, *, colour: bool, trace: bool = False, hexdump: bool = False,
                 showcerts: bool = False) -> None:
        self.out = stream
        self.colour = colour
        self.showcerts = showcerts
        self.trace = trace or hexdump  # -v: the message trace under the waterfall; --msg: with hex dumps
        self.hexdump = hexdump
        utf = (getattr(stream, "encoding", "") or "").lower().replace("-", "") in ("utf8",)
        self.marks = {"ok": "✓", "failed": "✗", "skipped": "·"} if utf else \
            {"ok": "ok", "failed": "FAIL", "skipped": "-"}
        # -v: a nested stage's TLS messages (a DoH server's handshake), shown under its line: the
        # result's trace holds only the run's own connection.
        self.nested_messages: dict[str, list[TlsMessageSeen]] = {}

    def paint(self, text: str, colour: str) -> str:
        if not self.colour:
            return text
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"

    def emit(self, line: str = "") -> None:
        write_line(self.out, line)  # whole, also when Ctrl-C comes while a slow reader holds the pipe

    def __call__(self, event: Event) -> None:
        if isinstance(event, TlsMessageSeen):
            if self.trace and event.parent is not None:
                self.nested_messages.setdefault(nested_name(event.parent, event.stage), []).append(event)
        elif isinstance(event, StageFinished):
            self.stage_line(event.record)
        elif isinstance(event, StageSkipped):
            mark = self.marks["skipped"]
            name = nested_name(event.parent, event.stage)
            width = 9 if event.parent is None else 15
            self.emit(self.paint(f"  {mark:<4} {name:<{width}} {'':>10}  {one_line(event.reason)}", "dim"))
        elif isinstance(event, RunFinished):
            self.summary(event.result)

    def stage_line(self, record: StageRecord) -> None:
        mark = self.marks.get(record.status, "?")
        colour = "green" if record.status == "ok" else "red"
        duration = f"{record.duration_ms:8.1f} ms"
        width = 9 if record.parent is None else 15  # a nested stage's path: a column of its own
        self.emit(f"  {self.paint(f'{mark:<4}', colour)} {nested_name(record.parent, record.id):<{width}} {duration}  "
                  f"{one_line(record.summary)}")
        if not self.trace:
            return
        # -v: HTTP/2 frames under their stage's row (the app stage's, a DoH lookup's), and a nested
        # handshake's messages (the run's own are in the trace after the waterfall).
        lines = h2_frame_lines(record) + (quic_lines(record) + dns_lines(record) if record.parent is None else [])
        for m in self.nested_messages.pop(nested_name(record.parent, record.id), []) if record.parent else ():
            arrow = ">>>" if m.direction == "sent" else "<<<"
            lines.append(f"         +{m.at_ms:9.3f} ms  {arrow} {one_line(m.name):<24} {m.version:<8} {m.length:>6} B")
        for line in lines:
            self.emit(self.paint(line, "dim"))

    # --- after the run ---------------------------------------------------------------------------

    def findings(self, findings) -> None:
        if findings:
            self.emit()
        for finding in findings:
            sev = self.paint(f"{finding.severity:<7}", SEVERITY_COLOUR.get(finding.severity, "bold"))
            self.emit(f"{sev} {finding.code}: {one_line(finding.title)}")
            self.emit(f"        {one_line(finding.explanation)}")
            if finding.suggestion.text:
                self.emit(f"        -> {one_line(cli_text(finding.suggestion, peers=False))}")
            for peer in finding.suggestion.peers:
                self.emit(self.paint(f"           $ {one_line(peer.command)}", "cyan"))
            for ev in finding.evidence:
                self.emit(self.paint(f"        {one_line(ev.label)}: {one_line(ev.value)}", "dim"))

    def summary(self, result: ProbeResult) -> None:
        if self.showcerts and result.chain is not None and result.chain.certificates:
            self.emit()
            self.emit("certificates (PEM)")
            self.out.write(showcerts_text(result))
        if self.trace:
            prints = fingerprint_lines(result)
            if prints:
                self.emit()
            for line in prints:
                self.emit(line)
            trace = trace_lines(result, self.hexdump)
            if trace:
                self.emit()
            for line in trace:
                self.emit(self.paint(line, "dim") if line.startswith("      ") else line)
        lines = summary_lines(result)
        if lines:
            self.emit()
        for line in lines:
            label, _, rest = line.partition(" ")
            self.emit(f"{self.paint(label, 'bold')} {rest}")
        self.findings(result.findings)
        verdict = "cancelled" if result.cancelled else ("ok" if result.ok else "failed")
        colour = "green" if result.ok else "red"
        self.emit()
        self.emit(f"{self.paint(verdict, colour)} {one_line(result.target)} in {result.total_ms:.1f} ms")


def summary_lines(result: ProbeResult) -> list[str]:
    """The chain, socket and TLS lines (each starts with its label word)."""
    lines = []
    chain = result.chain
    if chain is not None and chain.certificates:
        leaf = chain.certificates[0]
        verified = {True: "verified", False: "NOT verified", None: "not checked"}[chain.verified]
        if chain.verify_message and chain.verified is False:
            verified += f" ({chain.verify_message})"
        lines.append(f"chain   {len(chain.certificates)} certificate(s), {verified}")
        lines.append(f"  leaf   {one_line(leaf.subject)}")
        lines.append(f"  issuer {one_line(leaf.issuer)}")
        lines.append(f"  valid  {leaf.not_before} .. {leaf.not_after} ({leaf.lifetime})")
        if leaf.pin_sha256:
            lines.append(f"  pin    {leaf.pin_sha256}")
        lines += verified_path_lines(chain)
        if chain.scts:
            lines.append(f"  ct     {len(chain.scts)} embedded SCT(s): "
                         + ", ".join(f"log {sct.log_id[:12]}… at {sct.timestamp}" for sct in chain.scts))
        else:
            lines.append("  ct     no embedded SCTs (certificate transparency)")
    sock = result.socket
    if sock.local_address is not None:
        rtt = f", rtt {sock.tcp_info.rtt_ms:.3f} ms" if sock.tcp_info else ""
        via = " (the proxy)" if sock.via_proxy else ""
        peer = format_hostport(sock.peer_address or "?", sock.peer_port or 0)
        lines.append(f"socket  {format_hostport(sock.local_address, sock.local_port or 0)} -> {peer}{via}, "
                     f"{sock.family}{rtt}; ephemeral port {sock.local_port}"
                     + (f" of {sock.ephemeral_range[0]}-{sock.ephemeral_range[1]}" if sock.ephemeral_range else ""))
    lines += attempt_lines(result)
    tls = result.tls
    if tls is not None and tls.version:
        sni = f"SNI {one_line(tls.sni)}" if tls.sni_sent else "no SNI sent"
        alpn = f", ALPN {one_line(tls.alpn)}" if tls.alpn else ""
        lines.append(f"tls     {tls.version}, {one_line(tls.cipher)}{alpn}, {sni}")
    lines += starttls_lines(result)
    if tls is not None:
        lines += tls_parameter_lines(tls)
    lines += http3_summary_lines(result)
    rec = result.stage("reconnect")
    if rec is not None and rec.status != "skipped":
        lines.append(f"resume  {one_line(rec.summary)}")
    app = result.stage("app")
    detail = getattr(app, "detail", None)
    answer = getattr(detail, "first_bytes_text", None)
    if answer:
        shown = one_line(answer)
        lines.append(f"answer  {shown[:ANSWER_CHARS]}{' ...' if len(shown) > ANSWER_CHARS else ''}")
    return lines


def attempt_lines(result: ProbeResult) -> list[str]:
    """Every connect attempt when there was more than one: when it started, the address, how it ended."""
    detail = getattr(result.stage("tcp"), "detail", None)
    tries = tuple(getattr(detail, "tries", ()))
    words = tuple(getattr(detail, "attempts", ()))
    if len(tries) < 2 or len(words) != len(tries):
        return []
    first = min(t.started_ms for t in tries)
    lines = [f"tcp     {len(tries)} attempts, one address at a time, each 250 ms after the last or as soon as "
             "one fails (RFC 8305)"]
    for i, (t, said) in enumerate(zip(tries, words)):
        lines.append(f"  {'tried' if i == 0 else '':<6} +{t.started_ms - first:.1f} ms {t.family} {one_line(said)}")
    return lines


EXCHANGE_LINES = 80  # lines of a STARTTLS exchange shown (the JSON has them all)


def starttls_lines(result: ProbeResult) -> list[str]:
    """The STARTTLS exchange as it happened (the starttls stage, then the capabilities over TLS)."""
    if not any(stage.name == "starttls" for stage in result.stages):
        return []  # (and the STARTTLS code is not even imported)
    from tlsbench.engine.hops.starttls.detail import StarttlsDetail, rows

    arrows = {"sent": "->", "received": "<-", "note": "  "}
    out: list[str] = []
    for stage in result.stages:
        detail = stage.detail
        if not isinstance(detail, StarttlsDetail):
            continue
        shown = 0
        for row in rows(detail):
            if row.kind == "heading":
                continue
            if row.kind in arrows:
                shown += 1
                if shown > EXCHANGE_LINES:
                    continue
                out.append(f"  {row.label}  {arrows[row.kind]} {one_line(row.text)}")
            elif row.label in ("protocol", "over TLS"):
                out.append(f"{'starttls' if row.label == 'protocol' else 'over-tls'} {one_line(row.text)}")
            else:
                out.append(f"  {row.label:<14}{one_line(row.text)}")
        if shown > EXCHANGE_LINES:
            out.append(f"  ... {shown - EXCHANGE_LINES} more line(s) in the JSON (--json)")
    return out


def verified_path_lines(chain) -> list[str]:
    """The path OpenSSL verified, leaf first, the trust anchor marked with where it came from."""
    path = chain.verified_path
    if not path:
        return []
    lines = [f"  path   {len(path)} certificate(s) verified, up to the trust anchor:"]
    for cert in path:
        where = "sent" if cert.sent else "from the trust store"
        if cert.anchor:
            where = f"trust anchor, from the {one_line(chain.anchor_source or 'trust store')}" + (
                " (also sent by the server)" if cert.sent else "")
        lines.append(f"         #{cert.position} {one_line(cert.subject)}  [{where}]")
    return lines


def showcerts_text(result: ProbeResult) -> str:
    """--showcerts: the certificates sent (and the trust anchor) as PEM, each with its names."""
    from tlsbench.engine.certs.chainpem import chain_pem

    return chain_pem(result.chain) if result.chain is not None and result.chain.certificates else ""


def tls_parameter_lines(tls) -> list[str]:
    """What the handshake negotiated, read from its messages: group, signature, key, extensions,
    and what a CertificateRequest asked for."""
    lines = []
    if tls.version:
        kx = tls.group or ("none (RSA key transport)" if tls.key_exchange == "RSA" else "?")
        if tls.hello_retry_group:
            kx += f" (after a HelloRetryRequest for {tls.hello_retry_group})"
        lines.append(f"  group  {kx}; server signature {tls.signature_algorithm or 'none'}"
                     + (f"; server key {tls.peer_key}" if tls.peer_key else ""))
        by_place: dict[str, list[str]] = {}
        for ext in tls.server_extensions:
            by_place.setdefault(ext.where, []).append(ext.name)
        if by_place:
            lines.append("  ext    " + "; ".join(f"{', '.join(names)} ({where})" for where, names in by_place.items()))
    req = tls.client_cert_request
    if req is not None:
        names = "; ".join(one_line(n) for n in req.ca_names) or "any CA (none named)"
        head = "  asks  " if tls.version else "client "
        lines.append(f"{head} a client certificate issued by {names}")
        if req.signature_algorithms:
            lines.append(f"         signed with {', '.join(req.signature_algorithms)}")
    return lines


def fingerprint_lines(result: ProbeResult) -> list[str]:
    """`-v`: every certificate's key as curl's --pinnedpubkey takes it, and the JA4 and JA3 of the
    ClientHello tlsbench sent."""
    lines = []
    chain = result.chain
    certs = chain.certificates if chain is not None else ()
    if any(c.pin_sha256 for c in certs):
        lines.append("pins    the certificates' keys (curl --pinnedpubkey)")
        lines += [f"  #{c.position} {c.pin_sha256}  {one_line(c.subject)}" for c in certs if c.pin_sha256]
    hello = result.tls.client_hello if result.tls is not None else None
    if hello is not None:
        lines.append(f"hello   JA4 {hello.ja4}")
        lines.append(f"  ja4_r  {hello.ja4_r}")
        lines.append(f"  JA3    {hello.ja3_hash}  {hello.ja3}")
    return lines


def trace_lines(result: ProbeResult, hexdump_bytes: bool = False) -> list[str]:
    """Every TLS message of the run, stage by stage (`-v`), with a hex dump of each (`--msg`)."""
    from tlsbench.engine.records.details import ProxyTlsDetail
    from tlsbench.visible import hexdump

    groups: list[tuple[str, tuple]] = []
    for record in result.stages:
        if record.name == "proxy-tls" and isinstance(record.detail, ProxyTlsDetail):
            groups.append((record.id, tuple(record.detail.messages)))
        elif record.name in ("tls", "reconnect") and record.status != "skipped":
            messages = result.messages if record.name == "tls" else tuple(getattr(record.detail, "messages", ()))
            groups.append((record.id, tuple(messages)))
    lines = []
    for key, messages in groups:
        if not messages:
            continue
        lines.append(f"messages ({stage_name(key)}): time, direction, type, version, length")
        for m in messages:
            arrow = ">>>" if m.direction == "sent" else "<<<"
            lines.append(f"  +{m.at_ms:9.3f} ms  {arrow} {one_line(m.name):<24} {m.version:<8} {m.length:>6} B")
            if hexdump_bytes and m.data:
                lines += ["      " + row for row in hexdump(m.data).splitlines()]
    return lines


def h2_frame_lines(record: StageRecord) -> list[str]:
    """A stage's HTTP/2 frames (`-v`, under its row): time, direction, type, stream, flags, length;
    a DoH lookup's queries first, each with its stream, status and time."""
    from tlsbench.engine.records.details import AppDetail, DohDetail

    if not isinstance(record.detail, (AppDetail, DohDetail)) or not record.detail.frames:
        return []
    lines = []
    if isinstance(record.detail, DohDetail):
        for q in record.detail.queries:
            said = (f"{q.status} {one_line(q.content_type)}, {len(q.answer)} B" if q.error is None
                    else one_line(q.error))
            took = f"{q.ms:.1f} ms" if q.ms is not None else "-"
            lines.append(f"         query on stream {q.stream_id}: {q.query_bytes} B sent at +{q.sent_ms:.3f} ms; "
                         f"{said} in {took}")
    lines.append("         HTTP/2 frames: time, direction, type, stream, flags, length")
    for f in record.detail.frames:
        arrow = ">>>" if f.direction == "sent" else "<<<"
        note = f"  {one_line(f.note)}" if f.note else ""
        lines.append(f"         +{f.at_ms:9.3f} ms  {arrow} {one_line(f.type):<14} {f.stream_id:>6}  "
                     f"{f.flags or '-':<22} {f.length:>6} B{note}")
    return lines


def quic_lines(record: StageRecord) -> list[str]:
    """The quic stage's own lines (`-v`, under its row): the packets' times, the version, the ends."""
    from tlsbench.engine.records.details import QuicDetail

    d = record.detail
    if not isinstance(d, QuicDetail):
        return []

    def at(ms: float | None) -> str:
        return f"+{ms:.3f} ms" if ms is not None else "-"

    lines = [f"         {format_hostport(d.local_address or '?', d.local_port or 0)} -> "
             f"{format_hostport(d.peer_address, d.peer_port)} over UDP ({d.attempt})",
             f"         Initial sent {at(d.initial_sent_ms)}, first server packet {at(d.first_packet_ms)}, "
             f"handshake done {at(d.handshake_done_ms)}",
             f"         version {d.version or '-'}, ALPN {one_line(d.alpn or '-')}; {d.datagrams_sent} datagram(s) "
             f"({d.bytes_sent} B) sent, {d.datagrams_received} ({d.bytes_received} B) received"]
    if d.close_name:
        reason = f", reason {one_line(d.close_reason)!r}" if d.close_reason else ""
        lines.append(f"         CONNECTION_CLOSE {d.close_name} by the {d.closed_by}{reason}")
    if d.server_versions:
        lines.append(f"         Version Negotiation: {', '.join(d.server_versions)}")
    return lines


def http3_summary_lines(result: ProbeResult) -> list[str]:
    """--http3: the QUIC attempt in one line, the race's verdict, and an HTTP/3 answer's fields."""
    from tlsbench.engine.records.details import AppDetail, QuicDetail

    lines = []
    quic = result.stage("quic")
    d = quic.detail if quic is not None else None
    if isinstance(d, QuicDetail):
        if d.handshake_ms is not None:
            tls = d.tls
            lines.append(f"quic    {d.version}, ALPN {one_line(d.alpn or '-')}, "
                         f"{one_line(tls.cipher if tls else '?')} {one_line((tls.group if tls else None) or '')}; "
                         f"handshake {d.handshake_ms:.1f} ms, first server packet after "
                         f"{(d.first_packet_ms or 0) - (d.initial_sent_ms or 0):.1f} ms")
        else:
            lines.append(f"quic    no connection: {one_line(d.error or d.failure or '?')}")
    app = result.stage("app")
    detail = app.detail if app is not None else None
    if isinstance(detail, AppDetail) and detail.race is not None:
        race = detail.race
        lines.append(f"race    {race.winner} won: {one_line(race.reason)}")
        unseen = "not asked (the request went over QUIC)" if race.winner == "quic" else "absent"
        lines.append(f"  alt-svc {one_line(race.alt_svc) if race.alt_svc is not None else unseen}")
    if isinstance(detail, AppDetail) and detail.protocol == "h3":
        fields = "; ".join(f"{one_line(k)}: {one_line(v)}" for k, v in detail.headers if not k.startswith(":"))
        lines.append(f"answer  HTTP/3 {detail.status if detail.status is not None else '(none)'}"
                     + (f"; {fields[:ANSWER_CHARS]}" if fields else ""))
    return lines


def dns_lines(record: StageRecord) -> list[str]:
    """The resolve stage's DNS detail (`-v`, under its row): resolver, each query, chain, HTTPS record."""
    from tlsbench.engine.records.details import ResolveDetail

    if not isinstance(record.detail, ResolveDetail) or record.detail.resolver is None:
        return []
    from tlsbench.engine.dns.text import detail_lines

    return [f"         {one_line(line.label):<13}{one_line(line.text)}" for line in detail_lines(record.detail)]


def write_json(result: ProbeResult, stream: TextIO, *, include_bytes: bool = False, extra: dict | None = None) -> None:
    """The whole result as one JSON object (the `--json` contract, docs/json.md); `include_bytes`
    (--msg) adds each TLS message's bytes as hex; `extra` adds top-level keys (enumeration)."""
    data = result.to_json_dict(include_bytes=include_bytes)
    data.update(extra or {})
    write_line(stream, jsonout.dumps(data, indent=2, ensure_ascii=True, default=str))

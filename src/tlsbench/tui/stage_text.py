"""What a waterfall row shows when expanded: a stage's detail record rendered as literal Text."""

from __future__ import annotations

from rich.text import Text

from tlsbench.engine.records.details import (AppDetail, ChainDetail, DohDetail, KeyExchangeDetail, ProxyDetail, QuicDetail, ReconnectDetail,
                                             ResolveDetail, RevocationDetail, TcpDetail, TlsDetail)
from tlsbench.engine.hops.starttls.detail import StarttlsDetail, rows as starttls_rows
from tlsbench.visible import hexdump
from tlsbench.tui.safe_text import data, field, line

ARROWS = {"sent": ("→", "cyan"), "received": ("←", "magenta")}


def _join(lines: list[Text]) -> Text:
    return Text("\n").join(lines)


def message_line(at_ms: float, direction: str, name: str, version: str, length: int) -> Text:
    """One handshake message: '+  3.210 ms  → ClientHello  TLS 1.3  517 B'."""
    arrow, style = ARROWS.get(direction, ("·", ""))
    return line((f"+{at_ms:9.3f} ms  ", "dim"), (f"{arrow} ", f"bold {style}"),
                (f"{name:<24}", style), (f"{version:<9}", "dim"), (f"{length} B", "dim"))


def first_bytes(hex_text: str | None, text: str | None, width: int = 16) -> list[Text]:
    """A hex dump and the visible text of bytes the peer sent that were not what was expected."""
    out: list[Text] = []
    if hex_text:
        try:
            raw = bytes.fromhex(hex_text.replace(":", " "))
        except ValueError:
            raw = b""
        out.append(Text("first bytes from the peer:", style="bold"))
        out.append(data(hexdump(raw, width) if raw else hex_text, "yellow"))
    if text:
        out.append(line(("as text: ", "dim"), (text, "yellow")))
    return out


def _resolve(d: ResolveDetail) -> list[Text]:
    rows = [field("looked up", f"{d.name} ({d.role})")]
    if d.pinned:
        rows.append(field("pinned", "DNS replaced by the pinned address"))
    if d.skipped_reason:
        rows.append(field("skipped", d.skipped_reason))
    for i, addr in enumerate(d.addresses):
        mark = "  ← chosen" if addr == d.chosen else ""
        rows.append(field("address" if i == 0 else "", f"{addr}{mark}"))
    if d.family:
        rows.append(field("family", d.family))
    if d.error:
        rows.append(field("error", d.error, "red"))
    from tlsbench.engine.dns.text import detail_lines

    for dns_line in detail_lines(d, narrow=True):  # tlsbench's own queries: resolver, each query, chain, HTTPS record
        rows.append(field(dns_line.label, dns_line.text, dns_line.style))
    return rows


def _tcp(d: TcpDetail) -> list[Text]:
    rows = [field("peer", f"{d.peer_address} port {d.peer_port} ({d.role})")]
    if d.local_address:
        rows.append(field("local", f"{d.local_address} port {d.local_port}"))
    if d.family:
        rows.append(field("family", d.family))
    first = min((t.started_ms for t in d.tries), default=0.0)
    timed = len(d.tries) == len(d.attempts) and len(d.tries) > 1  # RFC 8305: when each attempt started
    for i, attempt in enumerate(d.attempts):
        text = f"+{d.tries[i].started_ms - first:.1f} ms {d.tries[i].family} {attempt}" if timed else attempt
        rows.append(field("tried" if i == 0 else "", text, "green" if timed and d.tries[i].won else ""))
    if d.error:
        rows.append(field("error", f"{d.errno_name or ''} {d.error}".strip(), "red"))
    return rows


def _proxy(d: ProxyDetail) -> list[Text]:
    rows = [field("proxy", f"{d.kind} at {d.proxy}"),
            field("auth", d.auth + (f" (proxy chose {d.auth_method})" if d.auth_method else "")),
            line(("request".ljust(14), "dim"), ("→ ", "bold cyan"),
                 (f"CONNECT {d.requested} as {d.address_type}", ""))]
    if d.reply_code is not None or d.reply_meaning:
        ok = d.error is None
        rows.append(line(("reply".ljust(14), "dim"), ("← ", "bold magenta"),
                         (f"{d.reply_code} {d.reply_meaning or ''}".strip(), "green" if ok else "red")))
    if d.bound_address:
        rows.append(field("bound", d.bound_address))
    if d.error:
        rows.append(field("error", d.error, "red"))
    return rows


def _tls(d: TlsDetail, messages, width: int) -> list[Text]:
    rows = [field("SNI", d.sni if d.sni_sent else "(none sent)")]
    if d.version:
        rows.append(field("version", d.version))
    if d.cipher:
        rows.append(field("cipher", f"{d.cipher} ({d.cipher_bits} bits)" if d.cipher_bits else d.cipher))
    if d.alpn_offered or d.alpn:
        rows.append(field("ALPN", f"offered {', '.join(d.alpn_offered) or '-'}; chosen {d.alpn or '-'}"))
    rows.extend(_negotiated(d))
    if d.client_hello is not None:  # tlsbench's own ClientHello
        rows.append(field("JA4", d.client_hello.ja4))
        rows.append(field("JA3", d.client_hello.ja3_hash))
    outcome = {True: " — ok", False: " — failed", None: " — not reached" if d.verify != "off" else ""}[d.verified]
    rows.append(field("verify", d.verify + outcome))
    if d.alert:
        rows.append(field("alert", f"{d.alert} ({d.alert_direction or '?'})", "red"))
    if d.verify_code is not None:
        rows.append(field("verify error", f"{d.verify_code}: {d.verify_message or ''}", "red"))
    if d.error:
        rows.append(field("error", f"{d.error_reason or ''} {d.error}".strip(), "red"))
    rows.append(field("bytes", f"{d.bytes_sent} sent, {d.bytes_received} received"))
    rows.extend(first_bytes(d.first_bytes_hex, d.first_bytes_text, width))
    if messages:
        rows.append(Text("handshake messages:", style="bold"))
        rows.extend(message_line(m.at_ms, m.direction, m.name, m.version, m.length) for m in messages)
    return rows


def _negotiated(d: TlsDetail) -> list[Text]:
    """What the handshake messages' bytes say: group, signature, key, extensions, a CertificateRequest."""
    rows: list[Text] = []
    if d.version:
        group = d.group or ("none (RSA key transport)" if d.key_exchange == "RSA" else "?")
        if d.hello_retry_group:
            group += f" (after a HelloRetryRequest for {d.hello_retry_group})"
        rows.append(field("group", group))
        rows.append(field("signature", d.signature_algorithm or "none (resumed, or no server signature)"))
    if d.peer_key:
        rows.append(field("server key", d.peer_key))
    places: dict[str, list[str]] = {}
    for ext in d.server_extensions:
        places.setdefault(ext.where, []).append(ext.name)
    for i, (where, names) in enumerate(places.items()):
        rows.append(field("extensions" if i == 0 else "", f"{', '.join(names)} ({where})"))
    req = d.client_cert_request
    if req is not None:
        rows.append(Text("the server asks for a client certificate:", style="bold"))
        for i, name in enumerate(req.ca_names or ("any CA (none named)",)):
            rows.append(field("issued by" if i == 0 else "", name))
        if req.signature_algorithms:
            rows.append(field("signed with", ", ".join(req.signature_algorithms)))
        if req.certificate_types:
            rows.append(field("key types", ", ".join(req.certificate_types)))
    return rows


def _reconnect(d) -> list[Text]:
    """--reconnect: what was offered, whether the server resumed, the times, the second trace."""
    rows = [field("offered", d.offered or "nothing (the server gave no ticket or session ID)")]
    if d.resumed is not None:
        rows.append(line(("resumed".ljust(14), "dim"), ("yes" if d.resumed else "NO: a full handshake again",
                                                       "green" if d.resumed else "bold yellow")))
    if d.ticket_lifetime_s is not None:
        rows.append(field("ticket lifetime", f"{d.ticket_lifetime_s} s ({d.tickets} ticket(s) received)"))
    if d.resumed_handshake_ms is not None and d.first_handshake_ms:
        pct = f", {d.faster_pct:.0f}% faster" if d.faster_pct is not None and d.faster_pct > 0 else ""
        rows.append(field("handshake", f"{d.resumed_handshake_ms:.1f} ms vs {d.first_handshake_ms:.1f} ms first{pct}"))
    if d.connect_ms is not None:
        rows.append(field("connect", f"{d.connect_ms:.1f} ms (the route again)"))
    if d.error:
        rows.append(field("error", d.error, "red"))
    if d.messages:
        rows.append(Text("handshake messages:", style="bold"))
        rows.extend(message_line(m.at_ms, m.direction, m.name, m.version, m.length) for m in d.messages)
    return rows


def _key_exchange(d: KeyExchangeDetail) -> list[Text]:
    """--groups/--pq: what tlsbench's own TLS 1.3 hello offered and what the server did with it."""
    rows = [field("offered", ", ".join(d.offered)), field("shares sent", ", ".join(d.shared) or "none"),
            field("hello", " then ".join(f"{n:,} bytes" for n in d.hello_bytes) or "not sent")]
    if d.hello_retry:
        rows.append(field("retry asked", d.hello_retry, "yellow"))
    if d.selected:
        proof = " (decrypted)" if d.decrypted else ""
        rows.append(field("selected", f"{d.selected}, {d.server_share_bytes or 0:,}-byte share{proof}"))
    if d.suite:
        rows.append(field("suite", d.suite))
    if d.signature:
        rows.append(field("signature", d.signature + (f": {d.signature_problem}" if d.signature_problem else
                                                      " (verified)")))
    if d.alert:
        rows.append(field("alert", d.alert, "red"))
    if d.reason:
        rows.append(field("ended", d.reason, "red"))
    return rows


def _revocation(d: RevocationDetail) -> list[Text]:
    """--check-revocation: the overall status, then each source's answer (the evidence)."""
    style = {"good": "green", "revoked": "bold red", "unknown": "yellow", "unreachable": "yellow"}.get(d.status, "")
    rows = [line(("status".ljust(14), "dim"), (d.status, style))]
    if d.leaf:
        rows.append(field("certificate", f"{d.leaf} (serial {d.serial})"))
    if d.issuer:
        rows.append(field("issuer", d.issuer))
    stapled = d.stapled
    if stapled is not None and stapled.status in ("none", "not asked", "unreachable"):
        rows.append(field("stapled", stapled.reason or stapled.status))
    for c in d.checks:
        rows.append(line((f"{c.method.upper():<14}", "bold"), (c.status, {"good": "green", "revoked": "bold red"}.get(
            c.status, "yellow")), ("  ", ""), (c.url, "dim")))
        if c.answer:
            rows.append(field("", c.answer))
        elif c.reason:
            rows.append(field("", c.reason))
    for url in d.not_checked:
        rows.append(field("not asked", url))
    return rows


def _chain(d: ChainDetail, nested: bool = False) -> list[Text]:
    verified = {True: ("verified", "green"), False: ("NOT verified", "red"), None: ("not checked", "yellow")}
    word, style = verified[d.verified]
    rows = [line(("chain".ljust(14), "dim"), (f"{len(d.certificates)} certificate(s), ", ""), (word, style)),
            field("trust", d.trust_source)]
    if d.verify_code is not None:
        rows.append(field("verify error", f"{d.verify_code}: {d.verify_message or ''}", "red"))
    if d.hostname is not None:
        match = {True: "matches", False: "does NOT match", None: "not checked"}[d.hostname_match]
        rows.append(field("hostname", f"{d.hostname} {match} the leaf", "red" if d.hostname_match is False else ""))
    if d.verified_path:
        anchor = d.verified_path[-1]
        rows.append(field("trust anchor", anchor.subject, "green"))
        rows.append(field("from", d.anchor_source or "the trust store"))
    if d.scts:
        rows.append(field("SCTs", f"{len(d.scts)} embedded (certificate transparency)"))
    if not nested:
        rows.append(Text("see the Certificate chain panel for each certificate", style="dim italic"))
        return rows
    for cert in d.certificates:  # a nested connection's chain (a DoH server's) has no panel of its own
        rows.append(field(f"#{cert.position}", f"{cert.subject}  [{cert.status or '?'}]"))
        rows.append(field("", f"issuer {cert.issuer}; {cert.not_before} .. {cert.not_after}"))
    return rows


def _frame_rows(frames) -> list[Text]:
    """HTTP/2 frames, each with its time and direction."""
    rows = []
    for f in frames:
        arrow, style = ("→ ", "bold cyan") if f.direction == "sent" else ("← ", "bold magenta")
        text = f"{f.type} stream {f.stream_id}" + (f" {f.flags}" if f.flags else "") + f" {f.length} B"
        rows.append(line((f"+{f.at_ms:.1f} ms".ljust(14), "dim"), (arrow, style),
                         (text + (f"  {f.note}" if f.note else ""), "")))
    return rows


def _doh(d: DohDetail) -> list[Text]:
    """The DNS queries over HTTP/2: each stream's answer (or why none), then every frame."""
    rows = [field("DoH server", d.url), field("protocol", d.protocol or "(none chosen)")]
    for q in d.queries:
        took = f"{q.ms:.1f} ms" if q.ms is not None else "-"
        head = f"stream {q.stream_id}: {q.query_bytes} B sent at +{q.sent_ms:.1f} ms"
        if q.error is None:
            rows.append(field("query", f"{head}; {q.status} {q.content_type}, {len(q.answer)} B in {took}"))
        else:
            rows.append(line(("query".ljust(14), "dim"), (f"{head}; ", ""), (f"{q.error} ({took})", "red")))
    if d.error:
        rows.append(field("error", d.error, "red"))
    if d.frames:
        rows.append(Text("HTTP/2 frames:", style="bold"))
        rows.extend(_frame_rows(d.frames))
    return rows


def _app(d: AppDetail, width: int) -> list[Text]:
    rows = [field("protocol", d.protocol)] if d.protocol in ("h2", "h3") else []
    if d.race is not None:
        rows.append(field("race", f"{d.race.winner} won: {d.race.reason}", "green" if d.race.winner != "none" else "red"))
        unseen = "not asked (the request went over QUIC)" if d.race.winner == "quic" else "absent"
        rows.append(field("alt-svc", d.race.alt_svc if d.race.alt_svc is not None else unseen))
    rows.append(line(("sent".ljust(14), "dim"), ("→ ", "bold cyan"), (d.request, "")))
    if d.status_line:
        rows.append(line(("reply".ljust(14), "dim"), ("← ", "bold magenta"), (d.status_line, "")))
    for name, value in d.headers:
        rows.append(line(("".ljust(14), "dim"), (f"{name}: {value}", "")))
    rows.extend(_frame_rows(d.frames))  # HTTP/2, each frame with its time
    if d.ttfb_ms is not None:
        rows.append(field("first byte", f"{d.ttfb_ms:.1f} ms after the request"))
    rows.append(field("received", f"{d.bytes_received} B"))
    rows.extend(first_bytes(d.first_bytes_hex, d.first_bytes_text, width))
    if d.error:
        rows.append(field("error", d.error, "red"))
    return rows


def _quic(d: QuicDetail, width: int) -> list[Text]:
    """The QUIC attempt: who, when each packet came, what the handshake chose, how it ended."""

    def at(ms: float | None) -> str:
        return f"+{ms:.3f} ms" if ms is not None else "-"

    rows = [field("peer", f"{d.peer_address} port {d.peer_port} (UDP, {d.attempt})")]
    if d.local_address:
        rows.append(field("local", f"{d.local_address} port {d.local_port}"))
    rows += [field("Initial sent", at(d.initial_sent_ms)), field("first packet", at(d.first_packet_ms)),
             field("handshake done", at(d.handshake_done_ms) + (f" ({d.handshake_ms:.1f} ms)" if d.handshake_ms
                                                                  is not None else ""))]
    rows.append(field("version", d.version or "-"))
    rows.append(field("ALPN", f"{d.alpn or '-'} (offered {', '.join(d.alpn_offered)})"))
    rows.append(field("datagrams", f"{d.datagrams_sent} sent ({d.bytes_sent} B), {d.datagrams_received} received "
                                   f"({d.bytes_received} B)"))
    if d.server_versions:
        rows.append(field("server versions", ", ".join(d.server_versions), "red"))
    if d.close_name:
        rows.append(field("closed", f"{d.close_name} by the {d.closed_by}", "red"))
        if d.close_reason:
            rows.append(field("reason", d.close_reason, "red"))
    if d.error:
        rows.append(field("error", f"{d.errno_name or ''} {d.error}".strip(), "red"))
    if d.tls is not None and (d.tls.version or d.tls.verify_code is not None):
        rows.append(Text("TLS 1.3 inside QUIC:", style="bold"))
        rows += _tls(d.tls, (), width)
    return rows


def _starttls(d: StarttlsDetail) -> list[Text]:
    """The STARTTLS exchange line by line, each with its time and direction, the server's words literal."""
    out: list[Text] = []
    for row in starttls_rows(d):
        if row.kind == "heading":
            out.append(Text(row.text, style="bold"))
        elif row.kind in ARROWS:
            arrow, style = ARROWS[row.kind]
            out.append(line((f"{row.label}  ", "dim"), (f"{arrow} ", f"bold {style}"), (row.text, style)))
        elif row.kind == "note":
            out.append(line(("note".ljust(14), "dim"), (row.text, "italic")))
        else:
            red = row.label == "error" or row.text in ("not offered", "refused")
            out.append(field(row.label, row.text, "red" if red else ""))
    return out


def detail_text(detail, messages=(), columns: int = 100, nested: bool = False) -> Text:
    """Render any stage detail; unknown or missing details give a short note.

    `columns` is the room available: hex dumps show 16 bytes a line when they fit, else 8. `nested`:
    a stage run inside another (a DoH server's connection), whose chain has no panel of its own.
    """
    width = 16 if columns >= 76 else 8
    if isinstance(detail, ResolveDetail):
        rows = _resolve(detail)
    elif isinstance(detail, TcpDetail):
        rows = _tcp(detail)
    elif isinstance(detail, ProxyDetail):
        rows = _proxy(detail)
    elif isinstance(detail, TlsDetail):
        rows = _tls(detail, messages, width)
    elif isinstance(detail, ChainDetail):
        rows = _chain(detail, nested)
    elif isinstance(detail, DohDetail):
        rows = _doh(detail)
    elif isinstance(detail, AppDetail):
        rows = _app(detail, width)
    elif isinstance(detail, StarttlsDetail):
        rows = _starttls(detail)
    elif isinstance(detail, QuicDetail):
        rows = _quic(detail, width)
    elif isinstance(detail, ReconnectDetail):
        rows = _reconnect(detail)
    elif isinstance(detail, RevocationDetail):
        rows = _revocation(detail)
    elif isinstance(detail, KeyExchangeDetail):
        rows = _key_exchange(detail)
    else:
        rows = [Text("no details recorded", style="dim")]
        if messages:
            rows.extend(message_line(m.at_ms, m.direction, m.name, m.version, m.length) for m in messages)
    return _join(rows)

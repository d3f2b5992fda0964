"""--http3's choice: QUIC or TCP+TLS carries the request, as a browser that knows the server offers HTTP/3
chooses; and what the TCP response's Alt-Svc header says about a QUIC attempt that failed.

The two attempts run one after the other (QUIC first), so that neither one's times hold the other's
work; they are then placed on one timeline the way browsers race them: QUIC starts at 0, TCP+TLS
`HEAD_START_MS` later, and the first handshake to end wins. A QUIC handshake whose certificate does
not verify, or that did not choose h3, is no connection; nor is a TCP+TLS one that failed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding, Origin
from tlsbench.engine.records.details import AppDetail, HttpsRecord, RaceDetail

if TYPE_CHECKING:
    from tlsbench.engine.stages.context import RunState
    from tlsbench.engine.stages.quic import QuicAttempt

HEAD_START_MS = 300.0  # QUIC's head start over TCP+TLS on the common timeline
_H3_ENTRY = re.compile(r'(?:^|[\s,])(h3(?:-\d+)?)="([^"]*)"')


def decide(quic: QuicAttempt, state: RunState) -> RaceDetail:
    q = quic.detail.handshake_ms if quic.ready else None
    tls = state.tls
    t = (state.tcp_connect_ms + tls.handshake_ms
         if tls is not None and tls.outcome.ok and tls.handshake_ms is not None and state.tcp_connect_ms is not None
         and tls.chain_verified is not False else None)
    if q is not None and (t is None or q <= HEAD_START_MS + t):
        winner = "quic"
        reason = (f"QUIC's handshake ended at {q:.1f} ms, TCP+TLS's at {HEAD_START_MS + t:.1f} ms "
                  f"({HEAD_START_MS:g} ms head start + {t:.1f} ms)" if t is not None else "only QUIC connected")
    elif t is not None:
        winner = "tcp"
        reason = (f"TCP+TLS's handshake ended at {HEAD_START_MS + t:.1f} ms, QUIC's at {q:.1f} ms" if q is not None
                  else f"QUIC did not connect ({quic.result_words()})")
    else:
        winner, reason = "none", "neither attempt connected"
    return RaceDetail(winner, HEAD_START_MS, quic.detail.handshake_ms, t, quic.result_words(), None, reason)


def alt_svc(detail: object) -> str | None:
    """The Alt-Svc header of the TCP response: from HTTP/2's fields or HTTP/1.1's header lines."""
    if not isinstance(detail, AppDetail):
        return None
    for name, value in detail.headers:
        if name.lower() == "alt-svc":
            return value
    head = (detail.first_bytes_text or "").split("\r\n\r\n", 1)[0]
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "alt-svc":
            return value.strip()
    return None


def advertised(value: str | None) -> list[tuple[str, str]]:
    """The h3 entries of an Alt-Svc value: [("h3", ":443"), ...]."""
    return [(m.group(1), m.group(2)) for m in _H3_ENTRY.finditer(value or "")]


def dns_h3(record: HttpsRecord | None) -> str | None:
    """What the name's HTTPS DNS record says of HTTP/3, in words, when it lists h3; else None."""
    if record is None or not any(a == "h3" or a.startswith("h3-") for a in record.alpn):
        return None
    port = f", port {record.port}" if record.port is not None else ""
    return f"alpn {','.join(record.alpn)}{port} (the HTTPS record of {record.name})"


def alt_svc_findings(quic: QuicAttempt, value: str | None, port: int,
                     record: HttpsRecord | None = None) -> list[Finding]:
    """What the TCP response advertised (and the name's HTTPS DNS record, when tlsbench's own queries
    saw one), weighed against a QUIC attempt that did not connect."""
    if quic.ready:
        return []
    entries = advertised(value)
    result = quic.result_words()
    in_dns = dns_h3(record)
    if not entries and in_dns is None:
        return [finding("http3-not-advertised", "The server does not advertise HTTP/3 (no Alt-Svc h3 over TCP)",
                        "The HTTPS response over TCP carries " + (f"Alt-Svc {value!r} with no h3 entry"
                                                                  if value else "no Alt-Svc header")
                        + (", and no HTTPS DNS record lists h3" if record is not None else "")
                        + f": the server does not offer HTTP/3 here, so a browser would not try QUIC and the QUIC "
                        f"attempt's failure ({result}) is what a server without HTTP/3 gives.",
                        "", (Evidence("Alt-Svc", value if value is not None else "absent"),
                             Evidence("QUIC attempt", result)))]
    if not entries:
        assert in_dns is not None
        words = (f"The name's HTTPS DNS record advertises HTTP/3 ({in_dns}), the response over TCP carries "
                 + (f"Alt-Svc {value!r} with no h3 entry" if value else "no Alt-Svc header")
                 + f", and the QUIC attempt to port {port} failed ({result}). Browsers that read the HTTPS record "
                 "try QUIC first and fall back to TCP silently, after a delay.")
        origin_dns: Origin = "network" if quic.failure is not None and quic.failure.kind == "no-answer" else "peer"
        return [finding("http3-advertised-but-failed", "The HTTPS DNS record advertises h3, and QUIC failed", words,
                        "", (Evidence("HTTPS record", in_dns), Evidence("Alt-Svc", value or "absent"),
                             Evidence("QUIC attempt", result)), origin=origin_dns)]
    ports = ", ".join(f'{proto}="{where}"' for proto, where in entries)
    other = [where for _, where in entries if where.rpartition(":")[2] not in ("", str(port))]
    words = (f"The HTTPS response over TCP advertises HTTP/3 ({ports}) and the QUIC attempt to port {port} failed "
             f"({result}).")
    if other:
        words += f" It names another port ({', '.join(other)}): HTTP/3 is served there, not on {port}."
    elif quic.failure is not None and quic.failure.kind in ("no-answer", "icmp"):
        words += (" UDP is blocked on the way, or the server's QUIC listener is down while its Alt-Svc still "
                  "advertises it: browsers fall back to TCP silently, after a delay.")
    if in_dns is not None:
        words += f" The name's HTTPS DNS record advertises it too ({in_dns})."
    origin: Origin = "network" if quic.failure is not None and quic.failure.kind == "no-answer" and not other else "peer"
    evidence: tuple[Evidence, ...] = (Evidence("Alt-Svc", value or ""), Evidence("QUIC attempt", result))
    if in_dns is not None:
        evidence += (Evidence("HTTPS record", in_dns),)
    return [finding("http3-advertised-but-failed", f"Alt-Svc advertises {ports}, and QUIC failed", words,
                    "", evidence, origin=origin)]

"""How `tlsbench probe` shows a run: a live waterfall for people, one JSON object for scripts.

Everything that came from the network passes through `visible()` before it is printed. Colour
is plain ANSI, only on a terminal and only when NO_COLOR is unset (https://no-color.org).
"""

from __future__ import annotations

import json
import os
from typing import TextIO

from tlsbench.engine.events import Event, RunFinished, StageFinished, StageSkipped
from tlsbench.engine.result import ProbeResult, StageRecord
from tlsbench.engine.spec import format_hostport
from tlsbench.engine.visible import visible

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


class Waterfall:
    """Consumes engine events and prints one line per stage as it finishes, then the summary."""

    def __init__(self, stream: TextIO, *, colour: bool) -> None:
        self.out = stream
        self.colour = colour
        utf = (getattr(stream, "encoding", "") or "").lower().replace("-", "") in ("utf8",)
        self.marks = {"ok": "✓", "failed": "✗", "skipped": "·"} if utf else \
            {"ok": "ok", "failed": "FAIL", "skipped": "-"}

    def paint(self, text: str, colour: str) -> str:
        if not self.colour:
            return text
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"

    def emit(self, line: str = "") -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageFinished):
            self.stage_line(event.record)
        elif isinstance(event, StageSkipped):
            mark = self.marks["skipped"]
            self.emit(self.paint(f"  {mark:<4} {stage_name(event.stage):<9} {'':>10}  {one_line(event.reason)}", "dim"))
        elif isinstance(event, RunFinished):
            self.summary(event.result)

    def stage_line(self, record: StageRecord) -> None:
        mark = self.marks.get(record.status, "?")
        colour = "green" if record.status == "ok" else "red"
        duration = f"{record.duration_ms:8.1f} ms"
        self.emit(f"  {self.paint(f'{mark:<4}', colour)} {stage_name(record.id):<9} {duration}  "
                  f"{one_line(record.summary)}")

    # --- after the run ---------------------------------------------------------------------------

    def summary(self, result: ProbeResult) -> None:
        lines = summary_lines(result)
        if lines:
            self.emit()
        for line in lines:
            label, _, rest = line.partition(" ")
            self.emit(f"{self.paint(label, 'bold')} {rest}")
        if result.findings:
            self.emit()
        for finding in result.findings:
            sev = self.paint(f"{finding.severity:<7}", SEVERITY_COLOUR.get(finding.severity, "bold"))
            self.emit(f"{sev} {finding.code}: {one_line(finding.title)}")
            self.emit(f"        {one_line(finding.explanation)}")
            if finding.suggestion:
                self.emit(f"        -> {one_line(finding.suggestion)}")
            for ev in finding.evidence:
                self.emit(self.paint(f"        {one_line(ev.label)}: {one_line(ev.value)}", "dim"))
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
    sock = result.socket
    if sock.local_address is not None:
        rtt = f", rtt {sock.tcp_info.rtt_ms:.3f} ms" if sock.tcp_info else ""
        via = " (the proxy)" if sock.via_proxy else ""
        peer = format_hostport(sock.peer_address or "?", sock.peer_port or 0)
        lines.append(f"socket  {format_hostport(sock.local_address, sock.local_port or 0)} -> {peer}{via}, "
                     f"{sock.family}{rtt}; ephemeral port {sock.local_port}"
                     + (f" of {sock.ephemeral_range[0]}-{sock.ephemeral_range[1]}" if sock.ephemeral_range else ""))
    tls = result.tls
    if tls is not None and tls.version:
        sni = f"SNI {one_line(tls.sni)}" if tls.sni_sent else "no SNI sent"
        alpn = f", ALPN {one_line(tls.alpn)}" if tls.alpn else ""
        lines.append(f"tls     {tls.version}, {one_line(tls.cipher)}{alpn}, {sni}")
    app = result.stage("app")
    detail = getattr(app, "detail", None)
    answer = getattr(detail, "first_bytes_text", None)
    if answer:
        shown = one_line(answer)
        lines.append(f"answer  {shown[:ANSWER_CHARS]}{' ...' if len(shown) > ANSWER_CHARS else ''}")
    return lines


def write_json(result: ProbeResult, stream: TextIO) -> None:
    """The whole result as one JSON object (the `--json` contract, see README)."""
    json.dump(result.to_json_dict(), stream, indent=2, ensure_ascii=True, default=str)
    stream.write("\n")
    stream.flush()

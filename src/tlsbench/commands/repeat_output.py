"""How `probe --count` shows a series: a line per run, a progress line, the summary in words.

The summary text is drawn from the same summary object `--json` prints, so the two never
disagree. Everything that came from the network (certificate subjects, finding texts that quote
the peer) passes through `one_line()`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence, TextIO

from tlsbench.commands.probe_output import SEVERITY_COLOUR, one_line
from tlsbench.engine.series.stats import RunDigest

if TYPE_CHECKING:
    from tlsbench.engine.series.changes import RunChange

PROGRESS_EVERY = 0.2  # seconds between redraws of the progress line


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _seconds(s: float) -> str:
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class StatusLine:
    """One line of a terminal (stderr) redrawn in place, and cleared before other lines are written."""

    def __init__(self, stream: TextIO) -> None:
        self.out = stream
        self.shown = False

    def show(self, text: str) -> None:
        self.out.write(f"\r\x1b[K{text}")
        self.out.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self.shown = False


class Progress(StatusLine):
    """done/total, rate and ETA on one line of a terminal (stderr), redrawn in place."""

    def __init__(self, stream: TextIO, total: int) -> None:
        super().__init__(stream)
        self.total = total
        self.last = 0.0

    def draw(self, done: int, elapsed: float, failed: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {_seconds((self.total - done) / rate)}" if rate > 0 and done < self.total else "ETA -"
        fails = f"  {failed} failed" if failed else ""
        self.show(f"  {done}/{self.total} runs  {rate:.1f}/s  {eta}{fails}")


def run_line(d: RunDigest, width: int) -> str:
    """One run as a line: number, verdict, time, local port, leaf fingerprint or the first finding."""
    verdict = "cancelled" if d.cancelled else ("ok" if d.ok else "failed")
    parts = [f"#{d.run:<{width}}", f"{verdict:<6} {d.total_ms:8.2f} ms"]
    parts.append(f"port {d.local_port}" if d.local_port is not None else "port -    ")
    if not d.ok and d.findings:
        code, _severity, title = d.findings[0][:3]
        parts.append(f"{code}: {one_line(title)}")
    elif d.leaf is not None:
        parts.append(f"leaf {d.leaf[0][:23]}")
    return "  ".join(parts)


def summary_text(doc: dict) -> list[str]:
    """The summary object in words, one string per line."""
    lines = []
    runs, count = doc["runs"], doc["count"]
    rate = f"{doc['rate_per_s']:.1f} runs/s" if doc.get("rate_per_s") else "-"
    head = f"{runs} run(s) in {doc['elapsed_s']:.2f} s ({rate}, concurrency {doc['concurrency']}"
    head += f", interval {doc['interval_s']:g} s)" if doc["interval_s"] else ")"
    head += f": {doc['succeeded']} ok, {doc['failed']} failed"
    if doc["success_rate"] is not None:
        head += f" ({doc['success_rate'] * 100:.1f}% succeeded)"
    lines.append(head)
    if doc["interrupted"]:
        lines.append(f"interrupted: {runs} of {count} runs ended, {doc['cancelled']} cancelled in flight, "
                     f"{doc['not_started']} not started")
    if doc["stages"]:
        lines += ["", _stage_header()]
        for stage in doc["stages"]:
            lines += _stage_rows(stage)
        if doc["total_ms"]:
            lines.append(_row("whole run", "", "", doc["total_ms"]))
    findings = doc["findings"]
    if findings:
        lines += ["", "findings (runs that had each)"]
        for f in findings:
            where = f"run #{f['first_run']}" if f["runs"] == 1 else f"runs #{f['first_run']}..#{f['last_run']}"
            lines.append(f"  {f['runs']:>6} of {runs}  {f['severity']:<7} {f['code']}: {one_line(f['title'])} "
                         f"({where})")
    lines += [""] + _port_lines(doc["ports"]) + _cert_lines(doc["certificates"])
    return lines


_COLS = ("stage", "ok", "failed", "min", "median", "p95", "max", "spread")


def _stage_header() -> str:
    return (f"{_COLS[0]:<11} {_COLS[1]:>6} {_COLS[2]:>6}  {_COLS[3]:>8} {_COLS[4]:>8} {_COLS[5]:>8} {_COLS[6]:>8}"
            f"  {_COLS[7]} (ms)")


def _row(label: str, ok: object, failed: object, dist: dict) -> str:
    return (f"{label:<11} {ok!s:>6} {failed!s:>6}  {_ms(dist['min']):>8} {_ms(dist['median']):>8} "
            f"{_ms(dist['p95']):>8} {_ms(dist['max']):>8}  ±{_ms(dist['stdev'])}")


def _stage_rows(stage: dict) -> list[str]:
    key = one_line(stage["key"])
    if stage["ok"] + stage["failed"] == 0:
        return [f"{key:<11} {'-':>6} {'-':>6}  not run (skipped in {stage['skipped']} run(s))"]
    rows = []
    ok_dist, failed_dist = stage["duration_ms"], stage["failed_duration_ms"]
    if ok_dist:
        rows.append(_row(key, stage["ok"], stage["failed"], ok_dist))
    if failed_dist:
        rows.append(_row(key if not ok_dist else "  failed", "" if ok_dist else stage["ok"],
                         "" if ok_dist else stage["failed"], failed_dist)
                    + ("  (failed runs)" if not ok_dist else ""))
    return rows


def _port_lines(ports: dict) -> list[str]:
    if not ports["runs"]:
        return ["ports   no run got a local port"]
    rng = ports["ephemeral_range"]
    line = (f"ports   {ports['runs']} run(s): lowest {ports['lowest']}, highest {ports['highest']}, "
            f"{ports['distinct']} distinct")
    if rng:
        inside = "all inside" if not ports["outside_range"] else f"{ports['outside_range']} run(s) outside"
        line += f"; OS ephemeral range {rng[0]}-{rng[1]} ({ports['range_size']} ports), {inside}"
    lines = [line]
    reuse = ports["first_reuse"]
    if reuse is None:
        lines.append("        no port was used twice")
    else:
        most = ", ".join(f"{p['port']} x{p['runs']}" for p in ports["most_reused"])
        lines.append(f"        {ports['reused_ports']} port(s) used more than once ({ports['runs_on_a_reused_port']} "
                     f"run(s)); first at run #{reuse['run']} (port {reuse['port']}); most: {most}")
    return lines


def _cert_lines(certs: dict) -> list[str]:
    leaves = certs["leaves"]
    if not leaves:
        return ["certs   no run got a certificate"]
    lines = [f"certs   {certs['distinct']} distinct leaf certificate(s)"]
    for c in leaves:
        lines.append(f"  {c['runs']:>6} run(s)  {c['sha256']}")
        lines.append(f"          {one_line(c['subject'])} (issuer {one_line(c['issuer'])})")
    return lines


def finding_lines(finding: dict) -> list[tuple[str, str]]:
    """(text, colour) lines for a series finding, like the single-run findings."""
    out = [(f"{finding['severity']:<7} {finding['code']}: {one_line(finding['title'])}",
            SEVERITY_COLOUR.get(finding["severity"], "bold")),
           (f"        {one_line(finding['explanation'])}", ""),
           (f"        -> {one_line(finding['suggestion'])}", "")]
    for ev in finding["evidence"]:
        out.append((f"        {one_line(ev['label'])}: {one_line(ev['value'])}", "dim"))
    return out


# --- probe --watch ----------------------------------------------------------------------------------

def watch_header(target: str, seconds: float, count: int | None) -> str:
    runs = f"{count} run(s)" if count is not None else "until Ctrl-C"
    return f"tlsbench probe {one_line(target)}: watching every {seconds:g} s, {runs}; only changes are shown"


def _plain(text: str, out: TextIO | None) -> str:
    """The arrows and signs of the change words, or ASCII ones for a stream that cannot encode them."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        return text.replace("→", "->").replace("×", "x").replace("…", "...")


def watch_line(d: RunDigest, changes: Sequence[RunChange], width: int, *, first: bool,
               out: TextIO | None = None) -> str:
    """The first run in full (verdict, address, leaf, findings, total), or a run's changes in words."""
    from tlsbench.engine.series.changes import verdict_of, words

    stamp = time.strftime("%H:%M:%S")
    head = f"#{d.run:<{width}}  {stamp}"
    if first:
        leaf = f"leaf {d.leaf[0][:23]}" if d.leaf is not None else "leaf -"
        codes = ", ".join(f[0] for f in d.findings) or "none"
        text = (f"{head}  {verdict_of(d)}  address {d.peer_address or '-'}  {leaf}  findings: {codes}  "
                f"{d.total_ms:.2f} ms")
    else:
        verdict = "ok" if d.ok else "failed"
        text = f"{head}  {verdict:<6}  " + "; ".join(words(c) for c in changes) + f"  ({d.total_ms:.2f} ms)"
    return _plain(one_line(text), out)


class WatchStatus(StatusLine):
    """The live line of a watch on a terminal (stderr): runs so far, how many changed, the last one."""

    def __init__(self, stream: TextIO, out: TextIO | None = None) -> None:
        super().__init__(stream)
        self.lines = out  # where the change lines go: the status is cleared before each
        self.drawn = 0.0
        self.last: RunDigest | None = None

    def draw(self, runs: int, changed: int) -> None:
        now = time.monotonic()
        if now - self.drawn < PROGRESS_EVERY:
            return
        self.drawn = now
        last = ""
        if self.last is not None:
            verdict = "ok" if self.last.ok else "failed"
            last = f"; last #{self.last.run} {verdict} {self.last.total_ms:.2f} ms"
        self.show(f"  watching: {runs} run(s), {changed} with changes{last}  (Ctrl-C stops)")

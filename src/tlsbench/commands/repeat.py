"""`tlsbench probe HOST:PORT --count N [--interval S] [--concurrency C] [--json | --json-lines]`.

The same connection N times, with statistics per stage, findings counted, local ports and leaf
certificates seen (engine/stats.py), run by worker processes (engine/batch.py). Output: a line
per run then the summary in words; `--json` one summary object; `--json-lines` each run's whole
object as it ends, then the summary object as the last line. Ctrl-C cancels the runs in flight
and still prints the summary (marked interrupted, exit 130); a second Ctrl-C kills the workers.

Exit codes: 0 every run completed, 1 a run failed (or a worker did), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import NamedTuple, TextIO

from tlsbench.commands.arguments import UsageError
from tlsbench.engine.spec import ConnectionSpec

SCHEMA = "tlsbench.repeat/1"
MAX_CONCURRENCY = 1024
MAX_INTERVAL = 86400.0
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class RepeatOptions(NamedTuple):
    count: int  # type: ignore[assignment]  # hides tuple.count, as a NamedTuple field may
    interval: float
    concurrency: int
    output: str  # text | json | json-lines


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("repeated runs")
    group.add_argument("--count", metavar="N", help="run the connection N times and report statistics")
    group.add_argument("--interval", metavar="SECONDS", help="with --count: wait this long between starts")
    group.add_argument("--concurrency", metavar="C", help="with --count: C runs at once (default 1)")
    group.add_argument("--json-lines", action="store_true",
                       help="with --count: each run's JSON object as it ends, then the summary object")


def wanted(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) not in (None, False) for name in ("count", "interval", "concurrency",
                                                                            "json_lines"))


def options(args: argparse.Namespace) -> RepeatOptions:
    """Check the repeat options; raises UsageError (one line) for a bad value or combination."""
    if args.count is None:
        given = next(f"--{n.replace('_', '-')}" for n in ("interval", "concurrency", "json_lines")
                     if getattr(args, n) not in (None, False))
        raise UsageError(f"{given} needs --count N")
    count = _whole(args.count, "--count", 1, None)
    concurrency = 1 if args.concurrency is None else _whole(args.concurrency, "--concurrency", 1, MAX_CONCURRENCY)
    interval = 0.0
    if args.interval is not None:
        try:
            interval = float(args.interval)
        except ValueError:
            raise UsageError(f"--interval expects seconds (e.g. 0.5), not {args.interval!r}") from None
        if not math.isfinite(interval) or interval < 0 or interval > MAX_INTERVAL:
            raise UsageError(f"--interval must be between 0 and {MAX_INTERVAL:g} seconds, not {args.interval}")
    if args.json and args.json_lines:
        raise UsageError("--json and --json-lines both choose the output; give one")
    output = "json" if args.json else ("json-lines" if args.json_lines else "text")
    return RepeatOptions(count, interval, concurrency, output)


def _whole(text: str, option: str, low: int, high: int | None) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise UsageError(f"{option} expects a whole number, not {text!r}") from None
    if value < low or (high is not None and value > high):
        limit = f"at least {low}" if high is None else f"between {low} and {high}"
        raise UsageError(f"{option} must be {limit}, not {value}")
    return value


# --- the series -----------------------------------------------------------------------------------

def run_repeat(spec: ConnectionSpec, opts: RepeatOptions, *, out: TextIO | None = None,
               err: TextIO | None = None, prog: str = "tlsbench probe") -> int:
    import signal

    from tlsbench.commands.probe_output import want_colour
    from tlsbench.commands.repeat_output import Progress, run_line
    from tlsbench.engine.batch import Batch
    from tlsbench.engine.stats import SeriesStats

    out = out or sys.stdout
    err = err or sys.stderr
    stats = SeriesStats()
    batch = Batch(spec, count=opts.count, concurrency=opts.concurrency, interval=opts.interval,
                  json_lines=opts.output == "json-lines")
    isatty = getattr(err, "isatty", None)
    progress = Progress(err, opts.count) if isatty and isatty() else None
    width = len(str(opts.count))
    if opts.output == "text":
        out.write(f"tlsbench probe {spec.target}: {opts.count} run(s), concurrency {batch.concurrency}"
                  + (f", interval {opts.interval:g} s" if opts.interval else "") + "\n")
        out.flush()

    def on_digest(d) -> None:
        stats.add(d)
        if d.line is not None:
            out.write(d.line + "\n")
            out.flush()
        elif opts.output == "text":
            if progress is not None:
                progress.clear()
            out.write(run_line(d, width) + "\n")
            out.flush()

    def on_tick() -> None:
        if progress is not None:
            progress.draw(batch.received, batch.elapsed, stats.failed)

    presses = 0

    def on_interrupt(signum, frame) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            batch.stop()
        else:
            batch.kill()

    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, on_interrupt)
        installed = True
    except ValueError:  # not the main thread: Ctrl-C stays with whoever handles it there
        installed = False
    try:
        batch.run(on_digest, on_tick)
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        if progress is not None:
            progress.clear()
    interrupted = presses > 0
    doc = summary_document(spec, opts, stats, batch, interrupted)
    write_summary(doc, opts.output, out, colour=opts.output == "text" and want_colour(out))
    for message in batch.errors:
        print(f"{prog}: error: {' '.join(message.split())}", file=err)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if stats.failed or batch.errors or stats.runs < opts.count else EXIT_OK


def summary_document(spec: ConnectionSpec, opts: RepeatOptions, stats, batch, interrupted: bool) -> dict:
    """The summary object of `--json` / the last line of `--json-lines` (see README, schema SCHEMA)."""
    from tlsbench.engine.runner import spec_summary

    body = stats.summary()
    elapsed = batch.elapsed
    doc = {
        "schema": SCHEMA,
        "ok": body["runs"] > 0 and body["failed"] == 0,
        "target": spec.target,
        "options": spec_summary(spec),
        "count": opts.count,
        "concurrency": batch.concurrency,
        "interval_s": opts.interval,
        "processes": batch.processes if batch.fork else 0,
        "interrupted": interrupted,
        "not_started": opts.count - body["runs"] - body["cancelled"],
        "elapsed_s": round(elapsed, 3),
        "rate_per_s": round(body["runs"] / elapsed, 1) if elapsed > 0 else None,
    }
    doc.update(body)
    doc["series_findings"] = [f.to_dict() for f in stats.series_findings(spec.target)]
    return doc


def write_summary(doc: dict, output: str, out: TextIO, *, colour: bool = False) -> None:
    import json

    if output == "json":
        json.dump(doc, out, indent=2, ensure_ascii=True, default=str)
        out.write("\n")
    elif output == "json-lines":
        out.write(json.dumps(doc, ensure_ascii=True, separators=(",", ":"), default=str) + "\n")
    else:
        from tlsbench.commands.probe_output import _CODES, one_line
        from tlsbench.commands.repeat_output import finding_lines, summary_text

        def paint(text: str, name: str) -> str:
            return f"\x1b[{_CODES[name]}m{text}\x1b[0m" if colour and name else text

        out.write("\n" + "\n".join(summary_text(doc)) + "\n")
        for finding in doc["series_findings"]:
            out.write("\n")
            for text, name in finding_lines(finding):
                out.write(paint(text, name) + "\n")
        if doc["interrupted"]:
            verdict, name = "interrupted", "yellow"
        else:
            verdict, name = ("ok", "green") if doc["ok"] else ("failed", "red")
        out.write(f"\n{paint(verdict, name)} {one_line(doc['target'])}: {doc['succeeded']} of {doc['count']} run(s) "
                  "succeeded\n")
    out.flush()


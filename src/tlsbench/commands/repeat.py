"""`tlsbench probe HOST:PORT --count N [--interval S] [--concurrency C] [--json | --json-lines]`.

The same connection N times, with statistics per stage, findings counted, local ports and leaf
certificates seen (engine/series/stats.py), run by worker processes (engine/series/batch.py). Output: a line
per run then the summary in words; `--json` one summary object; `--json-lines` each run's whole
object as it ends, then the summary object as the last line. Ctrl-C cancels the runs in flight
and still prints the summary (marked interrupted, exit 130); a second Ctrl-C kills the workers.

`--watch SECONDS` is the same series, one run at a time, SECONDS between starts, until Ctrl-C (or
`--count N` runs): it prints the first run as one line, then only the runs that changed something
(engine/series/changes.py), and with `--json-lines` adds each run's `"changes"` to its object.

Exit codes: 0 every run completed, 1 a run failed (or a worker did), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, NamedTuple, TextIO

from tlsbench.commands.arguments import UsageError
from tlsbench.commands.whole_lines import write_line
from tlsbench.engine.spec import ConnectionSpec

if TYPE_CHECKING:
    from tlsbench.engine.series.batch import Batch
    from tlsbench.engine.series.stats import SeriesStats

SCHEMA = "tlsbench.repeat/1"
MAX_CONCURRENCY = 1024
MAX_INTERVAL = 86400.0
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
UNBOUNDED = 2**32 - 1  # --watch without --count: runs until stopped (run numbers are 32-bit on the pipe)


class RepeatOptions(NamedTuple):
    count: int  # type: ignore[assignment]  # hides tuple.count, as a NamedTuple field may
    interval: float
    concurrency: int
    output: str  # text | json | json-lines
    watch: bool = False  # --watch: interval is its SECONDS, concurrency 1, changes shown
    unbounded: bool = False  # --watch without --count: count is UNBOUNDED, the real one is what ran


def wanted(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) not in (None, False) for name in ("count", "interval", "concurrency",
                                                                            "json_lines", "watch"))


def options(args: argparse.Namespace) -> RepeatOptions:
    """Check the repeat options; raises UsageError (one line) for a bad value or combination."""
    if getattr(args, "watch", None) is not None:
        return _watch_options(args)
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


def _watch_options(args: argparse.Namespace) -> RepeatOptions:
    try:
        seconds = float(args.watch)
    except ValueError:
        raise UsageError(f"--watch expects seconds between runs (e.g. 2), not {args.watch!r}") from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_INTERVAL:
        raise UsageError(f"--watch must be more than 0 and at most {MAX_INTERVAL:g} seconds, not {args.watch}")
    if args.interval is not None:
        raise UsageError("--watch SECONDS is already the interval between runs; drop --interval")
    if args.concurrency is not None and _whole(args.concurrency, "--concurrency", 1, MAX_CONCURRENCY) > 1:
        raise UsageError("--watch compares each run with the one before, so it runs one at a time; "
                         "drop --concurrency")
    if args.json:
        raise UsageError("--watch shows changes as they happen: use --json-lines (each run, then the summary)")
    for flag, name in (("--diagnose", "diagnose"), ("--enumerate", "enumerate")):
        if getattr(args, name, None):
            raise UsageError(f"--watch cannot be used with {flag}")
    count = UNBOUNDED if args.count is None else _whole(args.count, "--count", 1, None)
    return RepeatOptions(count, seconds, 1, "json-lines" if args.json_lines else "text", watch=True,
                         unbounded=args.count is None)


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
               err: TextIO | None = None, prog: str = "tlsbench probe", history: str | None = None) -> int:
    """Run the series; `history` names the profile whose history keeps its last runs."""
    import signal

    from tlsbench.commands.probe_output import want_colour
    from tlsbench.commands.repeat_output import Progress, WatchStatus, run_line, watch_header, watch_line
    from tlsbench.engine.series.batch import Batch
    from tlsbench.engine.series.changes import Watch, medians
    from tlsbench.engine.series.stats import RunDigest, SeriesStats

    out = out or sys.stdout
    err = err or sys.stderr
    stats = SeriesStats()
    recorder = None
    if history:
        from tlsbench.history.recording import SeriesRecorder

        recorder = SeriesRecorder(history, spec)
    keeping = recorder is not None and recorder.wanted
    json_out = opts.output == "json-lines"
    batch = Batch(spec, count=opts.count, concurrency=opts.concurrency, interval=opts.interval,
                  json_lines=json_out or keeping)
    isatty = getattr(err, "isatty", None)
    on_terminal = bool(isatty and isatty())
    progress = Progress(err, opts.count) if on_terminal and not opts.watch else None
    watch = Watch() if opts.watch else None
    status = WatchStatus(err, out) if on_terminal and watch is not None else None
    width = len(str(opts.count)) if not opts.unbounded else 5
    if opts.output == "text" and watch is not None:
        out.write(watch_header(spec.target, opts.interval, None if opts.unbounded else opts.count) + "\n")
        out.flush()
    elif opts.output == "text":
        out.write(f"tlsbench probe {spec.target}: {opts.count} run(s), concurrency {batch.concurrency}"
                  + (f", interval {opts.interval:g} s" if opts.interval else "") + "\n")
        out.flush()

    def on_digest(d: RunDigest) -> None:
        if watch is not None:
            on_watched(d)
            return
        stats.add(d)
        keep(d)
        if json_out and d.line is not None:
            write_line(out, d.line)
        elif opts.output == "text":
            if progress is not None:
                progress.clear()
            write_line(out, run_line(d, width))

    changed_runs = 0

    def keep(d: RunDigest) -> None:
        if keeping and recorder is not None and d.line is not None and not d.cancelled:
            recorder.add(d.line)

    def on_watched(d: RunDigest) -> None:
        nonlocal changed_runs
        assert watch is not None
        first = watch.previous is None and not d.cancelled
        changes = watch.see(d, medians(stats))
        stats.add(d)
        keep(d)
        if changes:
            changed_runs += 1
        if json_out and d.line is not None:
            write_line(out, with_changes(d.line, [c.to_dict() for c in changes]))
        elif opts.output == "text" and (first or changes):
            if status is not None:
                status.clear()
            write_line(out, watch_line(d, changes, width, first=first, out=out))
        if status is not None and not d.cancelled:
            status.last = d

    def on_tick() -> None:
        if progress is not None:
            progress.draw(batch.received, batch.elapsed, stats.failed)
        if status is not None:
            status.draw(stats.runs, changed_runs)

    presses = 0

    def on_interrupt(signum: int, frame: object) -> None:
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
        try:
            batch.run(on_digest, on_tick)
        finally:
            if progress is not None:
                progress.clear()
            if status is not None:
                status.clear()
        interrupted = presses > 0
        doc = summary_document(spec, opts, stats, batch, interrupted, changed_runs)
        # Still under our handler: another Ctrl-C now is one more press, not a traceback mid-summary.
        write_summary(doc, opts.output, out, colour=opts.output == "text" and want_colour(out))
        from tlsbench.engine.records.redact import Redactor

        mask = Redactor.of(spec)
        for message in batch.errors:  # a worker's own words: masked like its runs
            print(f"{prog}: error: {mask.redact_text(' '.join(message.split()))}", file=err)
        problem = recorder.write() if recorder is not None else None
        if problem:
            print(f"{prog}: {problem}", file=err)
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if stats.failed or batch.errors or stats.runs < opts.count else EXIT_OK


def with_changes(line: str, changes: list[dict]) -> str:
    """A run's one-line JSON object with `"changes"` added last (the object is made in the worker)."""
    from tlsbench.engine.records import jsonout

    return line[:-1] + ',"changes":' + jsonout.dumps(changes, ensure_ascii=True, separators=(",", ":")) + "}"


def summary_document(spec: ConnectionSpec, opts: RepeatOptions, stats: SeriesStats, batch: Batch,
                     interrupted: bool, changed_runs: int = 0) -> dict:
    """The summary object of `--json` / the last line of `--json-lines` (docs/json.md, schema SCHEMA)."""
    from tlsbench.engine.runner import spec_summary

    body = stats.summary()
    elapsed = batch.elapsed
    # --watch without --count: the count is what was started, and nothing was left unstarted
    count = body["runs"] + body["cancelled"] if opts.unbounded else opts.count
    doc = {
        "schema": SCHEMA,
        "ok": body["runs"] > 0 and body["failed"] == 0,
        "target": spec.target,
        "options": spec_summary(spec),
        "count": count,
        "concurrency": batch.concurrency,
        "interval_s": opts.interval,
        "processes": batch.processes if batch.fork else 0,
        "interrupted": interrupted,
        "not_started": count - body["runs"] - body["cancelled"],
        "elapsed_s": round(elapsed, 3),
        "rate_per_s": round(body["runs"] / elapsed, 1) if elapsed > 0 else None,
    }
    doc.update(body)
    if opts.watch:
        doc["watch_s"] = opts.interval
        doc["changed_runs"] = changed_runs
    doc["series_findings"] = [f.to_dict() for f in stats.series_findings(spec.target)]
    return doc


def write_summary(doc: dict, output: str, out: TextIO, *, colour: bool = False) -> None:
    from tlsbench.engine.records import jsonout

    if output == "json":
        write_line(out, jsonout.dumps(doc, indent=2, ensure_ascii=True, default=str))
    elif output == "json-lines":
        write_line(out, jsonout.dumps(doc, ensure_ascii=True, separators=(",", ":"), default=str))
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


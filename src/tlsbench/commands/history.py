"""`tlsbench history [PROFILE] [--limit N] [--json] [--compare A B]`: the runs kept for a profile.

Without a profile: the profiles that have a history, with their run counts. With one: its runs,
newest first (#1 = the newest), one line each. `--compare A B` puts two of them side by side.
Exit codes: 0 ok; 2 bad input (unknown profile, a run number that is not listed, a file refused).
"""

from __future__ import annotations

import sys
from typing import Any

from tlsbench.commands.arguments import QuietParser, UsageError, fail_usage
from tlsbench.engine.records import jsonout
from tlsbench.visible import visible

PROG = "tlsbench history"
EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> QuietParser:
    parser = QuietParser(prog=PROG, description="The runs kept for each profile (JSON lines under the data "
                                                "directory; settings.toml [history] says how many).")
    parser.add_argument("profile", metavar="PROFILE", nargs="?", help="the profile (none: list the profiles)")
    parser.add_argument("--limit", metavar="N", help="only the newest N runs")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="two runs side by side, by their numbers as listed (1 = the newest)")
    return parser


def _number(text: str, what: str, low: int = 1) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise UsageError(f"{what} expects a run number, not {visible(text, keep_newlines=False)!r}") from None
    if value < low:
        raise UsageError(f"{what} must be at least {low}, not {value}")
    return value


def _line(text: str) -> str:
    return visible(text, keep_newlines=False)


def main(argv: list[str]) -> int:
    parser = build_parser()
    if any(a in ("-h", "--help") for a in argv):
        print(parser.format_help().rstrip())
        return EXIT_OK
    from tlsbench.history.store import HistoryError, HistoryStore

    try:
        args = parser.parse_args(argv)
        limit = _number(args.limit, "--limit") if args.limit is not None else None
        if args.compare and args.profile is None:
            raise UsageError("--compare needs a PROFILE")
        if args.compare and limit is not None:
            raise UsageError("--compare and --limit: give one of them")
        store = HistoryStore()
        if args.profile is None:
            return _profiles(store, args.json)
        read = store.read(args.profile)
        note = read.skipped_note()
        if note:
            print(f"{PROG}: {note}", file=sys.stderr)
        if not read.runs:
            raise UsageError(_no_runs(args.profile, store))
        newest_first = list(reversed(read.runs))
        if args.compare:
            a, b = (_number(x, "--compare") for x in args.compare)
            for n in (a, b):
                if n > len(newest_first):
                    raise UsageError(f"no run #{n} of {_line(args.profile)}: {len(newest_first)} kept "
                                     f"(1 = the newest)")
            return _compare(args.profile, newest_first, a, b, args.json)
        return _runs(args.profile, newest_first[:limit] if limit else newest_first, len(newest_first), args.json)
    except UsageError as exc:
        return fail_usage(PROG, str(exc))
    except HistoryError as exc:
        return fail_usage(PROG, " ".join(str(exc).split()))


def _no_runs(profile: str, store: Any) -> str:
    from tlsbench.history.settings import SettingsError, load_history_settings

    try:
        off = not load_history_settings().enabled
    except SettingsError:
        off = False
    why = " (history is off: [history] enabled = false in settings.toml)" if off else ""
    return f"no runs kept for profile {_line(profile)!s}{why}; see 'tlsbench history' for those with runs"


def _profiles(store: Any, as_json: bool) -> int:
    found, problems = store.profiles()
    for problem in problems:
        print(f"{PROG}: {_line(problem)}", file=sys.stderr)
    if as_json:
        print(jsonout.dumps({"directory": str(store.root), "profiles": [
            {"profile": p.profile, "runs": p.run_count, "last": p.last_at, "file": str(p.path),
             "unreadable_lines": p.skipped} for p in found]}, indent=2))
        return EXIT_OK
    if not found:
        print(f"no runs kept yet (in {_line(str(store.root))})")
        return EXIT_OK
    width = max(len(p.profile) for p in found)
    for p in found:
        runs = "run" if p.run_count == 1 else "runs"
        print(_line(f"{p.profile:<{width}}  {p.run_count:>4} {runs:<4}  last {p.last_at or '-'}"))
    return EXIT_OK


def _runs(profile: str, runs: list[dict[str, Any]], total: int, as_json: bool) -> int:
    from tlsbench.history.compare import summary_line

    if as_json:
        print(jsonout.dumps({"profile": profile, "kept": total,
                          "runs": [{"run": i, **r} for i, r in enumerate(runs, 1)]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    for i, record in enumerate(runs, 1):
        print(_line(summary_line(i, record)))
    if len(runs) < total:
        print(f"({total - len(runs)} older not shown; {total} kept)")
    return EXIT_OK


def _compare(profile: str, newest_first: list[dict[str, Any]], a: int, b: int, as_json: bool) -> int:
    from tlsbench.history.compare import compare, comparison_json, comparison_lines

    result = compare(newest_first[a - 1], newest_first[b - 1])
    if as_json:
        print(jsonout.dumps({"profile": profile, **comparison_json(result, a, b)}, indent=2, ensure_ascii=False))
        return EXIT_OK
    for line in comparison_lines(result, f"run #{a}", f"run #{b}"):
        print(_line(line))
    return EXIT_OK

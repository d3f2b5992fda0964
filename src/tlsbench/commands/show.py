"""`tlsbench show FILE [--json | --text]`: a saved run (`probe --save-run`, the workbench's Copy / share).

Without a flag the workbench opens with the run shown as if it had just run, read-only; `--text` prints
the waterfall `probe` prints, `--json` the schema-3 object of `probe --json`. A file that is not a run
file this tlsbench reads is one line and exit 2, before any screen starts. Exit codes otherwise are
the saved run's: 0 it connected, 1 it failed (or was cancelled).
"""

from __future__ import annotations

import sys

from tlsbench.commands.arguments import QuietParser, UsageError, fail_usage
from tlsbench.errors import InputError

PROG = "tlsbench show"
EXIT_OK, EXIT_FAILED = 0, 1


def make_parser() -> QuietParser:
    parser = QuietParser(prog=PROG, description="Show a saved run (probe --save-run, or the workbench's Copy / "
                                                "share dialog) in the workbench, read-only.",
                         epilog="Exit codes: 0 the saved run connected, 1 it failed, 2 the file cannot be read "
                                "as a run file.")
    parser.add_argument("file", metavar="FILE", help="a run file written by --save-run or the workbench")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="print the run's JSON object (as probe --json), no workbench")
    how.add_argument("--text", action="store_true", help="print the waterfall (as probe prints it), no workbench")
    parser.add_argument("-v", "--verbose", action="store_true", help="with --text: every TLS message")
    parser.add_argument("--msg", action="store_true",
                        help="with --text: every TLS message with a hex dump; with --json: each message's bytes")
    return parser


def make_show_app(record, source: str, store=None):
    """The workbench on a saved run (the CLI and the tests)."""
    from tlsbench.tui.saved_run import SavedRunApp

    if store is None:
        from tlsbench.locations import config_dir
        from tlsbench.profiles.store import ProfileStore

        store = ProfileStore(config_dir(create=False))  # opening a run creates nothing (a save would)
    return SavedRunApp(store, record, source)


def main(argv: list[str]) -> int:
    parser = make_parser()
    if any(a in ("-h", "--help") for a in argv):
        parser.print_help()
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
        if (args.verbose or args.msg) and not (args.text or args.json):
            raise UsageError("-v/--msg are for --text (or --msg with --json)")
        if args.verbose and args.json:
            raise UsageError("-v is for --text")
        from tlsbench.engine.records.runfile import read_run

        record = read_run(args.file)
    except (UsageError, InputError) as exc:
        return fail_usage(PROG, " ".join(str(exc).split()))
    except OSError as exc:
        return fail_usage(PROG, f"{args.file}: {exc.strerror or exc}")
    result = record.result
    code = EXIT_OK if result.ok and not result.cancelled else EXIT_FAILED
    if args.json:
        from tlsbench.commands.probe_output import write_json

        write_json(result, sys.stdout, include_bytes=args.msg)
        return code
    if args.text:
        from tlsbench.commands.probe_output import Waterfall, want_colour
        from tlsbench.visible import visible

        view = Waterfall(sys.stdout, colour=want_colour(sys.stdout), trace=args.verbose, hexdump=args.msg)
        view.emit(f"tlsbench show {visible(args.file, keep_newlines=False)} (saved {record.saved_at}, "
                  f"tlsbench {visible(record.tlsbench, keep_newlines=False)})")
        view.emit(f"tlsbench probe {visible(result.target, keep_newlines=False)}")
        for event in record.events:
            view(event)
        return code
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        return fail_usage(PROG, "the workbench needs a terminal; use --text or --json in scripts")
    app = make_show_app(record, args.file)
    returned = app.run()
    return returned if isinstance(returned, int) else EXIT_OK

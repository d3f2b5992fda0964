"""`tlsbench [HOST:PORT] [options] [--run] [--profile NAME]`: opens the Textual workbench.

Options are checked before Textual starts: bad input prints one line and exits 2. Textual is
imported only once the input is known to be good (and never by the headless commands).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from tlsbench.errors import InputError

if TYPE_CHECKING:
    from tlsbench.commands.arguments import QuietParser

PROG = "tlsbench"


def build_parser() -> QuietParser:
    # Imported here: a bare `tlsbench` parses nothing, and the parser (argparse, every option's
    # flags) costs its first screen some 10 ms.
    from tlsbench.commands.arguments import QuietParser, add_connection_options

    parser = QuietParser(prog=PROG, description="Open the workbench, optionally with a connection composed.")
    add_connection_options(parser, target_required=False)
    parser.add_argument("--run", action="store_true", help="run the composed connection at once")
    parser.add_argument("--profile", metavar="NAME", help="open this saved profile (with --run, run it)")
    return parser


def _store():
    from tlsbench.profiles.store import ProfileStore

    return ProfileStore()


def make_app(*, profile: str | None = None, run: bool = False, spec=None, store=None):
    """The one factory for the workbench App, used by the CLI, the lab and the tests."""
    from tlsbench.tui.app import WorkbenchApp

    return WorkbenchApp(store if store is not None else _store(), spec=spec, profile=profile, run=run)


def run_workbench(profile: str | None = None, run: bool = False, spec=None) -> int:
    """Open the workbench and block until it exits; returns the exit code."""
    from tlsbench.tui import gc_pause

    gc_pause.hold()  # until the first screen is drawn (WorkbenchApp.on_ready)
    try:
        app = make_app(profile=profile, run=run, spec=spec)
        result = app.run()
    finally:
        gc_pause.release()
    return result if isinstance(result, int) else 0


def main(argv: list[str]) -> int:
    if not argv:  # what the parser would give: no target, no profile, no --run
        return _open_in_terminal(profile=None, run=False, spec=None)
    from tlsbench.commands.arguments import UsageError, fail_usage, spec_from_args

    parser = build_parser()
    if any(a in ("-h", "--help") for a in argv):
        parser.print_help()
        return 0
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return fail_usage(PROG, str(exc))
    spec = None
    try:
        if args.target:
            if args.profile:
                raise InputError("give either HOST:PORT or --profile NAME, not both", field="target")
            spec = spec_from_args(args)
        elif args.run and not args.profile:
            raise InputError("--run needs HOST:PORT or --profile NAME", field="target")
        if args.profile:
            from tlsbench.profiles.model import ProfileError

            try:
                _store().get(args.profile)
            except ProfileError as exc:
                return fail_usage(PROG, str(exc))
    except InputError as exc:
        return fail_usage(PROG, str(exc))
    return _open_in_terminal(profile=args.profile, run=args.run, spec=spec)


def _open_in_terminal(*, profile: str | None, run: bool, spec) -> int:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        from tlsbench.commands.arguments import fail_usage

        return fail_usage(PROG, "the workbench needs a terminal; use 'tlsbench probe' in scripts")
    return run_workbench(profile=profile, run=run, spec=spec)

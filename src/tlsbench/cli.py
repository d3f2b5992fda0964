"""Command-line entry point: dispatches to a subcommand module, imported only when used.

`tlsbench probe|serve|cert|lab|profiles|history ...` run headless; anything else opens the workbench.
The probe path must never import Textual: each subcommand imports only what it needs.
"""

from __future__ import annotations

import sys
from importlib import import_module

from tlsbench.errors import InputError

# subcommand -> module in tlsbench.commands exposing `main(argv: list[str]) -> int`
SUBCOMMANDS = {
    "probe": "probe",
    "serve": "serve",
    "cert": "cert",
    "lab": "lab",
    "profiles": "profiles",
    "show": "show",
    "history": "history",
}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

USAGE = """\
usage: tlsbench [HOST:PORT] [connection options] [--run] [--profile NAME]   open the workbench
       tlsbench probe HOST:PORT [options]     run one connection headless (--json for scripts)
       tlsbench serve [options]               a listener that shows what clients really send
       tlsbench cert [options]                generate or show the listener's self-signed certificate
       tlsbench lab                           start the local lab and open the workbench on it
       tlsbench profiles list|show|delete     saved connection profiles
       tlsbench show FILE [--text|--json]     a saved run (probe --save-run) in the workbench, read-only
       tlsbench history [PROFILE]             the runs kept for a profile (--compare A B: side by side)
Run 'tlsbench COMMAND --help' for a command's options."""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return EXIT_OK
    if args and args[0] in ("-V", "--version"):
        from tlsbench import __version__

        print(f"tlsbench {__version__}")
        return EXIT_OK
    name = SUBCOMMANDS.get(args[0]) if args else None
    module = f"tlsbench.commands.{name}" if name else "tlsbench.commands.workbench"
    rest = args[1:] if name else args
    try:
        return import_module(module).main(rest)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED
    except InputError as exc:  # last guard: a command that let one through still gets one line
        print(f"tlsbench: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())

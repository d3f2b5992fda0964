"""`tlsbench profiles list | show NAME | delete NAME` — the saved profiles, for people and scripts.

Exit codes: 0 ok; 1 nothing could be loaded (every file broken); 2 bad input (unknown command,
missing or broken profile named on the command line).
"""

from __future__ import annotations

import argparse
import sys

from tlsbench.commands.arguments import QuietParser, UsageError, fail_usage
from tlsbench.engine.records import jsonout
from tlsbench.visible import visible

PROG = "tlsbench profiles"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = QuietParser(prog=PROG, description="Saved connection profiles (TOML files in the config directory; "
                                                "TLSBENCH_CONFIG_DIR overrides where).")
    sub = parser.add_subparsers(dest="action", metavar="list|show|delete", parser_class=QuietParser)
    listing = sub.add_parser("list", help="one line per profile: name, target, route")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    show = sub.add_parser("show", help="the profile's file and a summary")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    delete = sub.add_parser("delete", help="delete a profile's file")
    delete.add_argument("name", metavar="NAME")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    if argv and argv[0] in ("-h", "--help"):
        print(parser.format_help().rstrip())
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return fail_usage(PROG, str(exc))
    if args.action is None:
        return fail_usage(PROG, "expected list, show NAME or delete NAME")

    from tlsbench.profiles.store import ProfileError, ProfileStore

    try:
        store = ProfileStore()
        if args.action == "list":
            return _list(store, args.json)
        if args.action == "show":
            return _show(store, args.name, args.json)
        path = store.delete(args.name)
        print(f"deleted profile {visible(args.name)} ({visible(str(path))})")
        return EXIT_OK
    except ProfileError as exc:
        return fail_usage(PROG, visible(str(exc), keep_newlines=False))
    except OSError as exc:
        return fail_usage(PROG, visible(f"{exc.filename or 'config directory'}: {exc.strerror or exc}",
                                        keep_newlines=False))


def _list(store, as_json: bool) -> int:
    from tlsbench.profiles.describe import problem_json, profile_json, route_text

    report = store.load_all()
    if report.unusable:  # the directory itself: nothing can be listed, and that is not "no profiles"
        return fail_usage(PROG, visible(str(report.problems[0]), keep_newlines=False))
    if as_json:
        print(jsonout.dumps({"profiles": [profile_json(p) for p in report.profiles.values()],
                          "problems": [problem_json(p) for p in report.problems],
                          "last_used": store.last_used()}, indent=2))
    else:
        rows = [(name, p.spec.target, route_text(p.spec)) for name, p in report.profiles.items()]
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(2)]
        for name, target, route in rows:
            print(visible(f"{name:<{widths[0]}}  {target:<{widths[1]}}  {route}", keep_newlines=False))
    for problem in report.problems:
        print(visible(f"{PROG}: {problem}", keep_newlines=False), file=sys.stderr)
    if report.problems and not report.profiles:
        return EXIT_FAILED
    return EXIT_OK


def _show(store, name: str, as_json: bool) -> int:
    from tlsbench.profiles.describe import profile_json, summary_lines

    from tlsbench.profiles.secrets import masked_text

    profile = store.get(name)  # ProfileError (missing or broken) -> one line, exit 2
    text = store.read_text(name)
    if profile.password_note:  # a password typed into the file is never shown, not even here
        text = masked_text(text)
    if as_json:
        data = profile_json(profile)
        data["toml"] = text
        print(jsonout.dumps(data, indent=2))
        return EXIT_OK
    print(f"# {visible(str(profile.path), keep_newlines=False)}")
    print(visible(text).rstrip("\n"))
    print()
    for line in summary_lines(profile):
        print(visible(line, keep_newlines=False))
    return EXIT_OK

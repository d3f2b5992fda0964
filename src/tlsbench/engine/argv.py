"""Command lines, derived from the declarations in `options.py`: the connection options as argparse
flags, and the values a parsed line gives. The probe's own flags (output, repeated runs, why?) are
declared here too, so a pasted `tlsbench probe` line reads the same as the command (paste.py).

Names are the peers' where they have one: curl's --proxy/-x, --socks5h, --proxy-user, --resolve,
--cacert, --insecure, --cert/--key, --local-port, --interface, -4/-6; openssl s_client's
-servername (here --sni, with --servername as an alias) and -noservername (--no-sni).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn

from tlsbench.engine.options import BY_NAME, GROUP_TITLES, OPTIONS, check_conflicts


class UsageError(Exception):
    """argparse failed; the message is one line."""


def _formatter(prog: str) -> argparse.HelpFormatter:
    # argparse builds a formatter for every add_argument() and sizes it with shutil, whose import
    # (with bz2, lzma, zlib) costs a probe process more than parsing does; os alone can tell.
    try:
        width = os.get_terminal_size(2).columns
    except OSError:
        width = 80
    return argparse.HelpFormatter(prog, width=max(width - 2, 40))


class QuietParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _formatter)
        # Option names are exact, as curl's are: a prefix never stands for a longer option, so that
        # adding an option can never change what an existing command line means.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _dest(option: str, index: int) -> str:
    return f"opt__{option}__{index}"


def add_connection_options(parser: argparse.ArgumentParser, *, target_required: bool = True) -> None:
    """Every option of engine/options.py, grouped as the form groups them."""
    parser.add_argument("target", nargs=None if target_required else "?", metavar="HOST:PORT|URL",
                        help=BY_NAME["target"].help)
    groups: dict[str, argparse._ArgumentGroup] = {}
    for option in OPTIONS:
        for i, flag in enumerate(option.flags):
            group = groups.get(option.group)
            if group is None:
                group = groups[option.group] = parser.add_argument_group(GROUP_TITLES[option.group].lower())
            kwargs: dict = {"dest": _dest(option.name, i), "help": flag.help}
            if flag.kind == "switch":
                kwargs["action"] = "store_true"
            else:
                kwargs["metavar"] = flag.metavar
                if flag.kind == "append":
                    kwargs["action"] = "append"
            group.add_argument(*flag.names, **kwargs)


def values_from_args(args: argparse.Namespace) -> tuple[dict, set[str]]:
    """(the values the flags given set, the option names a profile's value must yield to)."""
    values: dict = {}
    excluded: set[str] = set()
    named: list[str] = []
    for option in OPTIONS:
        for i, flag in enumerate(option.flags):
            arg = getattr(args, _dest(option.name, i), None)
            if arg is None or arg is False:
                continue
            named.append(flag.names[0])
            if flag.kind == "append":
                for item in arg:
                    (flag.apply or (lambda v, a: v.update({option.name: a})))(values, item)
            elif flag.apply is not None:
                flag.apply(values, arg)
            else:
                values[option.name] = arg
            excluded.update(flag.excludes)
    check_conflicts(named, values)
    return values, excluded


def given(args: argparse.Namespace, name: str) -> bool:
    """Whether any flag of option `name` was given."""
    return any(getattr(args, _dest(name, i), None) not in (None, False)
               for i in range(len(BY_NAME[name].flags)))


def flag_given(args: argparse.Namespace, flag_name: str) -> bool:
    """Whether the flag named `flag_name` (its primary name) was given."""
    return any(getattr(args, _dest(option.name, i), None) not in (None, False)
               for option in OPTIONS for i, flag in enumerate(option.flags) if flag.names[0] == flag_name)


def probe_parser(prog: str = "tlsbench probe") -> QuietParser:
    """The whole `tlsbench probe` command line: the connection options, then output, repeat and why?."""
    parser = QuietParser(prog=prog, description="Open one connection, stage by stage, and explain what happened.",
                         epilog="Exit codes: 0 connected, 1 the connection failed, 2 bad input, 130 interrupted "
                                "(Ctrl-C prints what ran so far, marked cancelled).")
    add_connection_options(parser, target_required=False)
    out = parser.add_argument_group("output and profiles")
    out.add_argument("--json", action="store_true", help="print one JSON object at the end, nothing else")
    out.add_argument("--profile", metavar="NAME", help="start from a saved profile; options given here override it")
    out.add_argument("--save-profile", metavar="NAME", help="save this connection as a profile, then run it")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="print every TLS message under the waterfall: time, direction, type, version, length")
    out.add_argument("--showcerts", action="store_true",
                     help="print the certificates as PEM: those the server sent, then the trust anchor (s_client "
                          "-showcerts)")
    out.add_argument("--save-chain", metavar="FILE",
                     help="write the same PEM chain to FILE (only over a PEM file; new files 0644)")
    out.add_argument("--enumerate", action="store_true",
                     help="after the run, ask which protocol versions and cipher suites the server accepts "
                          "(hand-built ClientHellos over the same route; --concurrency C connections at once, "
                          "default 4)")
    out.add_argument("--enumerate-scope", metavar="LIST",
                     help="--enumerate, and also: tls13-order (does the server pick TLS 1.3 suites by its own "
                          "order?), groups (which key-exchange groups it accepts, X25519MLKEM768 included), or all; "
                          "versions and ciphers are always asked")
    out.add_argument("--save-run", metavar="FILE",
                     help="write the whole run (connection without passwords, every event, the result and findings) "
                          "to FILE as JSON, also when it fails; open it with 'tlsbench show FILE' (only over a run "
                          "file; new files 0600)")
    out.add_argument("--pcap", metavar="FILE",
                     help="write the run's own bytes to FILE as pcapng (every connection, real addresses and times, "
                          "TLS secrets inside so Wireshark decrypts it; proxy passwords masked), also when it fails; "
                          "replaces FILE, new file 0600")
    out.add_argument("--msg", action="store_true",
                     help="like -v, with a hex dump of each message (s_client -msg); with --json, each message's "
                          "bytes as hex")
    add_repeat_options(parser)
    add_diagnose_options(parser)
    return parser


def add_repeat_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("repeated runs")
    group.add_argument("--count", metavar="N", help="run the connection N times and report statistics")
    group.add_argument("--interval", metavar="SECONDS", help="with --count: wait this long between starts")
    group.add_argument("--concurrency", metavar="C", help="with --count: C runs at once (default 1)")
    group.add_argument("--json-lines", action="store_true",
                       help="with --count: each run's JSON object as it ends, then the summary object")
    group.add_argument("--watch", metavar="SECONDS",
                       help="re-run every SECONDS until Ctrl-C (or --count N runs), showing only what changed")


def add_diagnose_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("why? (differential diagnosis)")
    group.add_argument("--diagnose", action="store_true",
                       help="after the run, try targeted variants of it (SNI, versions, ALPN, trust, the proxy, "
                            "the peer's first words) and say which change makes it work")
    group.add_argument("--diagnose-budget", metavar="SECONDS",
                       help="with --diagnose: all the variants within this many seconds (default 10)")
    group.add_argument("--diagnose-timeout", metavar="SECONDS",
                       help="with --diagnose: per-stage timeout of each variant (default 3)")
    group.add_argument("--diagnose-sni", metavar="NAME", action="append",
                       help="with --diagnose: a server name to try as SNI (again for more)")

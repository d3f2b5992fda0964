"""Connection options on the command line, derived from the declarations in `engine/options.py`.

Names are the peers' where they have one: curl's --proxy/-x, --socks5h, --proxy-user, --resolve,
--cacert, --insecure, --cert/--key, --local-port, --interface, -4/-6; openssl s_client's
-servername (here --sni, with --servername as an alias) and -noservername (--no-sni).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from tlsbench.engine.errors import InputError
from tlsbench.engine.options import BY_NAME, GROUP_TITLES, OPTIONS, check_conflicts, finish_flags, spec_from_values
from tlsbench.engine.spec import ConnectionSpec


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

    def __init__(self, *args, **kwargs) -> None:
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
    check_conflicts(named)
    return values, excluded


def given(args: argparse.Namespace, name: str) -> bool:
    """Whether any flag of option `name` was given."""
    return any(getattr(args, _dest(name, i), None) not in (None, False)
               for i in range(len(BY_NAME[name].flags)))


def spec_from_args(args: argparse.Namespace, base: dict | None = None,
                   environ: dict[str, str] | None = None) -> ConnectionSpec:
    """Build the spec from the flags given over `base` (a profile's values, or the defaults);
    raises InputError (one line) when something is wrong."""
    values, excluded = values_from_args(args)
    target = args.target or (base or {}).get("target")
    if not target:
        raise InputError("no target given; expected HOST:PORT", field="target")
    if "://" in target:
        # https://host/path: port 443 and an HTTP GET of that path (http://: plain TCP, port 80).
        from tlsbench.engine.paste import url_values

        from_url = url_values(target)
        target = from_url.pop("target")
        values = {**from_url, **values}
    merged = dict(base or {})
    for name in excluded:
        merged.pop(name, None)
    tls = values.get("tls", merged.get("tls", True))
    merged.update(finish_flags(values, target=target, tls=bool(tls),
                               environ=os.environ if environ is None else environ, base=base))
    merged["target"] = target
    for name, flag in (("starttls_name", "--name"), ("xmpphost", "--xmpphost")):
        if given(args, name) and merged.get("starttls") in (None, "", "none"):
            raise InputError(f"{flag} is for --starttls (give the protocol, e.g. --starttls smtp)", field=name)
    return spec_from_values(merged, environ=environ)


def fail_usage(prog: str, message: str) -> int:
    """Print one line naming what is wrong and return exit code 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2

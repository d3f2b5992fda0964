"""`tlsbench probe ... --diagnose [--diagnose-budget S] [--diagnose-timeout S] [--diagnose-sni NAME]`.

After the run, targeted variants of it run for real (engine/why): the waterfall is followed by
the conclusion in one sentence, a table of the variants (what changed, result, key finding, time)
and the findings only the variants together show. With --json the single-run object gains a
`diagnosis` object. The exit code stays the first run's (0 or 1); Ctrl-C during the diagnosis
cancels it, prints what it has, and exits 130.
"""

from __future__ import annotations

import argparse
import sys
from typing import NamedTuple, TextIO

from tlsbench.commands.arguments import UsageError
from tlsbench.engine.records import jsonout


class DiagnoseOptions(NamedTuple):
    budget: float
    stage_timeout: float
    suggest_sni: tuple[str, ...]


def options(args: argparse.Namespace) -> DiagnoseOptions | None:
    """The diagnosis options, None without --diagnose; UsageError (one line) for a bad value or combination."""
    extra = [f"--{n.replace('_', '-')}" for n in ("diagnose_budget", "diagnose_timeout", "diagnose_sni")
             if getattr(args, n) is not None]
    if not args.diagnose:
        if extra:
            raise UsageError(f"{extra[0]} needs --diagnose")
        return None
    # Imported only for a diagnosis: a plain probe does not pay for the variants' modules.
    from tlsbench.engine.findings.checks import check_seconds, check_sni
    from tlsbench.engine.why import DEFAULT_BUDGET, DEFAULT_STAGE_TIMEOUT, MAX_BUDGET
    from tlsbench.errors import InputError

    if getattr(args, "count", None) is not None:
        raise UsageError("--diagnose runs variants of one connection; it cannot be combined with --count")
    try:
        budget = DEFAULT_BUDGET if args.diagnose_budget is None else check_seconds(
            args.diagnose_budget, "diagnose-budget", maximum=MAX_BUDGET)
        timeout = DEFAULT_STAGE_TIMEOUT if args.diagnose_timeout is None else check_seconds(
            args.diagnose_timeout, "diagnose-timeout")
        names = tuple(check_sni(n, "diagnose-sni") for n in args.diagnose_sni or ())
    except InputError as exc:
        raise UsageError(str(exc)) from None
    return DiagnoseOptions(budget, timeout, names)


def run(spec, result, opts: DiagnoseOptions, *, as_json: bool, view=None, out: TextIO = sys.stdout) -> int:
    """Diagnose `result` of `spec`, print it (text after `view`'s waterfall, or the whole JSON object)."""
    from tlsbench.commands.probe import sigint_cancels
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.why import diagnose

    token = CancelToken()
    with sigint_cancels(token):
        if view is not None:  # said once Ctrl-C already cancels the diagnosis rather than the process
            view.emit()
            view.emit(view.paint("why?", "bold") + f"    trying variants within {opts.budget:g} s "
                      f"({opts.stage_timeout:g} s per stage)…")
        diagnosis = diagnose(spec, result, budget=opts.budget, stage_timeout=opts.stage_timeout,
                             suggest_sni=opts.suggest_sni, cancel=token)
    if as_json:
        body = result.to_json_dict()
        body["diagnosis"] = diagnosis.to_dict()
        from tlsbench.commands.whole_lines import write_line

        write_line(out, jsonout.dumps(body, indent=2, ensure_ascii=True, default=str))
    else:
        from tlsbench.commands.diagnose_output import print_diagnosis

        print_diagnosis(view, diagnosis)
    return 130 if diagnosis.cancelled else (0 if result.ok else 1)

"""How `tlsbench probe --diagnose` shows a diagnosis after the waterfall: the conclusion, the table
of variants, the findings the variants showed, and a closing count.

Everything that came from the network (summaries, findings' words) passes through `visible()`.
"""

from __future__ import annotations

from tlsbench.commands.probe_output import SEVERITY_COLOUR, Waterfall, one_line
from tlsbench.engine.suggestions import cli_text
from tlsbench.engine.why import Diagnosis, VariantOutcome, probe_line

LABEL = 40  # columns for "what changed", at most
FINDING = 64  # columns for the key finding, at most
FIXED = 2 + 4 + 1 + 2 + 9 + 1 + 1 + 9  # the marks, the result and the time, with their gaps
RESULT_WORDS = {"ok": "ok", "failed": "failed", "not-run": "not run", "cancelled": "cancelled"}
RESULT_COLOUR = {"ok": "green", "failed": "red", "not-run": "dim", "cancelled": "yellow"}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def result_word(o: VariantOutcome) -> str:
    """ok / failed / not run; a look that ran says "seen" (it is not meant to make anything work)."""
    if o.variant.kind == "look" and o.status == "ok" and not o.findings:
        return "seen"
    if o.timed_out:
        return "timed out"
    return RESULT_WORDS[o.status]


def time_text(o: VariantOutcome) -> str:
    """The run's own time (its stages, as a probe reports it); without a run, the variant's whole time."""
    if o.status == "not-run" or o.elapsed_ms is None:
        return "—"
    ms = o.result.total_ms if o.result is not None else o.elapsed_ms
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def columns(out) -> int:
    """The terminal's width, or 120 when the output is not a terminal."""
    import os

    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 120


def table_lines(view: Waterfall, diagnosis: Diagnosis, width: int = 120) -> list[str]:
    mark = {"ok": view.marks["ok"], "failed": view.marks["failed"]}
    labels = [one_line(o.variant.label) for o in diagnosis.outcomes]
    label_w = min(max([len("variant"), *map(len, labels)]), LABEL)
    found_w = max(min(width - FIXED - label_w, FINDING), 20)
    lines = [view.paint(f"  {'':4} {'variant':<{label_w}}  {'result':<9} {'key finding':<{found_w}} {'time':>9}",
                        "bold")]
    for o, label in zip(diagnosis.outcomes, labels):
        word = result_word(o)
        sign = mark.get(o.status, view.marks["skipped"])
        colour = RESULT_COLOUR[o.status] if word != "seen" else "cyan"
        found = _cut(one_line(o.summary()), found_w)
        lines.append(f"  {view.paint(f'{sign:<4}', colour)} {_cut(label, label_w):<{label_w}}  "
                     f"{view.paint(f'{word:<9}', colour)} {found:<{found_w}} {time_text(o):>9}")
    return lines


def finding_lines(view: Waterfall, finding) -> list[str]:
    """A finding as the waterfall prints one: code and title, explanation, suggestion, evidence."""
    sev = view.paint(f"{finding.severity:<7}", SEVERITY_COLOUR.get(finding.severity, "bold"))
    lines = [f"{sev} {finding.code}: {one_line(finding.title)}", f"        {one_line(finding.explanation)}"]
    if finding.suggestion:
        lines.append(f"        -> {one_line(cli_text(finding.suggestion))}")
    lines += [view.paint(f"        {one_line(ev.label)}: {one_line(ev.value)}", "dim") for ev in finding.evidence]
    return lines


def print_diagnosis(view: Waterfall, diagnosis: Diagnosis) -> None:
    view.emit()
    view.emit(f"{view.paint('why', 'bold')}     {one_line(diagnosis.conclusion)}")
    works = diagnosis.outcome(diagnosis.works) if diagnosis.works else None
    if works is not None and works.variant.adoptable:
        view.emit(f"        -> {one_line(probe_line(works.variant))}")
    if diagnosis.outcomes:
        view.emit()
        for line in table_lines(view, diagnosis, columns(view.out)):
            view.emit(line)
    if diagnosis.findings:
        view.emit()
    for finding in diagnosis.findings:
        for text in finding_lines(view, finding):
            view.emit(text)
    counts = diagnosis.counts()
    timed = sum(1 for o in diagnosis.outcomes if o.timed_out)
    counts["failed"] -= timed  # a variant a deadline ended did not fail: it is counted apart
    parts = [f"{len(diagnosis.outcomes)} variant(s)"]
    parts += [f"{counts[s]} {RESULT_WORDS[s]}" for s in ("ok", "failed") if counts[s]]
    parts += [f"{timed} timed out"] if timed else []
    parts += [f"{counts[s]} {RESULT_WORDS[s]}" for s in ("not-run", "cancelled") if counts[s]]
    view.emit()
    verdict = "cancelled" if diagnosis.cancelled else "diagnosed"
    view.emit(f"{view.paint(verdict, 'bold')} in {diagnosis.elapsed_ms / 1000:.2f} s "
              f"(budget {diagnosis.budget_s:g} s): {', '.join(parts)}")

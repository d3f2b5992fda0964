""""Why?": the diagnosis of the connection shown, as a table of variants that fills in as they run.

Opened from the workbench (`open_diagnosis(workbench)`, one key and one palette entry there) after
a run, failed or not. The variants run in a child process (engine/why/isolated.py); their
events reach this screen as messages. Enter opens the highlighted variant's run in the results
view (the key again brings this table back); `u` loads the variant into the compose form; a name
typed below is tried as SNI in a new diagnosis. Esc closes (and cancels a diagnosis in flight).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

from tlsbench.tui.actions import bindings
from tlsbench.engine.cancel import CancelToken
from tlsbench.tui.safe_text import data, line

if TYPE_CHECKING:
    from tlsbench.engine.why.model import Diagnosis

RESULT_STYLE = {"ok": "bold green", "failed": "bold red", "not-run": "dim", "cancelled": "yellow",
                "seen": "bold cyan", "waiting": "dim", "running": "yellow"}
FINDING_CELL = 52  # characters of the key finding in the table (the time column stays in view at 120 columns)
STATE_ATTRIBUTE = "_why_state"  # where the workbench screen keeps the last diagnosis (see open_diagnosis)


class DiagnosisEvent(Message):
    """One engine diagnosis event, delivered on the UI thread."""

    def __init__(self, serial: int, event) -> None:
        super().__init__()
        self.serial = serial
        self.event = event


class DiagnosisCrashed(Message):
    def __init__(self, serial: int, error: str) -> None:
        super().__init__()
        self.serial = serial
        self.error = error


class WhyState:
    """A diagnosis of one run: kept by the workbench so the table comes back after opening a variant."""

    def __init__(self, spec, result, suggest_sni: tuple[str, ...] = ()) -> None:
        self.spec, self.result, self.suggest_sni = spec, result, suggest_sni
        self.diagnosis: Diagnosis | None = None  # once finished

    def covers(self, result) -> bool:
        """Whether `result` is the diagnosed run or one of its variants' runs."""
        if result is self.result:
            return True
        return self.diagnosis is not None and any(o.result is result for o in self.diagnosis.outcomes)


def result_word(outcome) -> str:
    if outcome.variant.kind == "look" and outcome.status == "ok" and not outcome.findings:
        return "seen"
    return {"not-run": "not run"}.get(outcome.status, outcome.status)


def _time(outcome) -> str:
    if outcome.status == "not-run" or outcome.elapsed_ms is None:
        return "—"
    ms = outcome.result.total_ms if outcome.result is not None else outcome.elapsed_ms
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


class DiagnosisScreen(ModalScreen[tuple]):
    """The conclusion, the variants' table and the highlighted variant's details.

    Dismissed with ("open", outcome), ("use", outcome) or None.
    """

    BINDINGS = bindings("diagnosis")
    DEFAULT_CSS = """
    DiagnosisScreen #diagnosis { width: 94%; height: 94%; border: thick $primary; background: $surface;
                                 padding: 0 1; }
    DiagnosisScreen #diagnosis-conclusion { height: auto; max-height: 8; }
    DiagnosisScreen #variants { height: auto; max-height: 45%; }
    DiagnosisScreen #diagnosis-more { height: 1fr; margin-top: 1; }
    DiagnosisScreen #variant-detail, DiagnosisScreen #diagnosis-findings { height: auto; }
    DiagnosisScreen #diagnosis-findings { margin-top: 1; }
    """

    def __init__(self, state: WhyState, keep=None) -> None:
        super().__init__(classes="dialog-screen")
        self.state = state
        self.keep = keep or (lambda state: None)  # told of a new diagnosis (another SNI name), to keep it
        self.outcomes: dict = {}  # key -> VariantOutcome as they finish
        self.variants: dict = {}  # key -> Variant as chosen
        self.token: CancelToken | None = None
        self.serial = 0
        self.running = False
        self.finding_width = FINDING_CELL

    def compose(self) -> ComposeResult:
        with Vertical(id="diagnosis"):
            yield Static(Text("choosing variants…", style="dim"), id="diagnosis-conclusion")
            yield DataTable(id="variants", cursor_type="row", zebra_stripes=True)
            more = VerticalScroll(id="diagnosis-more")
            more.can_focus = False  # Tab goes from the table to the name field
            with more:
                yield Static("", id="variant-detail")
                yield Static("", id="diagnosis-findings")
            yield Input(placeholder="another server name to try as SNI (Enter: diagnose again with it)",
                        id="diagnosis-sni", select_on_focus=False)  # a first letter typed on the table stays
        yield Footer()

    def on_mount(self) -> None:
        # In the border, as a Text: a target such as [::1]:443 is never read as markup.
        self.query_one("#diagnosis").border_title = line(("Why? ", "bold"), (f"variants of {self.state.spec.target}", ""))
        table = self.query_one(DataTable)
        table.add_column("variant", key="variant")
        table.add_column("result", key="result")
        # Fixed widths for the last two: a cell filled in later never pushes the time off, or under it.
        self.finding_width = max(12, min(FINDING_CELL, int(self.app.size.width * 0.94) - 6 - 36 - 9 - 9 - 8))
        table.add_column("key finding", key="finding", width=self.finding_width)
        table.add_column("time", key="time", width=9)
        if self.state.diagnosis is not None:
            self.show(self.state.diagnosis)
        else:
            self.start()
        table.focus()

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.serial += 1
        self.token = CancelToken()
        self.running = True
        self.outcomes, self.variants = {}, {}
        self.query_one(DataTable).clear()
        self.query_one("#diagnosis-findings", Static).update("")
        self.query_one("#diagnosis-conclusion", Static).update(Text("● trying variants…", style="bold yellow"))
        self.diagnose_in_thread(self.state, self.token, self.serial)

    @work(thread=True, exclusive=True, exit_on_error=False, group="diagnose")
    def diagnose_in_thread(self, state: WhyState, token: CancelToken, serial: int) -> None:
        """Runs the diagnosis in a child process; only posts messages."""
        from tlsbench.engine.why.isolated import diagnose_isolated

        try:
            diagnose_isolated(state.spec, state.result, suggest_sni=state.suggest_sni, cancel=token,
                              on_event=lambda event: self.post_message(DiagnosisEvent(serial, event)))
        except Exception as exc:  # the UI survives any failure and says what happened
            self.post_message(DiagnosisCrashed(serial, f"{type(exc).__name__}: {exc}"))

    def on_diagnosis_event(self, message: DiagnosisEvent) -> None:
        from tlsbench.engine.why import DiagnosisFinished, VariantFinished, VariantsChosen, VariantStarted

        if message.serial != self.serial:
            return
        event = message.event
        table = self.query_one(DataTable)
        if isinstance(event, VariantsChosen):
            for variant in event.variants:
                if variant.key not in self.variants:
                    self.variants[variant.key] = variant
                    table.add_row(data(variant.label), Text("waiting", style="dim"), Text(""), Text(""),
                                  key=variant.key)
            if not event.variants:
                table.add_row(Text("nothing worth trying for this run", style="dim"), Text(""), Text(""), Text(""))
        elif isinstance(event, VariantStarted) and event.key in self.variants:
            table.update_cell(event.key, "result", Text("running…", style=RESULT_STYLE["running"]), update_width=True)
        elif isinstance(event, VariantFinished) and event.outcome.key in self.variants:
            self.fill_row(event.outcome)
        elif isinstance(event, DiagnosisFinished):
            self.running = False
            self.state.diagnosis = event.diagnosis
            self.show(event.diagnosis)

    def on_diagnosis_crashed(self, message: DiagnosisCrashed) -> None:
        if message.serial == self.serial:
            self.running = False
            self.query_one("#diagnosis-conclusion", Static).update(
                line(("✘ the diagnosis stopped: ", "bold red"), (message.error, "red")))

    def fill_row(self, outcome) -> None:
        self.outcomes[outcome.key] = outcome
        table = self.query_one(DataTable)
        word = result_word(outcome)
        style = RESULT_STYLE.get("seen" if word == "seen" else outcome.status, "")
        table.update_cell(outcome.key, "result", Text(word, style=style), update_width=True)
        summary = outcome.summary()
        # The whole of it is in the details below the table; the cell leaves room for the variant's label
        # and the time, so that no horizontal scrollbar appears on a narrow terminal.
        room = self.finding_width
        if len(summary) > room:
            summary = summary[:room - 1] + "…"
        table.update_cell(outcome.key, "finding", data(summary, keep_newlines=False), update_width=True)
        table.update_cell(outcome.key, "time", Text(_time(outcome), justify="right"), update_width=True)
        self.show_detail()

    def show(self, diagnosis) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            for o in diagnosis.outcomes:
                self.variants[o.key] = o.variant
                table.add_row(data(o.variant.label), Text(""), Text(""), Text(""), key=o.key)
        for o in diagnosis.outcomes:
            self.fill_row(o)
        head = Text()
        head.append("■ cancelled: " if diagnosis.cancelled else "Why? ",
                    style="bold yellow" if diagnosis.cancelled else "bold cyan")
        head.append_text(data(diagnosis.conclusion, "bold"))
        counts = diagnosis.counts()
        head.append(f"\n{len(diagnosis.outcomes)} variant(s) in {diagnosis.elapsed_ms / 1000:.2f} s "
                    f"(budget {diagnosis.budget_s:g} s): " + ", ".join(
                        f"{n} {s.replace('-', ' ')}" for s, n in counts.items() if n), style="dim")
        self.query_one("#diagnosis-conclusion", Static).update(head)
        found = Text()
        for finding in diagnosis.findings:
            found.append(f"{finding.severity} ", style="bold yellow" if finding.severity == "warning" else "bold red")
            found.append_text(line((f"{finding.code}: ", "bold"), (finding.title, "")))
            found.append("\n")
            found.append_text(data(finding.explanation, "dim"))
            found.append("\n")
            for ev in finding.evidence:
                found.append_text(line((f"  {ev.label}: ", "dim"), (ev.value, "")))
                found.append("\n")
        self.query_one("#diagnosis-findings", Static).update(found)
        if diagnosis.works and diagnosis.works in self.variants:
            table = self.query_one(DataTable)
            table.move_cursor(row=table.get_row_index(diagnosis.works))
        self.show_detail()

    # --- the highlighted variant -----------------------------------------------------------------

    def highlighted(self):
        """(variant, outcome or None) of the row under the cursor, or (None, None)."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None, None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None, None
        return self.variants.get(key), self.outcomes.get(key)

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        from tlsbench.engine.why import probe_line

        variant, outcome = self.highlighted()
        if variant is None:
            return
        text = line((variant.label, "bold"), "\n", ("if it works: ", "dim"), (variant.meaning, ""))
        if outcome is not None and outcome.status != "not-run":
            text.append_text(line("\n", ("result: ", "dim"), (outcome.summary(), "")))
        if outcome is not None and outcome.note:
            text.append_text(line("\n", ("note: ", "dim"), (outcome.note, "")))
        if variant.adoptable:
            text.append_text(line("\n", ("as a command: ", "dim"), (probe_line(variant), "")))
            text.append("\nu: use this variant in the form", style="dim")
        else:
            text.append_text(line("\n", ("not adoptable: ", "dim"), (variant.why_not_adoptable, "")))
        if outcome is not None and outcome.result is not None:
            text.append("   Enter: open its run", style="dim")
        self.query_one("#variant-detail", Static).update(text)

    def action_open_variant(self) -> None:
        variant, outcome = self.highlighted()
        if outcome is None or outcome.result is None:
            self.notify("this variant has no run to open" + (" yet" if self.running else ""), severity="warning")
            return
        self.dismiss(("open", outcome))

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open_variant()

    def action_use_variant(self) -> None:
        variant, outcome = self.highlighted()
        if variant is None:
            return
        if not variant.adoptable:
            self.notify(data(f"{variant.label}: {variant.why_not_adoptable}").plain, severity="warning", markup=False)
            return
        self.dismiss(("use", outcome if outcome is not None else variant))

    def on_key(self, event) -> None:
        """A name typed while the table has focus goes to the SNI field (u and Enter keep their meaning)."""
        character = event.character
        if not character or len(character) != 1 or not character.isprintable() or character.isspace() \
                or event.key in ("u",) or not isinstance(self.focused, DataTable):
            return
        field = self.query_one("#diagnosis-sni", Input)
        field.focus()
        field.insert_text_at_cursor(character)
        event.stop()
        event.prevent_default()

    @on(Input.Submitted, "#diagnosis-sni")
    def _try_name(self, event: Input.Submitted) -> None:
        from tlsbench.engine.findings.checks import check_sni
        from tlsbench.errors import InputError

        try:
            name = check_sni(event.value.strip(), "SNI name")
        except InputError as exc:
            self.notify(str(exc), title="Invalid input", severity="error", markup=False)
            return
        if self.token is not None:
            self.token.cancel()
        names = tuple(dict.fromkeys((name, *self.state.suggest_sni)))
        self.state = WhyState(self.state.spec, self.state.result, names)
        self.keep(self.state)
        event.input.value = ""
        self.start()
        self.query_one(DataTable).focus()

    def action_close(self) -> None:
        if self.running and self.token is not None:
            self.token.cancel()
        self.dismiss(None)


def open_diagnosis(workbench) -> None:
    """The workbench's "Why?" action: diagnose the connection shown (or show its diagnosis again)."""
    results = workbench.query_one("#results")
    result, spec = results.result, results.spec
    if workbench.running:
        workbench.notify("wait for the run to finish (or cancel it), then ask why", severity="warning")
        return
    if result is None or spec is None:
        workbench.notify("run the connection first (ctrl+r), then ask why", severity="warning")
        return
    if result.cancelled:
        workbench.notify("the run was cancelled: run it to the end, then ask why", severity="warning")
        return
    state = getattr(workbench, STATE_ATTRIBUTE, None)
    if state is None or not state.covers(result) or state.diagnosis is None:
        state = WhyState(spec, result)
    setattr(workbench, STATE_ATTRIBUTE, state)

    def done(choice) -> None:
        if not choice:
            return
        what, item = choice
        if what == "open":
            workbench.show_result(item.result, item.variant.spec)
            workbench.notify(data(f"the variant \u201c{item.variant.label}\u201d: its own run; "
                                  "the Why? key shows the variants again").plain, markup=False)
        elif what == "use":
            variant = getattr(item, "variant", item)
            workbench.query_one("#form").load_spec(variant.spec)
            # Opened as F7 opens it: on a narrow terminal it takes the results' place until Esc, F7 or a run.
            workbench.open_form()
            workbench.notify(data(f"composed the variant \u201c{variant.label}\u201d: ctrl+r runs it").plain,
                             markup=False)

    workbench.app.push_screen(DiagnosisScreen(state, keep=lambda new: setattr(workbench, STATE_ATTRIBUTE, new)),
                              done)

"""F4, History: the runs of the connection on screen, newest first, the current run on top.

For a saved profile the list is its history file (tlsbench.history) and the runs of this session
that were not written (history off, a write refused); for a connection without a profile, the runs
of this session with an equal spec. The previous run is preselected, so F4 then Enter compares the
current run with the previous one. Space marks up to two runs; Enter compares the marked two (one
marked: with the highlighted run; none: the current run with the highlighted one).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from tlsbench.tui.actions import bindings
from tlsbench.history.compare import finding_codes, verdict
from tlsbench.tui.safe_text import data
from tlsbench.tui.screens.compare import COMPARE_CSS, STYLES, CompareScreen, one_line
from tlsbench.tui.screens.dialog_css import DIALOG_CSS


class RunChoice(NamedTuple):
    label: str  # "#1 now", "#2", ...
    record: dict[str, Any]


RECORD_WAIT_S = 3.0  # History opened while the last run is still being written waits this long at most


def entry_record(entry: Any) -> dict[str, Any]:
    """The history record of a workbench run (made once, when it finished; else now, not written)."""
    pending = getattr(entry, "recorded", None)
    if pending is not None:
        pending.wait(RECORD_WAIT_S)  # the write's record, not a second one with another time
    record = getattr(entry, "record", None)
    if record is None:
        from tlsbench.history.record import make_record

        record = make_record(entry.profile or "", "workbench", entry.spec, entry.result.to_json_dict())
        entry.record = record
    return record


def record_finished(screen: Any, entry: Any) -> None:
    """Keep a finished run of a saved profile in its history; a failure is one notification.
    A run without a profile gets its record now too (its time is the run's), kept in memory only."""
    if not entry.profile:
        entry_record(entry)
        return
    import threading

    from tlsbench.history.recording import record_run

    # Off the UI thread: the append may wait for another process's lock (up to 2 s) and a trim
    # rewrites the file (20-60 ms).
    done = entry.recorded = threading.Event()
    result_json = entry.result.to_json_dict()

    def write() -> None:
        problem = None
        try:
            recorded = record_run(entry.profile, "workbench", entry.spec, result_json)
            entry.record, problem = recorded.record, recorded.problem
        except Exception as exc:  # noqa: BLE001 - never a traceback from a history write: one line
            problem = f"history not written: {type(exc).__name__}: {exc}"
        finally:
            done.set()
        if problem:
            try:
                screen.app.call_from_thread(screen.notify, one_line(problem).plain, title="History",
                                            severity="warning", markup=False)
            except RuntimeError:  # the app has closed meanwhile
                pass

    threading.Thread(target=write, name="tlsbench-history", daemon=True).start()


def runs_for(screen: Any) -> tuple[list[RunChoice], str, str | None]:
    """The runs to list for the workbench's current run, newest first; the title; a note (lines skipped)."""
    from tlsbench.tui.run_status import same_connection

    current = screen.query_one("#results").result
    profile: str | None = screen.current_profile
    spec = screen.current_spec
    entries = list(screen.history)
    now = next((e for e in reversed(entries) if e.result is current), None)
    if now is None:  # shown without a run of its own (not expected): compare it as it is
        from tlsbench.history.record import make_record

        now_record = make_record(profile or "", "workbench", spec, current.to_json_dict())
    else:
        now_record = entry_record(now)
    records: list[dict[str, Any]] = []
    note = None
    if profile:
        from tlsbench.history.store import HistoryError, HistoryStore

        try:
            read = HistoryStore().read(profile)
            records, note = list(read.runs), read.skipped_note()
        except HistoryError as exc:
            note = str(exc)
    key = (now_record["at"], now_record["source"])
    records = [r for r in records if (r["at"], r["source"]) != key]
    on_disk = {(r["at"], r["source"]) for r in records}
    for entry in entries:  # this session's runs that are not in the file (history off, a write refused)
        if entry is now or not same_connection(entry.profile, entry.spec, profile, spec):
            continue
        record = entry_record(entry)
        if (record["at"], record["source"]) not in on_disk:
            records.append(record)
    others = sorted(records, key=lambda r: r["at"], reverse=True)
    choices = [RunChoice("#1 now", now_record)] + [RunChoice(f"#{i}", r) for i, r in enumerate(others, 2)]
    title = f"History of {profile}" if profile else f"Runs of {current.target} in this session"
    return choices, title, note


def open_history(screen: Any) -> None:
    choices, title, note = runs_for(screen)
    screen.app.push_screen(HistoryScreen(choices, title, note))


class HistoryScreen(ModalScreen[None]):
    """The runs, newest first: mark, run, when, verdict, total, findings."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + COMPARE_CSS

    BINDINGS = bindings("history")

    def __init__(self, choices: list[RunChoice], title: str, note: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.choices, self.title_text, self.note = choices, title, note
        self.marked: list[int] = []
        # The highlighted row, kept here so that F4 then Enter typed at once finds the previous run
        # preselected even before the table has drawn.
        self.selected = 1 if len(choices) > 1 else 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide runs"):
            yield Static(one_line(f"{self.title_text} ({len(self.choices)} runs)", "bold"), classes="dialog-title")
            hint = "Enter: compare with #1 (now) · Space: mark two to compare · Esc: close"
            if self.note:
                yield Static(one_line(self.note, "yellow"), id="history-note")
            yield Static(Text(hint, style="dim"), id="history-hint")
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(" ", "run", "when (UTC)", "from", "verdict", "total", "findings")
        for i, choice in enumerate(self.choices):
            table.add_row(*self._cells(i), key=str(i))
        table.focus()
        table.move_cursor(row=self.selected)  # the previous run: F4 then Enter compares it with this one

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.selected = event.cursor_row

    def _cells(self, i: int) -> tuple[Text, ...]:
        record = self.choices[i].record
        result = record.get("result") or {}
        status = verdict(result)
        total = result.get("total_ms")
        when = str(record.get("at", "?")).replace("T", " ").rstrip("Z")
        mark = Text("●" if i in self.marked else " ", style="bold")
        return (mark, Text(self.choices[i].label, style="bold"), one_line(when[:23]),
                one_line(record.get("source", "?")),
                Text(status, style=STYLES.get(status, "")),
                Text(f"{total:.1f} ms" if isinstance(total, (int, float)) else "?"),
                one_line(", ".join(dict.fromkeys(finding_codes(result))) or "-"))

    def _refresh_marks(self) -> None:
        table = self.query_one(DataTable)
        for i in range(len(self.choices)):
            table.update_cell(str(i), table.ordered_columns[0].key, self._cells(i)[0])

    def action_mark(self) -> None:
        row = self.selected
        if row in self.marked:
            self.marked.remove(row)
        else:
            self.marked.append(row)
            del self.marked[:-2]  # a third mark replaces the first
        self._refresh_marks()

    def pair(self) -> tuple[int, int] | None:
        """The two rows to compare (older first, by position in the list), or None."""
        row = self.selected
        if len(self.marked) == 2:
            a, b = self.marked
        elif len(self.marked) == 1:
            a, b = self.marked[0], row
        else:
            a, b = row, 0
        if a == b:
            return None
        return (max(a, b), min(a, b))  # the lower in the list is the older: it is A

    def action_compare(self) -> None:
        pair = self.pair()
        if pair is None:
            self.notify("choose another run to compare with (↑/↓, or Space to mark two)", severity="warning")
            return
        a, b = (self.choices[i] for i in pair)
        self.app.push_screen(CompareScreen(a.record, b.record, a.label, b.label, self.title_text))

    def action_close(self) -> None:
        self.dismiss(None)

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


class Listing(NamedTuple):
    """What F4 lists before the history file is read: the current run and this session's runs."""

    now: dict[str, Any]
    session: list[dict[str, Any]]  # this session's other runs of the connection
    title: str
    profile: str | None  # whose history file is read after the screen is shown


def session_listing(screen: Any) -> Listing:
    """The runs F4 shows at once: the current one and this session's runs of the same connection."""
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
    session = [entry_record(e) for e in entries
               if e is not now and same_connection(e.profile, e.spec, profile, spec)]
    title = f"History of {profile}" if profile else f"Runs of {current.target} in this session"
    return Listing(now_record, session, title, profile or None)


def open_history(screen: Any) -> None:
    """Show the list at once; a saved profile's history file is read in a thread and its runs
    stream in, newest first (a 234-run file takes ~65 ms to decode: not on the UI thread)."""
    listing = session_listing(screen)
    history = HistoryScreen(listing.now, listing.session, listing.title, reading=listing.profile is not None)
    screen.app.push_screen(history)
    if listing.profile is not None:
        import threading

        threading.Thread(target=read_history, args=(screen.app, history, listing.profile),
                         name="tlsbench-history-read", daemon=True).start()


def read_history(app: Any, history: HistoryScreen, profile: str) -> None:
    """The history file's runs, batch by batch, handed to the screen on the UI thread."""
    from tlsbench.history.store import HistoryError, HistoryStore

    try:
        try:
            for batch in HistoryStore().newest(profile):
                app.call_from_thread(history.add_runs, batch.runs, batch.skipped_note(), batch.done)
        except HistoryError as exc:
            app.call_from_thread(history.add_runs, [], str(exc), True)
    except RuntimeError:  # the app has closed meanwhile
        pass


def _key(record: dict[str, Any]) -> tuple[Any, Any]:
    return (record.get("at"), record.get("source"))


class HistoryScreen(ModalScreen[None]):
    """The runs, newest first: mark, run, when, verdict, total, findings."""

    SCOPED_CSS = False
    DEFAULT_CSS = DIALOG_CSS + COMPARE_CSS

    BINDINGS = bindings("history")

    def __init__(self, now: dict[str, Any], session: list[dict[str, Any]], title: str,
                 note: str | None = None, reading: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.note, self.reading = title, note, reading
        self.choices: list[RunChoice] = []
        self._ids: list[int] = []  # each row's identity (its DataTable key), parallel to choices
        self._seen: set[tuple[Any, Any]] = set()
        self._serial = 0
        self.marked: list[int] = []  # row identities, at most two
        # The highlighted row's identity, kept here so that F4 then Enter typed at once finds the
        # previous run preselected even before the table has drawn, or the file has been read.
        self._selected_id: int | None = None
        self._moved = False  # the person moved the highlight: a late batch must not move it
        self._settling: int | None = None  # after a redraw: the row the cursor is being put back on
        self._compare_when_read = False  # Enter came before the file was read
        self._merge([now], first=True)
        self._merge(session)

    # -- the list: merged and kept newest first as runs come in

    @property
    def selected(self) -> int:
        return self._ids.index(self._selected_id) if self._selected_id in self._ids else 0

    def _merge(self, records: list[dict[str, Any]], first: bool = False) -> bool:
        """Add the runs not listed yet (the first call: the current run first); True when a row went
        anywhere but after the rows already listed (the table is then redrawn)."""
        fresh = [r for r in records if _key(r) not in self._seen]
        if not fresh:
            return False
        pool = {i: c.record for i, c in zip(self._ids, self.choices)}
        new_ids = []
        for record in fresh:
            self._seen.add(_key(record))
            pool[self._serial] = record
            new_ids.append(self._serial)
            self._serial += 1
        if first:
            now_id, old, others = new_ids[0], [], new_ids[1:]
        else:
            now_id, old = self._ids[0], self._ids[1:]
            others = old + new_ids
        ordered = sorted(others, key=lambda i: str(pool[i].get("at", "")), reverse=True)
        self._ids = [now_id] + ordered
        self.choices = [RunChoice("#1 now" if n == 0 else f"#{n + 1}", pool[i]) for n, i in enumerate(self._ids)]
        if not self._moved and len(self._ids) > 1 and self._selected_id in (None, now_id):
            self._selected_id = self._ids[1]  # the previous run: F4 then Enter compares it with this one
        elif self._selected_id is None:
            self._selected_id = now_id
        return ordered[:len(old)] != old

    def add_runs(self, records: list[dict[str, Any]], note: str | None, done: bool) -> None:
        """A batch of the history file's runs (older than any before), on the UI thread."""
        before = len(self.choices)
        redraw = self._merge(records)
        if done:
            self.reading = False
        if note:
            self.note = note
        if not self.is_attached:
            return
        if self.is_mounted:
            self._show_note()
            self._show_title()
            table = self.query_one(DataTable)
            if redraw:
                self._fill(table)
            else:
                for n in range(before, len(self.choices)):
                    table.add_row(*self._cells(n), key=str(self._ids[n]))
                self._put_cursor(table)
        if done and self._compare_when_read:
            self._compare_when_read = False
            self.action_compare()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide runs"):
            yield Static(self._title_line(), classes="dialog-title", id="history-title")
            hint = "Enter: compare with #1 (now) · Space: mark two to compare · Esc: close"
            yield Static(one_line(self.note or "", "yellow"), id="history-note")
            yield Static(Text(hint, style="dim"), id="history-hint")
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def _title_line(self) -> Text:
        count = f"{len(self.choices)} runs" + (", reading the history file…" if self.reading else "")
        return one_line(f"{self.title_text} ({count})", "bold")

    def _show_title(self) -> None:
        self.query_one("#history-title", Static).update(self._title_line())

    def _show_note(self) -> None:
        note = self.query_one("#history-note", Static)
        note.display = bool(self.note)
        note.update(one_line(self.note or "", "yellow"))

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(" ", "run", "when (UTC)", "from", "verdict", "total", "findings")
        self._show_note()
        self._show_title()  # runs may have come in between compose and mount
        self._fill(table)
        table.focus()

    def _fill(self, table: DataTable) -> None:
        table.clear()
        for n in range(len(self.choices)):
            table.add_row(*self._cells(n), key=str(self._ids[n]))
        self._put_cursor(table)

    def _put_cursor(self, table: DataTable) -> None:
        if table.cursor_row != self.selected:
            self._settling = self._selected_id
            table.move_cursor(row=self.selected)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None:
            return
        row_id = int(key)
        if self._settling is not None:
            # Highlights queued before the cursor was put back (a redraw's) are stale: only the
            # one for the row it was put on ends the wait.
            if row_id == self._settling:
                self._settling = None
            return
        if row_id != self._selected_id:
            self._moved = True
        self._selected_id = row_id

    def _cells(self, i: int) -> tuple[Text, ...]:
        record = self.choices[i].record
        result = record.get("result") or {}
        status = verdict(result)
        total = result.get("total_ms")
        when = str(record.get("at", "?")).replace("T", " ").rstrip("Z")
        mark = Text("●" if self._ids[i] in self.marked else " ", style="bold")
        return (mark, Text(self.choices[i].label, style="bold"), one_line(when[:23]),
                one_line(record.get("source", "?")),
                Text(status, style=STYLES.get(status, "")),
                Text(f"{total:.1f} ms" if isinstance(total, (int, float)) else "?"),
                one_line(", ".join(dict.fromkeys(finding_codes(result))) or "-"))

    def _refresh_marks(self) -> None:
        table = self.query_one(DataTable)
        for i in range(len(self.choices)):
            table.update_cell(str(self._ids[i]), table.ordered_columns[0].key, self._cells(i)[0])

    def action_mark(self) -> None:
        row_id = self._ids[self.selected]
        if row_id in self.marked:
            self.marked.remove(row_id)
        else:
            self.marked.append(row_id)
            del self.marked[:-2]  # a third mark replaces the first
        self._refresh_marks()

    def pair(self) -> tuple[int, int] | None:
        """The two rows to compare (older first, by position in the list), or None."""
        row = self.selected
        marked = [self._ids.index(m) for m in self.marked]
        if len(marked) == 2:
            a, b = marked
        elif len(marked) == 1:
            a, b = marked[0], row
        else:
            a, b = row, 0
        if a == b:
            return None
        return (max(a, b), min(a, b))  # the lower in the list is the older: it is A

    def action_compare(self) -> None:
        if self.reading and not self._moved and not self.marked:
            self._compare_when_read = True  # F4 then Enter at once: the previous run may be in the file
            return
        pair = self.pair()
        if pair is None:
            self.notify("choose another run to compare with (↑/↓, or Space to mark two)", severity="warning")
            return
        a, b = (self.choices[i] for i in pair)
        self.app.push_screen(CompareScreen(a.record, b.record, a.label, b.label, self.title_text))

    def action_close(self) -> None:
        self.dismiss(None)

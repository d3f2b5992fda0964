"""The live waterfall: one StageRow per stage, appearing as the stage starts, updated in place.

Rows come in the order the engine runs the stages, however many there are (a direct connection,
one proxy or several); a finished result puts them in its own order. Up and down move between rows.

A stage run inside another (a DNS-over-HTTPS lookup's own connection inside the resolve stage: its
events carry `parent`) gets a row of its own, keyed by its path ("resolve/tls"), labelled with it
("resolve › tls handshake") and drawn indented right under its parent's row, in the order its
stages ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widgets import Static

from tlsbench.tui.actions import bindings
from tlsbench.tui.run_status import stage_status
from tlsbench.tui.widgets.stage_row import StageRow

if TYPE_CHECKING:
    from textual.timer import Timer

EMPTY_NOTE = "Enter on a profile (or ctrl+r) runs it; its stages appear here."


class Waterfall(VerticalScroll):
    """Stages of the current run. Feed it engine events through the methods below."""

    BINDINGS = bindings("waterfall")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: dict[str, StageRow] = {}  # by the plan's step key (a nested stage's: its path)
        self.order: list[str] = []  # the plan's keys, in order
        self.labels: dict[str, str] = {}
        self.previous = None  # the previous ProbeResult of the same connection, shown beside each row
        self._spinner: Timer | None = None

    def compose(self):
        yield Static(EMPTY_NOTE, classes="empty-note")

    def on_mount(self) -> None:
        self.border_title = "Stages"
        self._spinner = self.set_interval(0.1, self._tick, pause=True)

    def _tick(self) -> None:
        running = [row for row in self.rows.values() if row.status == "running"]
        for row in running:
            row.tick()
        if not running and self._spinner is not None:
            self._spinner.pause()

    def reset(self, previous=None) -> None:
        self.previous = previous
        self.rows.clear()
        self.order = []
        self.labels = {}
        self.remove_children()

    def plan(self, steps) -> None:
        """The run's plan arrived: one row per step, in order, before any stage starts."""
        self.query(".empty-note").remove()
        self.order = [s.key for s in steps]
        self.labels = {s.key: s.label for s in steps}
        for step in steps:
            row = self._row(step.key, 0.0, step.doing, waiting=True)
            if step.skip is not None:
                row.skip(step.skip)

    def _row(self, stage: str, started_ms: float, doing: str = "", waiting: bool = False) -> StageRow:
        row = self.rows.get(stage)
        if row is None:
            self.query(".empty-note").remove()
            row = StageRow(stage, started_ms, doing, label=self.labels.get(stage), waiting=waiting)
            prev = self.previous.stage(stage) if self.previous is not None else None
            if prev is not None:
                status = stage_status(prev)
                if status == "ok":
                    row.previous_ms = prev.duration_ms
                else:
                    row.previous_status = status
            self.rows[stage] = row
            # Keep the plan's order even if events arrive out of order.
            later = [self.rows[s] for s in self.order[self.order.index(stage) + 1:] if s in self.rows] \
                if stage in self.order else []
            mounted_later = [r for r in later if r.is_attached]
            if mounted_later:
                self.mount(row, before=mounted_later[0])
            else:
                self.mount(row)
        return row

    def nested_key(self, parent: str | None, stage: str, kind: str = "") -> str:
        """The row key of a stage (its path when it runs inside another), its row placed and labelled:
        after the parent's row and the parent's nested rows so far."""
        if parent is None:
            return stage
        key = f"{parent}/{stage}"
        if key not in self.order:
            inside = [i for i, k in enumerate(self.order) if k == parent or k.startswith(parent + "/")]
            at = inside[-1] + 1 if inside else len(self.order)
            self.order.insert(at, key)
            from tlsbench.engine.plan import KINDS

            own = KINDS.get(kind or stage.split("#")[0])
            label = own.label if own is not None else stage.replace("#", " ")
            self.labels[key] = " › ".join([self.labels.get(parent, parent.rsplit("/", 1)[-1]), label])
        return key

    def stage_started(self, stage: str, at_ms: float, doing: str, parent: str | None = None) -> None:
        row = self._row(self.nested_key(parent, stage), at_ms, doing)
        row.start(at_ms, doing)
        if self._spinner is not None:
            self._spinner.resume()

    def stage_finished(self, record) -> None:
        row = self._row(self.nested_key(record.parent, record.id, record.name), record.started_ms)
        row.started_ms = record.started_ms
        row.finish(stage_status(record), record.duration_ms, record.summary, record.detail)
        self.rescale()

    def stage_skipped(self, stage: str, reason: str, parent: str | None = None) -> None:
        row = self._row(self.nested_key(parent, stage), self._elapsed())
        row.skip(reason)
        self.rescale()

    def message_seen(self, event) -> None:
        parent = getattr(event, "parent", None)
        row = self.rows.get(f"{parent}/{event.stage}" if parent else event.stage)
        if row is not None:
            row.add_message(event)

    def cancel_running(self) -> None:
        for row in self.rows.values():
            if row.status == "waiting":
                row.skip("cancelled")
            elif row.status == "running":
                row.finish("cancelled", self._elapsed() - row.started_ms, "cancelled", row.detail)

    def _elapsed(self) -> float:
        ends = [r.started_ms + (r.duration_ms or 0.0) for r in self.rows.values()]
        return max(ends, default=0.0)

    def rescale(self, total_ms: float | None = None) -> None:
        total = total_ms if total_ms else self._elapsed()
        for row in self.rows.values():
            row.scale_ms = total
            row.redraw(body=False)

    def show_result(self, result) -> None:
        """Bring the rows in line with a finished result (also used to show a stored result)."""
        if not self.order:
            self.order = [r.id for r in result.stages]
            self.labels = {r.id: r.label for r in result.stages if r.label}
        for record in result.stages:
            row = self._row(record.id, record.started_ms)
            if row.status == "running" or row.detail is None:
                row.started_ms = record.started_ms
                if record.status == "skipped":
                    row.skip(record.summary)
                else:
                    row.finish(stage_status(record), record.duration_ms, record.summary, record.detail)
            if record.id == "tls" and not row.messages:
                row.messages = list(result.messages)
            self.show_nested(record)
        if result.cancelled:
            self.cancel_running()
        self.rescale(result.total_ms)

    def show_nested(self, record) -> None:
        """The records of a connection a stage made inside it (a stored result's DoH lookup: the resolve
        stage's detail holds them as `connection`), drawn as the live run drew them."""
        for inner in getattr(record.detail, "connection", None) or ():
            parent = inner.parent or record.id
            row = self._row(self.nested_key(parent, inner.id, inner.name), inner.started_ms)
            if row.detail is None and row.status in ("running", "waiting"):
                if inner.status == "skipped":
                    row.skip(inner.summary)
                else:
                    row.finish(stage_status(inner), inner.duration_ms, inner.summary, inner.detail)

    def expand(self, stage: str) -> None:  # type: ignore[override]  # hides Widget.expand (unused by containers)
        row = self.rows.get(stage)
        if row is not None and not row.expanded:
            row.action_toggle()

    def action_move(self, delta: int) -> None:
        rows = [row for row in self.children if isinstance(row, StageRow)]
        if not rows:
            self.scroll_relative(y=delta, animate=False)
            return
        focused = self.screen.focused
        index = rows.index(focused) if focused in rows else (-1 if delta > 0 else len(rows))
        target = rows[max(0, min(len(rows) - 1, index + delta))]
        target.focus()

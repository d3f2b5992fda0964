"""One row of the waterfall: a stage's status, duration and bar; Enter or a click expands its details."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tlsbench.tui.actions import bindings
from tlsbench.tui.safe_text import data

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
MARKS = {"ok": ("✔", "bold green"), "failed": ("✘", "bold red"), "skipped": ("–", "dim"),
         "cancelled": ("■", "bold yellow"), "waiting": ("·", "dim")}
BAR_WIDTH = 20


class StageRow(Vertical, can_focus=True):
    """A stage in the waterfall. Updated in place as events arrive; never recomposed."""

    BINDINGS = bindings("stage-row")
    SCOPED_CSS = False
    DEFAULT_CSS = """
    .stage-row { height: auto; }
    .stage-row:focus > .stage-head { background: $primary; color: $text; text-style: bold; }
    .stage-row .stage-head { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    .stage-row .stage-body { display: none; height: auto; padding: 0 0 1 4; color: $text; }
    .stage-row.-nested .stage-body { padding: 0 0 1 8; }
    .stage-row.-expanded .stage-body { display: block; }
    .stage-row.-failed .stage-head { background: $error 15%; }
    .stage-row.-cancelled .stage-head { background: $warning 15%; }
    """

    def __init__(self, stage: str, started_ms: float, doing: str = "", label: str | None = None,
                 waiting: bool = False) -> None:
        """`waiting`: announced by the run's plan, not started yet (it shows no spinner until it is).
        `stage` is the plan's step key, or for a stage run inside another its path ("resolve/tls"):
        such a row is drawn indented under its parent's."""
        status = "waiting" if waiting else "running"
        self.kind = stage.rsplit("/", 1)[-1].split("#")[0]  # the stage kind's name
        self.depth = stage.count("/")  # 0 for the run's own stages
        super().__init__(classes=f"stage-row stage-{self.kind} -{status}" + (" -nested" if self.depth else ""))
        self.stage = stage
        if label is None:
            from tlsbench.engine.plan import KINDS  # here: not needed for the first screen

            kind = KINDS.get(self.kind)
            label = kind.label if kind else stage
        self.label = label
        self.status = status
        self.started_ms = started_ms
        self.duration_ms: float | None = None
        self.doing = doing
        self.summary = ""
        self.detail = None
        self.messages: list = []
        self.previous_ms: float | None = None
        self.previous_status: str | None = None
        self.expanded = False
        self.frame = 0
        self.scale_ms = 1.0  # the total the bar is drawn against

    def compose(self) -> ComposeResult:
        yield Static(self.header_text(), classes="stage-head")
        yield Static(self.body_text() if self.expanded else "", classes="stage-body")

    def on_mount(self) -> None:
        self.redraw()  # what arrived while it was being composed

    # --- state changes, called by the waterfall ---------------------------------------------

    def finish(self, status: str, duration_ms: float, summary: str, detail) -> None:
        self.status, self.duration_ms, self.summary, self.detail = status, duration_ms, summary, detail
        self.set_class(False, "-running", "-waiting")
        self.add_class(f"-{status}")
        self.redraw()

    def skip(self, reason: str) -> None:
        self.status, self.summary, self.duration_ms = "skipped", reason, 0.0
        self.set_class(False, "-running", "-waiting")
        self.add_class("-skipped")
        self.redraw()

    def add_message(self, message) -> None:
        self.messages.append(message)
        if self.expanded:
            self.redraw()

    def start(self, started_ms: float, doing: str) -> None:
        """The stage began (a row the plan announced, or one seen first now)."""
        if self.status == "waiting":
            self.status = "running"
            self.set_class(False, "-waiting")
            self.add_class("-running")
        self.started_ms, self.doing = started_ms, doing or self.doing
        self.redraw(body=False)

    def tick(self) -> None:
        self.frame += 1
        self.redraw(body=False)

    def action_toggle(self) -> None:  # type: ignore[override]  # the row's own action, not DOMNode.toggle(attr)
        self.expanded = not self.expanded
        self.set_class(self.expanded, "-expanded")
        self.redraw()
        if self.expanded and self.has_focus:  # what opened is brought into view (its top first)
            self.call_after_refresh(lambda: self.scroll_visible(animate=False))

    def on_click(self) -> None:
        self.focus()
        self.action_toggle()

    # --- drawing ------------------------------------------------------------------------------

    def redraw(self, body: bool = True) -> None:
        heads = self.query(".stage-head")
        if not heads:
            return  # not composed yet: compose() draws the state as it is then
        heads.first(Static).update(self.header_text())
        if body:
            self.query_one(".stage-body", Static).update(self.body_text() if self.expanded else "")

    def bar_width(self) -> int:
        """20 cells when there is room; fewer in a narrow panel, so the line is never cut."""
        width = self.content_size.width
        return BAR_WIDTH if not width else max(6, min(BAR_WIDTH, width - 33))

    def bar(self) -> Text:
        cells = self.bar_width()
        scale = max(self.scale_ms, 0.001)
        start = min(cells - 1, int(self.started_ms / scale * cells))
        if self.status == "waiting":
            return Text(" " * cells)
        if self.duration_ms is None:
            return Text(" " * start + "▸", style="yellow").append(" " * (cells - start - 1))
        size = max(1, round(self.duration_ms / scale * cells)) if self.status != "skipped" else 0
        size = min(size, cells - start)
        style = {"ok": "green", "failed": "red"}.get(self.status, "dim")
        out = Text(" " * start)
        out.append("█" * size, style=style)
        out.append("·" * (cells - start - size), style="bright_black")
        return out

    def header_text(self) -> Text:
        """'▸ ✔ tls handshake   2.6 ms  ███··  prev 2.4 ms  summary' on one line when it fits;
        otherwise the previous time and the summary go on a second line, where they can be read."""
        arrow = "▾" if self.expanded else "▸"
        indent = "  " * self.depth  # a nested stage under its parent's row
        if self.status == "running":
            mark, mark_style = SPINNER[self.frame % len(SPINNER)], "bold yellow"
        else:
            mark, mark_style = MARKS.get(self.status, ("?", ""))
        text = Text(f"{indent}{arrow} ", style="dim", no_wrap=True, overflow="ellipsis")
        text.append(f"{mark} ", style=mark_style)
        # Nested labels carry their parent's ("resolve › tcp connect"): a wider column of their own.
        column = 14 if not self.depth else 22 - len(indent)
        text.append(f"{self.label:<{column}}", style="bold" if not self.depth else "")
        if self.status == "running":
            text.append(f"{'running…':>11}  ", style="yellow")
        elif self.status == "waiting":
            text.append(f"{'waiting':>11}  ", style="dim")
        elif self.status == "skipped":
            text.append(f"{'skipped':>11}  ", style="dim")
        elif self.status == "cancelled" and not self.duration_ms:
            text.append(f"{'cancelled':>11}  ", style="yellow")
        else:
            text.append(f"{self.duration_ms or 0.0:>8.1f} ms  ")
        text.append_text(self.bar())
        tail = Text()
        if self.previous_ms is not None:
            tail.append(f"prev {self.previous_ms:.1f} ms  ", style="dim italic")
        elif self.previous_status is not None and not (self.previous_status == self.status == "skipped"):
            tail.append(f"prev {self.previous_status}  ", style="dim italic")
        tail.append_text(data(self.doing if self.status in ("running", "waiting") else self.summary,
                              {"failed": "red", "cancelled": "yellow"}.get(self.status, ""), keep_newlines=False))
        width = self.content_size.width
        if width and text.cell_len + 2 + tail.cell_len > width:
            text.append("\n    ")
        else:
            text.append("  ")
        text.append_text(tail)
        return text

    def on_resize(self) -> None:
        self.redraw()  # the summary's place and the hex dump's width follow the room there is

    def body_text(self) -> Text:
        from tlsbench.tui.stage_text import detail_text, message_line  # not needed for the first screen

        if self.detail is None:
            out = data(self.doing or self.summary, "dim")
            for m in self.messages:
                out.append("\n")
                out.append_text(message_line(m.at_ms, m.direction, m.name, m.version, m.length))
            return out
        columns = (self.content_size.width or 100) - 4  # the body is indented by 4
        return detail_text(self.detail, self.messages if self.kind in ("tls", "proxy-tls") else (), columns,
                           nested=bool(self.depth))

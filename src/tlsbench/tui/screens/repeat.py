"""Repeat mode (F10): the connection run again and again, with what changes and what does not.

Count (0: until stopped) and interval (seconds from one run's start to the next) are asked first;
the runs go one after another through the engine process (engine/series/isolated.py), each folded into
`probe --count`'s statistics (tui/repeat_series.py over engine/series/stats.py). While it runs and after:
done/total and the success rate; per stage `label  min  median  p95  max` and a sparkline of its
last times; the local ports (lowest, highest, distinct, reused); the leaf certificates seen (more
than one: cert-varies); each finding code with its count. ctrl+g stops (the run in flight is
cancelled at once); Esc stops and goes back to the results, showing the last run.
"""

from __future__ import annotations

import threading
import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Sparkline, Static

from tlsbench.tui.actions import bindings
from tlsbench.engine.cancel import CancelToken
from tlsbench.errors import InputError
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.tui.repeat_series import RECENT, RepeatSeries, StageLine, short_fingerprint
from tlsbench.tui.safe_text import data
from tlsbench.tui.widgets.action_bar import ActionBar
from tlsbench.tui.widgets.key_bar import KeyBar

DEFAULT_COUNT = 20
DEFAULT_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
MAX_COUNT = 1_000_000
LABEL_WIDTH = 14
NUMBER_WIDTH = 8
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
TOOLBAR = [("start", "▶ Start", "^r"), ("stop", "■ Stop", "^g"), ("back", "Back", "Esc")]


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def stage_text(line: StageLine) -> Text:
    """`label  min  median  p95  max` (milliseconds), the label cut to its column."""
    label = line.label if len(line.label) <= LABEL_WIDTH - 1 else line.label[:LABEL_WIDTH - 2] + "…"
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append_text(data(f"{label:<{LABEL_WIDTH}}", "bold"))
    for value in (line.min, line.median, line.p95, line.max):
        out.append(f"{ms(value):>{NUMBER_WIDTH}}")
    if line.failed:
        out.append(f"  {line.failed} failed", style="red")
    return out


def header_text() -> Text:
    out = Text(f"{'stage':<{LABEL_WIDTH}}", style="dim", no_wrap=True)
    for name in ("min", "median", "p95", "max"):
        out.append(f"{name:>{NUMBER_WIDTH}}", style="dim")
    out.append(f"  ms   last {RECENT} runs →", style="dim")
    return out


class RepeatRunDone(Message):
    def __init__(self, series_id: int, result: ProbeResult) -> None:
        super().__init__()
        self.series_id, self.result = series_id, result


class RepeatEnded(Message):
    def __init__(self, series_id: int, error: str | None = None) -> None:
        super().__init__()
        self.series_id, self.error = series_id, error


class StageStatsRow(Horizontal):
    """One stage: its numbers, then a sparkline of its last times."""

    DEFAULT_CSS = f"""
    StageStatsRow {{ height: 1; width: 1fr; }}
    StageStatsRow > .stage-numbers {{ width: {LABEL_WIDTH + 4 * NUMBER_WIDTH + 2}; height: 1; }}
    StageStatsRow > Sparkline {{ width: 1fr; max-width: {RECENT}; height: 1; margin-right: 1; }}
    """

    def __init__(self, line: StageLine) -> None:
        super().__init__(classes=f"stage-stats stage-stats-{line.key.replace('#', '-')}")
        self.line = line

    def compose(self) -> ComposeResult:
        yield Static(stage_text(self.line), classes="stage-numbers")
        yield Sparkline(list(self.line.recent), summary_function=max)

    def show(self, line: StageLine) -> None:
        self.line = line  # (a row not yet composed draws it when it is)
        for numbers in self.query(".stage-numbers").results(Static):
            numbers.update(stage_text(line))
        for spark in self.query(Sparkline):
            spark.data = list(line.recent)


class RepeatScreen(Screen[ProbeResult | None]):
    """Dismissed with the last finished run (None when none ran)."""

    DEFAULT_CSS = """
    RepeatScreen { layout: vertical; }
    RepeatScreen #repeat-title { height: 1; padding: 0 1; background: $boost; }
    RepeatScreen #repeat-controls { height: 1; padding: 0 1; }
    RepeatScreen #repeat-controls Static { width: auto; height: 1; }
    RepeatScreen #repeat-controls Input { width: 10; height: 1; margin: 0 1; }
    RepeatScreen #repeat-toolbar { width: 1fr; }
    RepeatScreen #repeat-status { height: 1; padding: 0 1; }
    RepeatScreen #repeat-body { height: 1fr; padding: 0 1; }
    RepeatScreen #repeat-stages { height: auto; }
    RepeatScreen #repeat-stages-header { height: 1; }
    RepeatScreen .repeat-section { height: auto; margin-top: 1; }
    """

    BINDINGS = bindings("repeat")

    def __init__(self, spec: ConnectionSpec, *, count: int = DEFAULT_COUNT, interval: float = DEFAULT_INTERVAL,
                 start: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.count, self.interval = count, interval
        self.start_at_mount = start
        self.series: RepeatSeries | None = None
        self.series_id = 0
        self.running = False
        self.token: CancelToken | None = None
        self.stopping = threading.Event()
        self.error: str | None = None
        self.stage_keys: list[str] = []
        self.rows: dict[str, StageStatsRow] = {}

    def compose(self) -> ComposeResult:
        title = Text("◆ Repeat  ", style="bold", no_wrap=True, overflow="ellipsis")
        title.append_text(data(self.spec.target))
        yield Static(title, id="repeat-title")
        with Horizontal(id="repeat-controls"):
            yield Static("count")
            yield Input(str(self.count), type="integer", id="repeat-count", compact=True,
                        tooltip="How many runs (0: until stopped)")
            yield Static("interval")
            yield Input(f"{self.interval:g}", type="number", id="repeat-interval", compact=True,
                        tooltip="Seconds from one run's start to the next")
            yield Static("s ")
            yield ActionBar(TOOLBAR, id="repeat-toolbar")
        yield Static(Text("Not started: set the count (0 = until stopped) and the interval, then Enter or ctrl+r.",
                          style="dim"), id="repeat-status")
        with VerticalScroll(id="repeat-body"):
            with Vertical(id="repeat-stages"):
                yield Static(header_text(), id="repeat-stages-header")
            yield Static("", id="repeat-ports", classes="repeat-section")
            yield Static("", id="repeat-certs", classes="repeat-section")
            yield Static("", id="repeat-findings", classes="repeat-section")
        yield KeyBar(id="repeat-keys")

    def on_mount(self) -> None:
        self._sync()
        self.query_one("#repeat-count", Input).focus()
        if self.start_at_mount:
            self.call_after_refresh(self.action_start)

    # --- the series ---------------------------------------------------------------------------------

    def _settings(self) -> tuple[int, float] | None:
        """(count, interval) from the fields, or None after saying which one is wrong."""
        count_text = self.query_one("#repeat-count", Input).value.strip()
        interval_text = self.query_one("#repeat-interval", Input).value.strip()
        try:
            count = int(count_text)
            if not 0 <= count <= MAX_COUNT:
                raise ValueError
        except ValueError:
            self.notify(f"count: a whole number from 0 (until stopped) to {MAX_COUNT:,}", title="Invalid input",
                        severity="error", markup=False)
            return None
        try:
            interval = float(interval_text)
            if not 0 <= interval <= MAX_INTERVAL:
                raise ValueError
        except ValueError:
            self.notify(f"interval: seconds from 0 to {MAX_INTERVAL:g}", title="Invalid input", severity="error",
                        markup=False)
            return None
        return count, interval

    def action_start(self) -> None:
        if self.running:
            return
        settings = self._settings()
        if settings is None:
            return
        self.count, self.interval = settings
        self.series_id += 1
        self.series = RepeatSeries(self.spec.target, self.count)
        self.error = None
        self.stopping = threading.Event()
        self.running = True
        self.stage_keys = []  # the rows of the last series go at the first refresh
        self._refresh_series()
        self._sync()
        self.run_series(self.series_id, self.spec, self.count, self.interval, self.stopping)

    def action_stop(self) -> None:
        if not self.running:
            return
        self.stopping.set()
        token = self.token
        if token is not None:
            token.cancel()

    def action_back(self) -> None:
        self.action_stop()
        self.dismiss(self.series.shown() if self.series is not None else None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    @work(thread=True, exit_on_error=False, group="repeat")
    def run_series(self, series_id: int, spec: ConnectionSpec, count: int, interval: float,
                   stopping: threading.Event) -> None:
        """The runs, one after another; only posts messages (never touches widgets)."""
        from tlsbench.engine.series.isolated import run_probe_isolated

        error = None
        n = 0
        try:
            while not stopping.is_set() and (count == 0 or n < count):
                n += 1
                began = time.monotonic()
                token = CancelToken()
                self.token = token
                if stopping.is_set():
                    break
                result = run_probe_isolated(spec, cancel=token)
                self.post_message(RepeatRunDone(series_id, result))
                if count and n >= count:
                    break
                stopping.wait(max(0.0, interval - (time.monotonic() - began)))
        except InputError as exc:
            error = str(exc)
        except Exception as exc:  # the screen must survive any engine failure and say what happened
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self.token = None
        self.post_message(RepeatEnded(series_id, error))

    def on_repeat_run_done(self, message: RepeatRunDone) -> None:
        if message.series_id != self.series_id or self.series is None:
            return
        self.series.add(message.result)
        self._refresh_series()

    def on_repeat_ended(self, message: RepeatEnded) -> None:
        if message.series_id != self.series_id:
            return
        self.running = False
        self.error = message.error
        self._refresh_series()
        self._sync()
        if self.is_active:
            self.query_one("#repeat-count", Input).focus()  # (the fields were disabled while it ran)

    # --- drawing ------------------------------------------------------------------------------------

    def _sync(self) -> None:
        bar = self.query_one(ActionBar)
        bar.set_enabled("start", not self.running)
        bar.set_enabled("stop", self.running)
        for field in self.query(Input):
            field.disabled = self.running
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start" and self.running:
            return None
        if action == "stop" and not self.running:
            return None
        return True

    def _refresh_series(self) -> None:
        series = self.series
        if series is None:
            return
        self.query_one("#repeat-status", Static).update(self._status_text(series))
        lines = series.stage_lines()
        keys = [line.key for line in lines]
        box = self.query_one("#repeat-stages", Vertical)
        if keys != self.stage_keys:  # a stage appeared (or a new series): the rows again, in run order
            for row in self.rows.values():
                row.remove()
            self.rows = {line.key: StageStatsRow(line) for line in lines}
            box.mount_all(list(self.rows.values()))
            self.stage_keys = keys
        else:
            for line in lines:
                self.rows[line.key].show(line)
        self.query_one("#repeat-ports", Static).update(self._ports_text(series))
        self.query_one("#repeat-certs", Static).update(self._certs_text(series))
        self.query_one("#repeat-findings", Static).update(self._findings_text(series))

    def _status_text(self, series: RepeatSeries) -> Text:
        stats = series.stats
        total = str(series.count) if series.count else "∞"
        if self.running:
            state, style = "running", "bold"
        elif self.error:
            state, style = "stopped by an error", "bold red"
        elif series.finished:
            state, style = "done", "bold green"
        else:
            state, style = "stopped", "bold yellow"
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(f"{state}  ", style=style)
        out.append(f"{stats.runs}/{total} runs")
        rate = series.success_rate()
        if rate is not None:
            out.append(f" · success {rate:.0%}", style="green" if stats.failed == 0 else "yellow")
            out.append(f" ({stats.ok} ok, {stats.failed} failed)")
        if stats.cancelled:
            out.append(f" · {stats.cancelled} cancelled", style="dim")
        if self.error:
            out.append(" · ")
            out.append_text(data(self.error, "red"))
        return out

    def _ports_text(self, series: RepeatSeries) -> Text:
        ports = series.stats.ports
        out = Text("local ports   ", style="bold")
        if ports.runs == 0:
            out.append("none yet", style="dim")
            return out
        reused = ports.to_dict()["reused_ports"] if ports.reuses else 0
        out.append(f"lowest {ports.lowest} · highest {ports.highest} · distinct {ports.distinct} · "
                   f"reused {reused}")
        if ports.reuses:
            out.append(f" ({ports.reuses} runs on a port used before)", style="yellow")
        return out

    def _certs_text(self, series: RepeatSeries) -> Text:
        certs = series.certificates()
        out = Text("certificates  ", style="bold")
        if not certs:
            out.append("none seen", style="dim")
            return out
        out.append("1 leaf certificate" if len(certs) == 1 else f"{len(certs)} distinct leaf certificates")
        for cert in certs[:5]:
            out.append("\n  ")
            out.append(short_fingerprint(cert.sha256), style="cyan")
            out.append(f"  ×{cert.runs}  ")
            out.append_text(data(cert.subject, keep_newlines=False))
        if len(certs) > 5:
            out.append(f"\n  … {len(certs) - 5} more", style="dim")
        for found in series.series_findings():
            out.append("\n  ")
            out.append_text(data(f"[{found.code}]", SEVERITY_STYLE.get(found.severity, "")))
            out.append(" ")
            out.append_text(data(found.title, keep_newlines=False))
        return out

    def _findings_text(self, series: RepeatSeries) -> Text:
        counts = series.findings()
        out = Text("findings      ", style="bold")
        if not counts:
            out.append("none" if series.stats.runs else "none yet", style="dim")
            return out
        for i, count in enumerate(counts):
            if i:
                out.append("\n              ")
            out.append_text(data(count.code, SEVERITY_STYLE.get(count.severity, "")))
            out.append(f" ×{count.runs}  ")
            out.append_text(data(count.title, "dim", keep_newlines=False))
        return out

"""Recording a run: the settings, the record, the append, and one line when it could not be done.

A failure to record is never a failed run: the caller shows the line (stderr, a notification) and
goes on as it would have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from tlsbench.errors import InputError


class Recorded(NamedTuple):
    record: dict[str, Any]  # the run as a record (what was written, or would have been)
    written: bool
    problem: str | None  # one line saying why it was not written (None: written, or history is off)


def record_run(profile: str, source: str, spec: Any, result_json: dict[str, Any], *,
               config_dir: Path | None = None, store: Any = None) -> Recorded:
    """Append the run to its profile's history, as settings.toml says."""
    from tlsbench.history.record import make_record
    from tlsbench.history.settings import load_history_settings
    from tlsbench.history.store import HistoryStore

    try:
        settings = load_history_settings(config_dir)
    except InputError as exc:
        return Recorded(make_record(profile, source, spec, result_json), False,
                        f"history not written: {' '.join(str(exc).split())}")
    record = make_record(profile, source, spec, result_json, keep_exchanged=settings.keep_exchanged)
    if not settings.enabled:
        return Recorded(record, False, None)
    try:
        (store or HistoryStore()).append(record, keep=settings.keep)
    except InputError as exc:
        return Recorded(record, False, f"history not written: {' '.join(str(exc).split())}")
    except OSError as exc:
        return Recorded(record, False,
                        f"history not written: {exc.filename or 'history directory'}: {exc.strerror or exc}")
    return Recorded(record, True, None)


class SeriesRecorder:
    """The last `keep` runs of a `probe --count`/`--watch` series, written to the profile's history
    when the series ends (runs finish in worker processes: each arrives as its JSON line, kept as
    text until then, so memory stays bounded by `keep`)."""

    def __init__(self, profile: str, spec: Any, *, config_dir: Path | None = None, store: Any = None) -> None:
        import collections

        from tlsbench.history.settings import DEFAULTS, load_history_settings

        self.profile, self.spec, self.store = profile, spec, store
        self.problem: str | None = None
        try:
            self.settings = load_history_settings(config_dir)
        except InputError as exc:
            self.settings = DEFAULTS._replace(enabled=False)
            self.problem = f"history not written: {' '.join(str(exc).split())}"
        self.runs: collections.deque[tuple[str, str]] = collections.deque(maxlen=self.settings.keep)

    @property
    def wanted(self) -> bool:
        return self.settings.enabled

    def add(self, json_line: str) -> None:
        """A finished run's one-line JSON object, stamped now (when it ended)."""
        from tlsbench.history.record import now_iso

        self.runs.append((now_iso(), json_line))

    def write(self) -> str | None:
        """Append the kept runs, oldest first; one line saying why not, or None."""
        import json

        from tlsbench.history.record import make_record
        from tlsbench.history.store import HistoryStore

        if self.problem or not self.wanted:
            return self.problem
        store = self.store or HistoryStore()
        try:
            for at, line in self.runs:
                record = make_record(self.profile, "probe", self.spec, json.loads(line),
                                     keep_exchanged=self.settings.keep_exchanged, at=at)
                store.append(record, keep=self.settings.keep)
        except InputError as exc:
            return f"history not written: {' '.join(str(exc).split())}"
        except OSError as exc:
            return f"history not written: {exc.filename or 'history directory'}: {exc.strerror or exc}"
        return None

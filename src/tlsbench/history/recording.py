"""Recording a run: the settings, the record, the append, and one line when it could not be done.

A failure to record is never a failed run: the caller shows the line (stderr, a notification) and
goes on as it would have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from tlsbench.engine.errors import InputError


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

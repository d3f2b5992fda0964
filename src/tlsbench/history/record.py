"""One run as a history record: what was asked (the profile codec's values) and what happened.

    {"v": 1, "at": "2026-11-29T08:21:02.123Z", "profile": NAME, "source": "probe" | "workbench",
     "connection": {... as the profile file would hold it ...}, "result": {... the --json object ...}}

No secret is ever in a record: the connection is written by the profile codec, which never writes a
password (only the name of the variable that holds it), and the result's proxy exchanges already
have their credentials masked (engine/records/redact.py, as every event of a run). As a second guard every
string in the record goes through the same mask again: each of the run's passwords, in every form
it was sent in, becomes "***".

With `keep_exchanged = false` what was sent after connecting (`--send` text, the HTTP request) and
what the server answered (the app stage's answer, the STARTTLS dialogue, a non-TLS peer's first
bytes, the findings' evidence) are left out; the stage's status and time stay.
"""

from __future__ import annotations

import time
from typing import Any

VERSION = 1
SOURCES = ("probe", "workbench")
NOT_KEPT = "(not kept: keep_exchanged = false)"
# Stage detail keys that hold what was sent after connecting or what the server said.
EXCHANGED_KEYS = frozenset({
    "request", "status_line", "first_bytes_text", "first_bytes_hex", "exchange", "greeting", "capabilities",
    "reply", "body_text", "only_after_tls", "only_before_tls", "answer",
})
EXCHANGE_STAGES = frozenset({"app", "starttls"})


def now_iso() -> str:
    """UTC to the millisecond, e.g. 2026-11-29T08:21:02.123Z (time, not datetime: a lighter import)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def make_record(profile: str, source: str, spec: Any, result_json: dict[str, Any], *,
                keep_exchanged: bool = True, at: str | None = None) -> dict[str, Any]:
    """The record of one run of `spec` (a ConnectionSpec) whose JSON object is `result_json`."""
    from tlsbench.profiles.codec import profile_to_data
    from tlsbench.profiles.model import Profile

    connection = profile_to_data(Profile(profile, spec))
    result = result_json
    if not keep_exchanged:
        connection = _without_send(connection)
        result = drop_exchanged(result)
    record = {"v": VERSION, "at": at or now_iso(), "profile": profile, "source": source,
              "connection": connection, "result": result}
    from tlsbench.engine.records.redact import Redactor

    return Redactor.of(spec).keeping([profile]).data(record)


def _without_send(connection: dict[str, Any]) -> dict[str, Any]:
    app = connection.get("app")
    if not isinstance(app, dict) or "send" not in app:
        return connection
    return {**connection, "app": {**{k: v for k, v in app.items() if k != "send"}, "send": NOT_KEPT}}


def drop_exchanged(result: dict[str, Any]) -> dict[str, Any]:
    """The result object without what was sent after connecting and what the server answered."""
    out = dict(result)
    stages = []
    for stage in result.get("stages") or []:
        stage = dict(stage)
        detail = stage.get("detail")
        if isinstance(detail, dict):
            stage["detail"] = _drop_keys(detail)
        if stage.get("name") in EXCHANGE_STAGES and stage.get("status") != "skipped":
            stage["summary"] = NOT_KEPT
        stages.append(stage)
    out["stages"] = stages
    out["findings"] = [{**f, "evidence": []} if isinstance(f, dict) else f for f in result.get("findings") or []]
    return out


def _drop_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_keys(v) for k, v in value.items() if k not in EXCHANGED_KEYS}
    if isinstance(value, list):
        return [_drop_keys(v) for v in value]
    return value

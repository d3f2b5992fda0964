"""A whole run in one JSON file, to keep or to share: `probe --save-run FILE`, `tlsbench show FILE`.

    record = run_record(spec, events)          # events as the engine emitted them, RunFinished last
    save_run("run.json", record)               # atomic, 0600; never over a file that is not a run file
    record = read_run("run.json")              # RunFileError (one line) for anything else
    record.events, record.result, spec_of(record)

The file is one JSON object (docs/saved-runs.md):

    {"format": "tlsbench.run", "version": 1, "tlsbench": "0.1.0", "saved_at": "2026-11-29T08:21:35Z",
     "removed": [...what was left out, in words...],
     "connection": {...the connection as a profile file holds it: no password...},
     "events": [...every event of the run in order, but the last (RunFinished, whose result is "result")...],
     "result": {"$": "ProbeResult", ...}}

Events and the result are encoded by engine/records/codec.py: each record with its type in `"$"`, bytes in
base64, tuples as arrays, fields at their default left out; decoding takes only the record types of
the registry and checks every field, so what is read back equals what the engine emitted. The
schema-3 object of `probe --json` is not in the file (it would be a second copy that could disagree):
scripts get it from `tlsbench show FILE --json`.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any, NamedTuple

from tlsbench.engine.records import jsonout
from tlsbench.engine.connection_data import FormatError, connection_to_data, data_to_spec
from tlsbench.engine.records.details import (AppDetail, CertInfo, ChainDetail, ConnectTry, DnsQuery, DnsRecord, DnsResolver, DohDetail, HttpsRecord, DohQuery, KeyExchangeDetail,
                                     ProxyDetail, ProxyTlsDetail, QuicDetail, RaceDetail,
                                     ReconnectDetail, ResolveDetail, RevocationCheck, RevocationDetail, TcpDetail,
                                     TlsDetail)
from tlsbench.errors import InputError
from tlsbench.engine.events import (Event, FindingRaised, PlanReady, RunFinished, SocketUpdated, StageFinished,
                                    StageSkipped, StageStarted, StepInfo, TlsMessageSeen)
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.codec import JSON, DecodeError, EncodeError, RecordCodec
from tlsbench.engine.records.result import ProbeResult, SocketInfo, StageRecord, TcpInfo, TlsMessage
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.suggestions import Change, Peer, Suggestion

FORMAT = "tlsbench.run"
VERSION = 1  # the format version this tlsbench writes and reads
MAX_BYTES = 1 << 20  # a run file is at most this large (a typical one is 15-50 KB; file_limits.MAX_FILE)
# What a run file never holds, said in the file itself and in docs/saved-runs.md.
REMOVED = (
    "proxy passwords (a proxy's password_env, the name of the variable, is kept; never its value)",
    "proxies taken from the environment ($https_proxy, $all_proxy, ...) are not part of the connection "
    "(the events still show the route the run took)",
)
EVENT_TYPES = (PlanReady, StageStarted, TlsMessageSeen, SocketUpdated, StageFinished, StageSkipped, FindingRaised)


class RunFileError(InputError):
    """A run file that cannot be read as one; the message is one line naming the file and what is wrong."""

    title = "not a usable run file"


class RunRecord(NamedTuple):
    """A saved run: its connection (profile data, no password), every event, the result."""

    connection: dict[str, Any]  # the connection as profiles/codec.py writes it
    events: tuple[Event, ...]  # in order, RunFinished(result) last
    result: ProbeResult
    saved_at: str  # ISO 8601 UTC, e.g. "2026-11-29T08:21:35Z"
    version: int = VERSION  # the format version the file was written in
    tlsbench: str = ""  # the version of tlsbench that wrote it


def _registry() -> list[type]:
    from tlsbench.engine.certs.ct import Sct
    from tlsbench.engine.hops.starttls.detail import ExchangeLine, StarttlsDetail
    from tlsbench.engine.stages.h2frames import H2Frame
    from tlsbench.engine.tls.fingerprint import HelloFingerprint
    from tlsbench.engine.tls.tlsfacts import ClientCertRequest, ServerExtension
    from tlsbench.engine.tls.tlspump import CloseInfo

    return [PlanReady, StepInfo, StageStarted, TlsMessageSeen, SocketUpdated, StageFinished, StageSkipped,
            FindingRaised, RunFinished, ProbeResult, SocketInfo, TcpInfo, StageRecord, TlsMessage, Finding,
            Evidence, Suggestion, Change, Peer, ResolveDetail, ConnectTry, TcpDetail, ProxyDetail, ProxyTlsDetail,
            TlsDetail, CertInfo, ChainDetail, AppDetail, ReconnectDetail, RevocationCheck, RevocationDetail,
            StarttlsDetail, ExchangeLine, ServerExtension, ClientCertRequest, Sct, CloseInfo, H2Frame,
            HelloFingerprint, DohDetail, DohQuery, KeyExchangeDetail, QuicDetail, RaceDetail,
            DnsResolver, DnsQuery, DnsRecord, HttpsRecord]


def _check_change(change: Any) -> str | None:
    """A suggested change must name known options and hold plain values (front-ends word it as flags)."""
    from tlsbench.engine.options import BY_NAME

    for pairs in (change.assign, change.before):
        for pair in pairs:
            if len(pair) != 2 or not isinstance(pair[0], str):
                return "a change must be a list of [option, value] pairs"
            name, value = pair
            if name not in BY_NAME:
                return f"a change names no option: {name[:60]!r}"
            items = value if isinstance(value, tuple) else (value,)
            if not all(v is None or isinstance(v, (bool, int, float, str)) for v in items):
                return f"the value of {name} in a change is not a plain value"
    # Plain values of the wrong shape for their option (a number for a proxy list) could not be
    # worded as flags: what is accepted must be shown.
    from tlsbench.engine.suggestions import cli_change

    try:
        cli_change(change)
    except (TypeError, ValueError, AttributeError, KeyError):
        return "a change holds a value its option cannot take"
    return None


def _check_stage(record: Any) -> str | None:
    if record.name == "chain" and record.detail is not None and not isinstance(record.detail, ChainDetail):
        return "the chain stage's detail must be a ChainDetail"
    return None


_codec: RecordCodec | None = None


def codec() -> RecordCodec:
    """The run file's record codec (built once: the registry imports the detail modules)."""
    global _codec
    if _codec is None:
        from tlsbench.engine.hops.starttls.detail import StarttlsDetail

        details = (ResolveDetail | TcpDetail | ProxyDetail | ProxyTlsDetail | TlsDetail | ChainDetail | AppDetail
                   | StarttlsDetail | ReconnectDetail | RevocationDetail | DohDetail | KeyExchangeDetail | QuicDetail | None)
        from tlsbench.engine.certs.ct import Sct
        from tlsbench.engine.tls.fingerprint import HelloFingerprint
        from tlsbench.engine.tls.tlsfacts import ClientCertRequest, ServerExtension
        from tlsbench.engine.tls.tlspump import CloseInfo
        from tlsbench.engine.stages.h2frames import H2Frame

        # Fields the engine annotates loosely (to keep imports light) are checked as what they hold.
        _codec = RecordCodec(_registry(), overrides={
            ("StageRecord", "detail"): details,
            ("ProbeResult", "closing"): CloseInfo | None,
            ("TlsDetail", "server_extensions"): tuple[ServerExtension, ...],
            ("TlsDetail", "client_cert_request"): ClientCertRequest | None,
            ("TlsDetail", "client_hello"): HelloFingerprint | None,
            ("ChainDetail", "scts"): tuple[Sct, ...],
            ("ProxyTlsDetail", "messages"): tuple[TlsMessage, ...],
            ("ReconnectDetail", "messages"): tuple[TlsMessage, ...],
            ("AppDetail", "frames"): tuple[H2Frame, ...],
            ("DohDetail", "frames"): tuple[H2Frame, ...],
            ("ResolveDetail", "connection"): tuple[StageRecord, ...],
        }, validators={Change: _check_change, StageRecord: _check_stage})
    return _codec


# --- building and writing ----------------------------------------------------------------------------

def connection_of(spec: ConnectionSpec) -> dict[str, Any]:
    """The connection's option values as a profile file holds them (never a password)."""
    return connection_to_data(spec)


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_record(spec: ConnectionSpec, events: list[Event] | tuple[Event, ...], result: ProbeResult | None = None,
               *, saved_at: str | None = None) -> RunRecord:
    """A record of a finished run: its events (RunFinished last, or `result` given for it)."""
    events = tuple(events)
    if events and isinstance(events[-1], RunFinished):
        result = events[-1].result if result is None else result
        events = events[:-1]
    if result is None:
        raise ValueError("a run is saved once it has finished (no result yet)")
    from tlsbench import __version__

    return RunRecord(connection_of(spec), events + (RunFinished(result),), result, saved_at or now_utc(),
                     VERSION, __version__)


def dump_run(record: RunRecord) -> bytes:
    """The file's bytes (UTF-8 JSON). Raises RunFileError if a record cannot be held by the format."""
    events = record.events[:-1] if record.events and isinstance(record.events[-1], RunFinished) else record.events
    c = codec()
    try:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "tlsbench": record.tlsbench,
            "saved_at": record.saved_at,
            "removed": list(REMOVED),
            "connection": record.connection,
            "events": [c.encode(event) for event in events],
            "result": c.encode(record.result),
        }
        data = (jsonout.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    except (EncodeError, ValueError, TypeError) as exc:
        raise RunFileError(f"this run cannot be saved: {exc}") from None
    if len(data) > MAX_BYTES:  # never a file `tlsbench show` would refuse
        raise RunFileError(f"this run cannot be saved: it is {len(data)} bytes, more than a run file may be "
                           f"({MAX_BYTES})")
    return data


def save_run(path: str | os.PathLike[str], record: RunRecord) -> str:
    """Write the run to `path` atomically (new files 0600). An existing file is replaced only when it is
    itself a tlsbench run file; anything else is refused and left as it is. Returns the path written."""
    from tlsbench.safe_files import replace_checked

    check_run_path(path)
    data = dump_run(record)
    written = replace_checked(os.path.expanduser(path), lambda existing: data, accept=_replaceable, limit=MAX_BYTES,
                              what="run file", mode=0o600)
    return str(written)


def check_run_path(path: str | os.PathLike[str]) -> None:
    """Refuse, before a run, a path a run file cannot be saved to (FileRefused, one line): a missing
    folder, a directory, a FIFO or device, an existing file that is not a tlsbench run file."""
    from tlsbench.safe_files import check_replaceable

    check_replaceable(path, accept=_replaceable, limit=MAX_BYTES, what="run file", field="save_run")


def _replaceable(existing: bytes) -> str | None:
    """None for a file a run may be saved over (a run file of any version, or an empty file)."""
    return None if not existing.strip() or _is_run_file(existing) else "exists and is not a tlsbench run file"


def _is_run_file(data: bytes) -> bool:
    """Whether bytes are a tlsbench run file of any version (saving may replace one, never anything else)."""
    from tlsbench.file_limits import json_problem

    try:
        text = data.decode("utf-8-sig")
        if json_problem(text) is not None:
            return False
        document = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and document.get("format") == FORMAT


# --- reading -----------------------------------------------------------------------------------------

def read_run(path: str | os.PathLike[str]) -> RunRecord:
    """Read and check a run file; RunFileError (or FileRefused) names the file and what is wrong."""
    from tlsbench.safe_files import read_regular

    return load_run(read_regular(os.path.expanduser(os.fspath(path)), limit=MAX_BYTES, what="run file"),
                    os.fspath(path))


def load_run(data: bytes, source: str) -> RunRecord:
    """The run in a file's bytes. Every problem is a RunFileError: '<source>: <what is wrong>'."""
    from tlsbench.visible import visible

    name = visible(source, keep_newlines=False)

    def fail(message: str) -> RunFileError:
        return RunFileError(f"{name}: {visible(message, keep_newlines=False)}")

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail("not a tlsbench run file (not UTF-8 text)") from None
    from tlsbench.file_limits import json_problem

    problem = json_problem(text)  # before json.loads, which recurses (a run file nests ~10 levels)
    if problem is not None:
        raise fail(f"{problem}; not read")
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise fail(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise fail(f"not JSON ({_short(exc)})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise fail('not a tlsbench run file (no "format": "tlsbench.run")')
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise fail('"version" must be a whole number')
    if version != VERSION:
        newer = "a newer" if version > VERSION else "an older"
        raise fail(f"written by {newer} tlsbench in run file format version {_short(version)}; this tlsbench "
                   f"reads version {VERSION}")
    try:
        return _record(document)
    except DecodeError as exc:
        raise fail(str(exc)) from None
    except RecursionError:
        raise fail("nested too deeply") from None


def _no_constant(word: str) -> float:
    raise ValueError(f"{word} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number as a float; 1e99999 (which float() makes infinite) is not a number a run holds."""
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{_short(text)} is too large a number")
    return number


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


_KEYS = ("format", "version", "tlsbench", "saved_at", "removed", "connection", "events", "result")


def _record(document: dict[str, JSON]) -> RunRecord:
    extra = [k for k in document if k not in _KEYS]
    if extra:
        raise DecodeError(extra[0][:60], "not a key of a run file")
    for key in ("tlsbench", "saved_at", "connection", "events", "result"):
        if key not in document:
            raise DecodeError(key, "missing")
    for key, kind, words in (("tlsbench", str, "a string"), ("saved_at", str, "a string"),
                             ("connection", dict, "an object"), ("events", list, "a list"),
                             ("removed", list, "a list")):
        if key in document and not isinstance(document[key], kind):
            raise DecodeError(key, f"expected {words}")
    saved_at = document["saved_at"]
    assert isinstance(saved_at, str)
    try:
        datetime.fromisoformat(saved_at.replace("Z", "+00:00"))
    except ValueError:
        raise DecodeError("saved_at", "not an ISO 8601 date and time") from None
    c = codec()
    events: list[Event] = []
    for i, data in enumerate(document["events"]):
        event = c.decode(data, f"events[{i}]")
        if not isinstance(event, EVENT_TYPES):
            raise DecodeError(f"events[{i}]", f"{_what(event)} is not an event of a run (RunFinished: see result)")
        if i == 0 and not isinstance(event, PlanReady):
            raise DecodeError("events[0]", "a run's first event is its plan (PlanReady)")
        events.append(event)
    result = c.decode(document["result"], "result", ProbeResult)
    connection = document["connection"]
    assert isinstance(connection, dict)
    spec_from_connection(connection)  # checked now: a bad connection is a bad file
    return RunRecord(connection, tuple(events) + (RunFinished(result),), result, saved_at, VERSION,
                     str(document["tlsbench"]))


def _what(value: Any) -> str:
    return f"a {type(value).__name__} record" if hasattr(value, "_fields") else "a plain value"


def spec_from_connection(connection: dict[str, Any]) -> ConnectionSpec:
    """The spec a run file's connection describes (read as a profile is, with no environment)."""
    try:
        return data_to_spec(connection, environ={})
    except FormatError as exc:
        where = ".".join(p for p in ("connection", exc.table, exc.key or "") if p)
        raise DecodeError(where, str(exc)) from None
    except (InputError, ValueError, TypeError) as exc:
        raise DecodeError("connection", _short(exc)) from None


def spec_of(record: RunRecord) -> ConnectionSpec:
    """The spec of a loaded record's connection (checked when the file was read)."""
    try:
        return spec_from_connection(record.connection)
    except DecodeError as exc:
        raise RunFileError(str(exc)) from None


def default_file_name(spec: ConnectionSpec, when: datetime | None = None) -> str:
    """`tlsbench-run-HOST-PORT-YYYYmmdd-HHMMSS.json` (the host's ':' of IPv6 and odd characters as '_')."""
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    host = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in spec.host)[:100] or "host"
    return f"tlsbench-run-{host}-{spec.port}-{stamp}.json"


__all__ = ["FORMAT", "VERSION", "MAX_BYTES", "REMOVED", "RunFileError", "RunRecord", "check_run_path", "codec", "connection_of",
           "default_file_name", "dump_run", "load_run", "read_run", "run_record", "save_run", "spec_of",
           "spec_from_connection"]

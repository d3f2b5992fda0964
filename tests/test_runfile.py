"""Run files (engine/records/runfile.py, engine/records/codec.py): real runs saved and read back exactly, bad files refused."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MICROSOCKS_PASSWORD, MICROSOCKS_USER
from tlsbench.engine.events import Event, FindingRaised, PlanReady, RunFinished, StageFinished
from tlsbench.engine.records.codec import DecodeError, RecordCodec
from tlsbench.engine.records.result import ProbeResult
from tlsbench.engine.records.runfile import (FORMAT, VERSION, RunFileError, RunRecord, codec, default_file_name, dump_run,
                                     load_run, read_run, run_record, save_run, spec_of)
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import ConnectionSpec, build_spec
from tlsbench.safe_files import FileRefused


def probe(spec: ConnectionSpec) -> tuple[list[Event], ProbeResult]:
    events: list[Event] = []
    result = run_probe(spec, on_event=events.append)
    return events, result


def round_trip(spec: ConnectionSpec) -> tuple[RunRecord, RunRecord, bytes]:
    events, result = probe(spec)
    record = run_record(spec, events)
    assert record.events == tuple(events) and record.result is result
    data = dump_run(record)
    back = load_run(data, "run.json")
    return record, back, data


def assert_same(record: RunRecord, back: RunRecord) -> None:
    assert back.events == record.events  # every event, equal field by field (bytes, tuples, records)
    assert [type(e) for e in back.events] == [type(e) for e in record.events]
    assert back.result == record.result
    assert back.result.to_json_dict(include_bytes=True) == record.result.to_json_dict(include_bytes=True)
    assert back.connection == record.connection and back.saved_at == record.saved_at
    assert spec_of(back).target == spec_of(record).target


# --- real runs, read back exactly --------------------------------------------------------------------

def test_tls_run_with_chain_and_findings_round_trips(tls_server, lab_certs):
    server = tls_server("expired")  # a chain, a failed verification, findings with suggestions
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), alpn=["h2", "http/1.1"])
    record, back, data = round_trip(spec)
    assert_same(record, back)
    assert not back.result.ok and "cert-expired" in back.result.codes()
    assert back.result.chain is not None and back.result.chain.certificates
    assert back.result.messages and all(isinstance(m.data, bytes) and m.data for m in back.result.messages)
    assert any(isinstance(e, FindingRaised) and e.finding.suggestion.changes for e in back.events)
    document = json.loads(data)
    assert document["format"] == FORMAT and document["version"] == VERSION
    assert "summary" not in document  # scripts: tlsbench show FILE --json
    assert document["connection"]["host"] == "localhost" and document["connection"]["port"] == server.port
    assert len(document["events"]) == len(record.events) - 1  # RunFinished's result is "result"
    assert isinstance(back.events[0], PlanReady) and isinstance(back.events[-1], RunFinished)


def test_good_tls_run_round_trips_and_size(tls_server, lab_certs):
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    record, back, data = round_trip(spec)
    assert_same(record, back)
    assert back.result.ok
    assert 5_000 < len(data) < 1_000_000, len(data)


def test_socks_run_via_microsocks_round_trips_without_the_password(tls_server, lab_certs, microsocks_auth):
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert),
                      proxies=[f"socks5h://{MICROSOCKS_USER}:{MICROSOCKS_PASSWORD}@127.0.0.1:{microsocks_auth.port}"])
    record, back, data = round_trip(spec)
    assert record.result.ok, record.result.codes()
    assert_same(record, back)
    assert back.result.stage("proxy") is not None and back.result.stage("proxy").status == "ok"
    for secret in (MICROSOCKS_PASSWORD.encode(), MICROSOCKS_PASSWORD.encode().hex().encode()):
        assert secret not in data
    hop = json.loads(data)["connection"]["proxy"]
    assert hop["user"] == MICROSOCKS_USER and "password" not in json.dumps(hop)
    assert spec_of(back).proxies[0].password is None


def test_socks_run_via_plain_microsocks_round_trips(tls_server, lab_certs, microsocks):
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert),
                      proxies=[f"socks5://127.0.0.1:{microsocks.port}"])
    record, back, _ = round_trip(spec)
    assert record.result.ok, record.result.codes()
    assert_same(record, back)


def test_failed_run_round_trips(closed_port):
    spec = build_spec(f"127.0.0.1:{closed_port.port}")
    record, back, _ = round_trip(spec)
    assert not record.result.ok
    assert_same(record, back)
    assert any(isinstance(e, StageFinished) and e.record.status == "failed" for e in back.events)


def test_plaintext_port_run_round_trips(plain_http):
    spec = build_spec(f"127.0.0.1:{plain_http.port}", insecure=True)
    record, back, _ = round_trip(spec)
    assert "not-tls" in back.result.codes()
    assert_same(record, back)


# --- saving: atomic, 0600, never over another file ---------------------------------------------------

def _small_record(closed_port: Any) -> RunRecord:
    spec = build_spec(f"127.0.0.1:{closed_port.port}")
    events, _ = probe(spec)
    return run_record(spec, events)


def test_save_and_read(tmp_path: Path, closed_port: Any) -> None:
    record = _small_record(closed_port)
    path = tmp_path / "run.json"
    save_run(path, record)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_run(path).events == record.events
    save_run(path, record)  # a run file may be replaced by another
    assert read_run(path).result == record.result


def test_save_refuses_a_file_that_is_not_a_run_file(tmp_path: Path, closed_port: Any) -> None:
    record = _small_record(closed_port)
    path = tmp_path / "notes.json"
    path.write_text('{"mine": true}\n')
    with pytest.raises(FileRefused, match="not a tlsbench run file"):
        save_run(path, record)
    assert path.read_text() == '{"mine": true}\n'
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(FileRefused):
        save_run(other, record)
    assert other.read_text() == "hello"
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(FileRefused):
        save_run(tmp_path / "fifo", record)


def test_read_refuses_odd_files(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match="not found"):
        read_run(tmp_path / "missing.json")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(FileRefused, match="FIFO"):
        read_run(tmp_path / "fifo")


def test_default_file_name() -> None:
    from datetime import datetime

    spec = build_spec("[::1]:8443")
    assert default_file_name(spec, datetime(2026, 1, 2, 3, 4, 5)) == "tlsbench-run-__1-8443-20260102-030405.json"


# --- bad files: one line naming the file and what is wrong ------------------------------------------

@pytest.fixture(scope="module")
def good_document(tmp_path_factory) -> dict[str, Any]:
    from tlsbench.lab.tiny_servers import PlainHttpServer

    with PlainHttpServer() as server:
        spec = build_spec(f"127.0.0.1:{server.port}", insecure=True)
        events, _ = probe(spec)
    return json.loads(dump_run(run_record(spec, events)))


def _error(document: Any) -> str:
    with pytest.raises(RunFileError) as info:
        load_run(json.dumps(document).encode(), "shared.json")
    message = str(info.value)
    assert "\n" not in message and message.startswith("shared.json: ")
    return message


def test_not_json_names_line_and_column() -> None:
    with pytest.raises(RunFileError, match=r"^x\.json: not JSON \(line 2, column 1: "):
        load_run(b'{"format":\n}', "x.json")
    with pytest.raises(RunFileError, match="not UTF-8"):
        load_run(b"\xff\xfe\x00", "x.json")


def test_not_a_run_file() -> None:
    assert "not a tlsbench run file" in _error({"host": "example.com"})
    assert "not a tlsbench run file" in _error([1, 2])


def test_versions_newer_and_older(good_document: dict[str, Any]) -> None:
    message = _error({**good_document, "version": VERSION + 1})
    assert f"newer tlsbench in run file format version {VERSION + 1}; this tlsbench reads version {VERSION}" in message
    assert "older tlsbench in run file format version 0" in _error({**good_document, "version": 0})


def test_wrong_field_types_name_the_path(good_document: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(good_document))
    broken["result"]["total_ms"] = "fast"
    assert "result.total_ms: expected a number, found a string" in _error(broken)
    broken = json.loads(json.dumps(good_document))
    index = next(i for i, e in enumerate(broken["events"]) if e["$"] == "StageFinished")
    broken["events"][index]["record"]["status"] = 3
    assert f"events[{index}].record.status: expected a string" in _error(broken)
    broken = json.loads(json.dumps(good_document))
    broken["events"][0]["$"] = "os.system"
    assert "events[0]: unknown record type 'os.system'" in _error(broken)
    broken = json.loads(json.dumps(good_document))
    broken["connection"]["port"] = "https"
    assert "connection" in _error(broken)
    broken = json.loads(json.dumps(good_document))
    del broken["result"]["findings"]
    assert "result.findings: missing" in _error(broken)
    broken = json.loads(json.dumps(good_document))
    tls = next(s for s in broken["result"]["stages"] if s["name"] == "tls")
    tls["detail"]["first_bytes_hex"] = {"$": "bytes", "base64": "!!"}
    assert "not valid base64" in _error(broken)


def test_codec_checks_annotations() -> None:
    from tlsbench.engine.findings.model import Evidence

    c = RecordCodec([Evidence])
    assert c.decode(c.encode(Evidence("a", "b"))) == Evidence("a", "b")
    with pytest.raises(DecodeError, match="x.value: expected a string"):
        c.decode({"$": "Evidence", "label": "a", "value": 1}, "x")
    value = (b"\x00\xff", [1, (2.5, None)], {"k": float("inf")})
    assert c.decode(json.loads(json.dumps(c.encode(value)))) == value


# --- arbitrary input: only RunFileError ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["$", "format", "version", "events", "result", "label", "value", "items", "base64"])
        | st.text(max_size=8), children, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_run_file_error(data: bytes) -> None:
    try:
        load_run(data, "f.json")
    except RunFileError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_raises_only_run_file_error(value: Any) -> None:
    for document in (value, {"format": FORMAT, "version": VERSION, "tlsbench": "x", "saved_at": "2026-01-01T00:00:00Z",
                             "connection": {"host": "h", "port": 1}, "events": [value], "result": value}):
        try:
            load_run(json.dumps(document).encode(), "f.json")
        except RunFileError as exc:
            assert "\n" not in str(exc)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, path + (k,))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, path + (i,))]
    return [path]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_real_file_raises_only_run_file_error(good_document: dict[str, Any], data: st.DataObject) -> None:
    document = json.loads(json.dumps(good_document))
    paths = _leaves(document)
    path = data.draw(st.sampled_from(paths))
    replacement = data.draw(json_values)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    try:
        back = load_run(json.dumps(document).encode(), "f.json")
    except RunFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(back.result, ProbeResult)
        codec().encode(back.result)  # what was accepted can be written again
        _show_everything(back)


def _show_everything(record: RunRecord) -> None:
    """What `tlsbench show --json` and `--text -v` do with a record that was accepted: no exception."""
    import io

    from tlsbench.commands.probe_output import Waterfall, write_json

    write_json(record.result, io.StringIO(), include_bytes=True)
    view = Waterfall(io.StringIO(), colour=False, trace=True, hexdump=True, showcerts=True)
    for event in record.events:
        view(event)


def test_every_field_is_checked_as_what_it_holds() -> None:
    """No registered record has a field the codec cannot check (a bare tuple, object or dict, or Any), but
    the run's option summary (plain JSON data, shown as it is) and a change's values (checked by a
    validator: known options, plain values)."""
    from typing import get_args

    def is_loose(hint: Any) -> bool:
        return hint in (tuple, object, dict, list, Any) or any(is_loose(arg) for arg in get_args(hint))

    c = codec()
    loose = sorted(f"{name}.{field}" for name, cls in c.records.items() for field, hint in c.hints(cls).items()
                   if is_loose(hint))
    assert loose == ["Change.assign", "Change.before", "ProbeResult.spec_summary"], loose


def test_deep_nesting_is_refused_in_one_line(good_document: dict[str, Any]) -> None:
    document = json.loads(json.dumps(good_document))
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    document["result"]["spec_summary"] = {"options": deep}
    # Refused on the text, before json.loads (which recurses) sees it.
    assert _error(document).endswith(": nested 203 levels deep, more than 32; not read")
    with pytest.raises(RunFileError, match="^deep.json: nested 100000 levels deep, more than 32; not read$"):
        load_run(b"[" * 100_000 + b"]" * 100_000, "deep.json")


@pytest.mark.parametrize("name, value", [("proxies", 1), ("proxies", "x"), ("alpn", True)])
def test_a_change_its_option_cannot_take_is_refused(good_document: dict[str, Any], name: str, value: Any) -> None:
    """A plain value of the wrong shape (found by the property above) is refused when read, not met
    later by the waterfall or --json as a TypeError."""
    document = json.loads(json.dumps(good_document))
    changes = [c for f in document["result"]["findings"] for c in (f.get("suggestion") or {}).get("changes", [])]
    assert changes, "the sample run has a suggestion with a change"
    changes[0]["assign"] = [[name, value]]
    with pytest.raises(RunFileError, match="cannot take"):
        load_run(json.dumps(document).encode(), "f.json")

"""The history record decoder (tlsbench.history.decode), by property.

It never raises anything but BadRecord, on any bytes and any JSON value; what it accepts, every
reader (the comparison, the run list, the workbench's table) takes without an error; and it reads
back exactly every record the writer makes (make_record, then HistoryStore.append).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.result import ProbeResult, SocketInfo, StageRecord, TcpInfo
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.engine.suggestions import Suggestion
from tlsbench.history.compare import (compare, comparison_json, comparison_lines, finding_codes, summary_line,
                                      verdict)
from tlsbench.history.decode import BadRecord, decode_line, decode_record
from tlsbench.history.record import make_record
from tlsbench.history.store import HistoryStore, parse_line

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | finite | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=20)


@pytest.fixture
def real_records(tls_server: Any, lab_certs: Any, plain_http: Any) -> list[dict[str, Any]]:
    """Records of real runs: a verified TLS run (chain, TLS facts) and a failed one with findings."""
    good = tls_server("good")
    specs = [build_spec(f"localhost:{good.port}", cafile=str(lab_certs.ca_cert)),
             build_spec(f"127.0.0.1:{plain_http.port}", tls_max="1.2")]  # HTTP where TLS was asked: findings
    records = [json.loads(json.dumps(make_record("real", "probe", s, run_probe(s).to_json_dict()))) for s in specs]
    assert records[0]["result"]["chain"] and records[1]["result"]["findings"]
    return records


def _use_every_way(record: dict[str, Any], other: dict[str, Any]) -> None:
    """What the CLI and the workbench do with records read back."""
    for a, b in ((record, other), (other, record), (record, record)):
        comparison = compare(a, b)
        comparison_lines(comparison)
        json.dumps(comparison_json(comparison, 1, 2), allow_nan=False)
    summary_line(1, record)
    verdict(record["result"])
    finding_codes(record["result"])
    sorted([record, other], key=lambda r: r["at"])


# --- never raises ------------------------------------------------------------------------------------

@SETTINGS
@given(st.binary(max_size=300))
@example(b"[" * 5000)
@example(b'{"v": 1e99999}')
@example(b"NaN")
@example(b"\xff")
def test_decode_line_never_raises_on_bytes(raw):
    try:
        decode_line(raw)
    except BadRecord:
        pass


@SETTINGS
@given(json_values)
def test_decode_record_never_raises_on_any_json_value(value):
    try:
        decode_record(value)
    except BadRecord:
        pass


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, prefix + (i,))
    return out


@SETTINGS
@given(st.data())
def test_a_record_with_any_part_replaced_is_refused_or_read_safely(real_records, data):
    """Every value anywhere in a real record swapped for any JSON value: BadRecord, or a record that
    every reader takes (the old `result.socket` list was an AttributeError in --compare)."""
    record = json.loads(json.dumps(data.draw(st.sampled_from(real_records))))
    path = data.draw(st.sampled_from([p for p in _paths(record) if p]))
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(json_values)
    line = json.dumps(record, ensure_ascii=False).encode()
    try:
        decoded = decode_line(line)
    except BadRecord:
        return
    _use_every_way(decoded, real_records[0])


def test_real_records_are_read_and_bad_ones_say_why(real_records):
    for record in real_records:
        assert decode_line(json.dumps(record).encode()) == record
        assert decode_line(b"\xef\xbb\xbf" + json.dumps(record).encode() + b"\r") == record  # an editor's
        _use_every_way(record, real_records[0])
    bad = json.loads(json.dumps(real_records[0]))
    bad["result"]["socket"] = ["127.0.0.1", 443]
    with pytest.raises(BadRecord, match=r"^record\.result\.socket: expected an object$"):
        decode_record(bad)
    with pytest.raises(BadRecord, match="more than a history line may be"):
        decode_line(b" " * (64 << 10) + b"{}")
    with pytest.raises(BadRecord, match="nested 40 levels deep, more than 32"):
        decode_line(b"[" * 40 + b"]" * 40)
    with pytest.raises(BadRecord, match="lone surrogate"):
        decode_line(json.dumps(real_records[0]).replace('"target": "', '"target": "\\udcff', 1).encode())
    escaped_pair = json.dumps(real_records[0]).replace('"target": "', '"target": "\\ud83d\\ude00', 1).encode()
    assert decode_line(escaped_pair)["result"]["target"].startswith("\U0001f600")  # a pair is text
    with pytest.raises(BadRecord, match="too large a number"):
        decode_line(json.dumps(real_records[0]).replace('"total_ms": ', '"total_ms": 1e999, "_": ', 1).encode())


# --- round trip --------------------------------------------------------------------------------------

stages = st.builds(StageRecord, name=st.sampled_from(["resolve", "tcp", "proxy", "tls", "chain", "app", "x"]),
                   status=st.sampled_from(["ok", "failed", "skipped", "cancelled"]), started_ms=finite,
                   duration_ms=finite, summary=text, index=st.none() | st.integers(1, 9), local=st.booleans(),
                   peer=st.none() | text, detail=st.none(), key=st.just(""), label=text)
findings = st.builds(Finding, code=text, severity=st.sampled_from(["error", "warning", "info"]), title=text,
                     explanation=text, suggestion=st.builds(Suggestion, text=text, changes=st.just(()), peers=st.just(())), stage=st.none() | text,
                     origin=st.sampled_from(["peer", "local", "network", "proxy"]),
                     evidence=st.lists(st.builds(Evidence, label=text, value=text), max_size=2).map(tuple))
sockets = st.builds(SocketInfo, local_address=st.none() | text, local_port=st.none() | st.integers(0, 65535),
                    peer_address=st.none() | text, peer_port=st.none() | st.integers(0, 65535),
                    family=st.none() | st.sampled_from(["IPv4", "IPv6"]), via_proxy=st.booleans(),
                    ephemeral_range=st.none() | st.tuples(st.integers(1, 9), st.integers(10, 99)),
                    tcp_info=st.none() | st.builds(TcpInfo, *[st.integers(0, 9)] + [finite] * 3
                                                   + [st.integers(0, 9)] * 5))
results = st.builds(ProbeResult, ok=st.booleans(), target=text, stages=st.lists(stages, max_size=4).map(tuple),
                    socket=sockets, tls=st.none(), messages=st.just(()), chain=st.none(),
                    findings=st.lists(findings, max_size=3).map(tuple), total_ms=finite, cancelled=st.booleans(),
                    spec_summary=st.none() | st.dictionaries(text, text, max_size=3), closing=st.none(),
                    tickets=st.integers(0, 3))
hosts = st.sampled_from(["www.lab.test", "127.0.0.1", "::1", "xn--bcher-kva.example"])
specs = st.builds(lambda host, port, tls, alpn: build_spec(f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                                                           tls=tls, alpn=alpn if tls else None),
                  hosts, st.integers(1, 65535), st.booleans(), st.none() | st.just("h2,http/1.1"))


@SETTINGS
@given(st.text(min_size=1, max_size=30), st.sampled_from(["probe", "workbench"]), specs, results, st.booleans())
@example("web", "probe", build_spec("www.lab.test:443"),
         ProbeResult(True, "www.lab.test:443", (), SocketInfo(), None, (), None, (), 1.0), True)
def test_every_record_the_writer_makes_reads_back_the_same(profile, source, spec, result, keep_exchanged):
    record = make_record(profile, source, spec, result.to_json_dict(), keep_exchanged=keep_exchanged)
    expected = json.loads(json.dumps(record))
    with tempfile.TemporaryDirectory() as root:
        store = HistoryStore(Path(root))
        path = store.append(record, keep=5)
        [line] = path.read_bytes().splitlines()
        assert parse_line(line) == expected
        read = store.read(profile)
    assert (read.runs, read.skipped) == ([expected], 0)


def test_a_run_too_long_for_a_line_keeps_fingerprints_not_pem_or_is_refused(real_records, tmp_path):
    """The writer never writes a line the reader would skip as too long (a real run never evicted)."""
    from tlsbench.history.store import PEM_NOT_KEPT, HistoryError

    store = HistoryStore(tmp_path)
    record = json.loads(json.dumps(real_records[0]))
    for cert in record["result"]["chain"]:
        cert["pem"] = "-----BEGIN CERTIFICATE-----\n" + "A" * 40_000 + "\n-----END CERTIFICATE-----\n"
    path = store.append(record, keep=5)
    assert len(path.read_bytes()) <= 64 << 10
    [read] = store.read("real").runs
    assert [c["pem"] for c in read["result"]["chain"]] == [PEM_NOT_KEPT] * len(record["result"]["chain"])
    assert [c["sha256"] for c in read["result"]["chain"]] == [c["sha256"] for c in record["result"]["chain"]]
    record["result"]["target"] = "x" * (64 << 10)
    with pytest.raises(HistoryError, match=r"more than a history line may be \(65536\); it is not recorded$"):
        store.append(record, keep=5)
    assert store.read("real").runs == [read]

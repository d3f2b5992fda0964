"""The stage contract (engine/stages/contract.py): one loader for every stage kind, a stage that
runs a plan of its own inside it (nested stages: their events name their parent, their clock runs
inside the parent's), and the tls and chain stages importing each other no more.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tlsbench.engine.events import Event, StageFinished, StageSkipped, StageStarted, TlsMessageSeen
from tlsbench.engine.plan import KINDS, Plan, StageKind, Step
from tlsbench.engine.runner import NestedRun, Prepared, preflight, run_nested, run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.engine.stages.context import RunState, StageContext
from tlsbench.engine.stages.contract import Stage, stage_factory
from tlsbench.engine.stages.shared import StageOutcome
from tlsbench.engine.stream import DatagramSocket, Link


class Nesting:
    """A stage that runs a prepared plan inside it (as a DoH lookup's own connection would)."""

    def __init__(self, inner: Prepared) -> None:
        self.inner = inner
        self.result: NestedRun | None = None

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        self.result = run_nested(ctx, self.inner)
        return StageOutcome(self.result.ok, None, "nested run", self.result.findings)


def install(prepared: Prepared, name: str, stage: Stage) -> None:
    """Put `stage` in place of the prepared plan's step `name` (run, not skipped)."""
    steps = list(prepared.plan.steps)
    index = next(i for i, s in enumerate(steps) if s.name == name)
    steps[index] = Step(KINDS[name], steps[index].key, doing="running a plan inside", label=KINDS[name].label)
    prepared.plan = Plan(prepared.plan.spec, tuple(steps))
    prepared.stages[index] = stage


@pytest.fixture
def listener():
    """A plain TCP listener on loopback (connections wait in its accept queue)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_every_stage_kind_loads_through_the_one_loader():
    for kind in KINDS.values():
        factory = stage_factory(kind)
        assert callable(getattr(factory, "run", None)), kind.name
        assert stage_factory(kind) is factory  # loaded once


@pytest.mark.servers
def test_a_nested_plan_reports_under_its_parent_on_the_parent_clock(listener, tls_server, lab_certs):
    server = tls_server("good")
    inner = preflight(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), timeout=10))
    outer = preflight(build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10))
    nesting = Nesting(inner)
    install(outer, "app", nesting)
    events: list[Event] = []
    result = run_probe(outer.plan.spec, on_event=events.append, prepared=outer)

    assert result.ok, [(s.key, s.status, s.summary) for s in result.stages]
    # The run's own rows stay the plan's: nested stages come back to their parent, not to the result.
    assert [s.key for s in result.stages] == list(outer.plan.keys)
    assert all(s.parent is None for s in result.stages)
    parent = next(s for s in result.stages if s.key == "app")

    nested = nesting.result
    assert nested is not None and nested.ok
    assert [r.key for r in nested.records] == list(inner.plan.keys)
    assert {r.parent for r in nested.records} == {"app"}
    ran = [r for r in nested.records if r.status != "skipped"]
    assert [r.name for r in ran] == ["resolve", "tcp", "tls", "chain"]
    for record in ran:  # the nested clocks run inside the parent's
        assert parent.started_ms <= record.started_ms
        assert record.started_ms + record.duration_ms <= parent.started_ms + parent.duration_ms

    # Their events say where they ran; the run's own events do not.
    started = [e for e in events if isinstance(e, StageStarted)]
    assert [e.stage for e in started if e.parent == "app"] == ["resolve", "tcp", "tls", "chain"]
    assert [e.stage for e in started if e.parent is None] == [s.key for s in result.stages
                                                            if s.status != "skipped"]
    finished = [e.record for e in events if isinstance(e, StageFinished) and e.record.parent == "app"]
    assert [r.key for r in finished] == [r.key for r in ran]
    skipped = [e for e in events if isinstance(e, StageSkipped) and e.parent == "app"]
    assert {e.stage for e in skipped} == {r.key for r in nested.records if r.status == "skipped"}
    hellos = [e for e in events if isinstance(e, TlsMessageSeen) and e.name == "ClientHello"]
    assert [(e.stage, e.parent) for e in hellos] == [("tls", "app")]
    # The JSON of the run is what it was: the parent field is the events' and the nested records'.
    assert all("parent" not in stage for stage in result.to_json_dict()["stages"])
    # The waterfall names a nested stage by its path: never taken for the run's own tls row.
    import io

    from tlsbench.commands.probe_output import Waterfall

    out = io.StringIO()
    waterfall = Waterfall(out, colour=False)
    for event in events:
        if isinstance(event, (StageFinished, StageSkipped)):
            waterfall(event)
    lines = out.getvalue().splitlines()
    assert any(line.split()[1:2] == ["app/tls"] for line in lines), lines
    assert sum(line.split()[1:2] == ["tls"] for line in lines) == 1, lines


def test_a_failed_nested_plan_fails_its_parent_with_the_nested_findings(listener, closed_port):
    inner = preflight(build_spec(closed_port.address, tls=False, timeout=5))
    outer = preflight(build_spec(f"127.0.0.1:{listener}", tls=False, timeout=5))
    install(outer, "app", Nesting(inner))
    events: list[Event] = []
    result = run_probe(outer.plan.spec, on_event=events.append, prepared=outer)

    app = next(s for s in result.stages if s.key == "app")
    assert not result.ok and app.status == "failed"
    assert "tcp-refused" in {f.code for f in result.findings}
    after = [e.stage for e in events if isinstance(e, StageSkipped) and e.parent == "app"]
    assert "tls" in after and "app" in after  # the nested plan's own later steps, skipped under the parent


def test_a_plan_nested_two_deep_names_the_whole_path(listener):
    innermost = preflight(build_spec(f"127.0.0.1:{listener}", tls=False, timeout=5))
    inner = preflight(build_spec(f"127.0.0.1:{listener}", tls=False, timeout=5))
    install(inner, "app", Nesting(innermost))
    outer = preflight(build_spec(f"127.0.0.1:{listener}", tls=False, timeout=5))
    install(outer, "app", Nesting(inner))
    events: list[Event] = []
    result = run_probe(outer.plan.spec, on_event=events.append, prepared=outer)

    assert result.ok
    started = [(e.parent, e.stage) for e in events if isinstance(e, StageStarted)]
    assert started == [(None, "resolve"), (None, "tcp"), (None, "app"),
                       ("app", "resolve"), ("app", "tcp"), ("app", "app"),
                       ("app/app", "resolve"), ("app/app", "tcp")]


@pytest.fixture
def udp_echo():
    """A UDP echo server on loopback: each datagram comes back as it was."""
    import socket
    import threading

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except OSError:
                return
            sock.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


class OpenDatagrams:
    """A datagram stage that connects a UDP socket and checks the peer answers."""

    def __init__(self, port: int) -> None:
        self.port = port

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", self.port))
        state.datagrams = DatagramSocket(Link(sock, ctx.cancel))
        ctx.begin()
        state.datagrams.send(b"hello")
        answer = state.datagrams.recv()
        ctx.end()
        return StageOutcome(answer == b"hello", None, "open")


class Exchange:
    """The next datagram stage: two datagrams out, two back, each whole."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []
        self.sent = b""
        self.sock = None

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        assert state.datagrams is not None
        ctx.begin()
        for datagram in (b"a", b"bb"):
            state.datagrams.send(datagram)
        self.answers = [state.datagrams.recv(), state.datagrams.recv()]
        ctx.end()
        transcript = state.datagrams.transcript
        assert transcript is not None
        self.sent = bytes(transcript.sent)
        self.sock = state.datagrams.link.sock
        return StageOutcome(True, None, "exchanged")


def test_datagram_stages_get_their_own_transcript_and_the_run_closes_the_socket(udp_echo):
    kind = StageKind("datagrams", "datagrams", "tests.test_stage_contract:Exchange", transport="datagram")
    steps = (Step(kind, "open", label="open"), Step(kind, "exchange", label="exchange"))
    spec = build_spec(f"127.0.0.1:{udp_echo}", tls=False, timeout=5)
    exchange = Exchange()
    prepared = Prepared(Plan(spec, steps), [OpenDatagrams(udp_echo), exchange], 0.0)
    result = run_probe(spec, prepared=prepared)

    assert result.ok and [s.status for s in result.stages] == ["ok", "ok"]
    assert all(step.transport == "datagram" for step in steps)
    assert exchange.answers == [b"a", b"bb"]  # each datagram whole, not a byte stream
    assert exchange.sent == b"abb"  # the runner gave the stage a transcript of its own
    assert exchange.sock is not None and exchange.sock.fileno() == -1  # closed with the run


def test_the_chain_stage_does_not_import_the_tls_stage():
    # The chain stage reads a handshake's outcome (stages/shared.py); the tls stage uses the chain
    # stage's parser. One direction only: no cycle at import time or at run time.
    code = ("import sys, tlsbench.engine.stages.chain, tlsbench.engine.findings.tls; "
            "print('tlsbench.engine.stages.tls' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

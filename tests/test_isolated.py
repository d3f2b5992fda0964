"""The probe in a child process: same events and result, InputError and cancel forwarded."""

import threading

import pytest

from tlsbench.engine.cancel import CancelToken
from tlsbench.errors import InputError
from tlsbench.engine.events import PlanReady, RunFinished, StageFinished, StageStarted
from tlsbench.engine.series.isolated import run_probe_isolated
from tlsbench.engine.spec import build_spec


def test_events_and_result_come_back_from_the_child(tls_server, lab_certs):
    server = tls_server()
    events = []
    result = run_probe_isolated(build_spec(f"127.0.0.1:{server.port}", cafile=str(lab_certs.ca_cert)),
                                on_event=events.append)
    assert result.ok and result.tls.version.startswith("TLSv1.")
    assert isinstance(events[0], PlanReady) and isinstance(events[1], StageStarted)
    assert isinstance(events[-1], RunFinished)
    finished = [e.record.name for e in events if isinstance(e, StageFinished)]
    assert finished[:2] == ["resolve", "tcp"] and "tls" in finished
    assert result.socket.local_port and result.socket.peer_port == server.port


def test_an_unusable_cafile_is_an_input_error(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(InputError) as err:
        run_probe_isolated(build_spec("127.0.0.1:1", cafile=str(bogus)))
    assert err.value.field == "cafile"


def test_cancel_reaches_the_child(silent_server):
    token = CancelToken()
    started = threading.Event()

    def on_event(event):
        if isinstance(event, StageStarted) and event.stage == "tls":
            started.set()
            token.cancel()

    result = run_probe_isolated(build_spec(f"127.0.0.1:{silent_server.port}", timeout=30), on_event, token)
    assert started.is_set()
    assert result.cancelled and not result.ok
    assert result.stage("tls").status == "cancelled" and result.total_ms < 30000


# --- one long-lived engine process ----------------------------------------------------------------

import os
import signal
import time

from tlsbench.engine.series.isolated import EngineCrashed, EngineProcess, shared, shutdown_shared


def _good_spec(server, lab_certs):
    return build_spec(f"127.0.0.1:{server.port}", cafile=str(lab_certs.ca_cert))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone as far as we care
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_many_runs_go_through_one_process(tls_server, lab_certs):
    server = tls_server()
    with EngineProcess() as engine:
        pids, ports = set(), set()
        for _ in range(4):
            result = engine.probe(_good_spec(server, lab_certs))
            assert result.ok
            pids.add(engine.pid)
            ports.add(result.socket.local_port)
        assert len(pids) == 1 and None not in pids and engine.started == 1
        assert len(ports) == 4  # four real connections, not one result repeated
        pid = engine.pid
    assert pid is not None and not _alive(pid)


def test_cancel_mid_handshake_ends_the_run_at_once_and_the_next_run_is_clean(silent_server, tls_server, lab_certs):
    server = tls_server()
    with EngineProcess() as engine:
        token = CancelToken()

        def on_event(event):
            if isinstance(event, StageStarted) and event.stage == "tls":
                token.cancel()

        began = time.monotonic()
        result = engine.probe(build_spec(f"127.0.0.1:{silent_server.port}", timeout=30), on_event, token)
        took = time.monotonic() - began
        assert result.cancelled and result.stage("tls").status == "cancelled"
        assert took < 1.0, took
        pid = engine.pid
        # The same process serves the next run, which carries nothing of the cancelled one.
        events = []
        after = engine.probe(_good_spec(server, lab_certs), on_event=events.append)
        assert engine.pid == pid
        assert after.ok and not after.cancelled
        assert all(s.status == "ok" for s in after.stages if s.status != "skipped")
        assert after.socket.peer_port == server.port and after.chain is not None
        assert isinstance(events[0], PlanReady) and isinstance(events[-1], RunFinished)
        # A token cancelled after its run ended is harmless: the process stays and serves on.
        token.cancel()
        assert engine.probe(_good_spec(server, lab_certs)).ok and engine.pid == pid


def test_a_child_killed_between_runs_is_replaced(tls_server, lab_certs):
    server = tls_server()
    with EngineProcess() as engine:
        assert engine.probe(_good_spec(server, lab_certs)).ok
        first = engine.pid
        os.kill(first, signal.SIGKILL)
        for _ in range(200):
            if not _alive(first):
                break
            time.sleep(0.01)
        result = engine.probe(_good_spec(server, lab_certs))
        assert result.ok and engine.pid not in (None, first) and engine.started == 2


def test_a_child_killed_mid_run_is_a_crash_and_the_next_run_works(silent_server, tls_server, lab_certs):
    server = tls_server()
    with EngineProcess() as engine:
        def on_event(event):
            if isinstance(event, StageStarted) and event.stage == "tls":
                os.kill(engine.pid, signal.SIGKILL)

        with pytest.raises(EngineCrashed):
            engine.probe(build_spec(f"127.0.0.1:{silent_server.port}", timeout=30), on_event)
        assert engine.probe(_good_spec(server, lab_certs)).ok


def test_a_child_that_ignores_cancel_is_killed_after_the_grace(silent_server, monkeypatch):
    import tlsbench.engine.series.isolated as isolated

    monkeypatch.setattr(isolated, "CANCEL_GRACE", 0.3)
    with EngineProcess() as engine:
        token = CancelToken()

        def on_event(event):
            if isinstance(event, StageStarted) and event.stage == "tls":
                os.kill(engine.pid, signal.SIGSTOP)  # cannot answer any more
                token.cancel()

        began = time.monotonic()
        with pytest.raises(EngineCrashed, match="did not stop"):
            engine.probe(build_spec(f"127.0.0.1:{silent_server.port}", timeout=30), on_event, token)
        assert time.monotonic() - began < 10
        assert engine.pid is None and engine.started == 1


def test_the_shared_engine_is_reused_and_shut_down(tls_server, lab_certs):
    server = tls_server()
    shutdown_shared()
    assert run_probe_isolated(_good_spec(server, lab_certs)).ok
    pids = shared().pids()
    assert len(pids) == 1
    assert run_probe_isolated(_good_spec(server, lab_certs)).ok
    assert shared().pids() == pids
    shutdown_shared()
    for _ in range(200):
        if not _alive(pids[0]):
            break
        time.sleep(0.01)
    assert not _alive(pids[0]) and shared().pids() == []


async def test_the_workbench_leaves_no_engine_process_behind(tmp_path, tls_server, lab_certs):
    from tests.tui_helpers import SIZE, app_for, wait_for_result

    server = tls_server()
    shutdown_shared()
    app = app_for(tmp_path, spec=_good_spec(server, lab_certs), run=True)
    async with app.run_test(size=SIZE) as pilot:
        first = await wait_for_result(pilot)
        pids = shared().pids()
        assert first.ok and len(pids) == 1
        await pilot.press("ctrl+r")  # again: the same process serves it
        await pilot.pause()
        second = await wait_for_result(pilot)
        assert second.ok and second is not first and shared().pids() == pids
        app.exit(0)
        await pilot.pause()
    for _ in range(200):
        if not _alive(pids[0]):
            break
        time.sleep(0.01)
    assert not _alive(pids[0]) and shared().pids() == []

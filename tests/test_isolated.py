"""The probe in a child process: same events and result, InputError and cancel forwarded."""

import threading

import pytest

from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.errors import InputError
from tlsbench.engine.events import PlanReady, RunFinished, StageFinished, StageStarted
from tlsbench.engine.isolated import run_probe_isolated
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

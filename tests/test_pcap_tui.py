"""The workbench saves the last run's capture (ctrl+b): the file tshark opens decrypted, 0600, written from
what the run exchanged (its own port), with a proxy password masked; nothing to save before a run; the
capture never enters the run's events (a saved run file holds no TLS secret)."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path
from typing import Any

from textual.widgets import Input

from conftest import need_binary
from tests.tui_helpers import SIZE, app_for, launched, wait_for_result
from tlsbench.engine.capture.taps import Captured
from tlsbench.engine.spec import build_spec


def tshark(path: Path, display_filter: str, *fields: str) -> list[str]:
    args = [need_binary("tshark"), "-r", str(path), "-Y", display_filter, "-T", "fields",
            *[a for f in fields for a in ("-e", f)]]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line.strip()]


async def _until(pilot: Any, test: Any, rounds: int = 200) -> None:
    for _ in range(rounds):
        await pilot.pause(0.02)
        if test():
            return
    raise AssertionError("the workbench did not get there")


async def test_the_last_run_is_saved_as_a_capture(tmp_path: Path, nginx_h2: Any, lab_certs: Any,
                                                  squid_proxy_auth: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    user, password = squid_proxy_auth.username, squid_proxy_auth.password
    spec = build_spec(f"localhost:{nginx_h2.port}", cafile=str(lab_certs.ca_cert), http=True,
                      proxies=[squid_proxy_auth.url], proxy_user=user, proxy_password=password)
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        result = await wait_for_result(pilot)
        assert result.ok
        workbench = app.screen
        await _until(pilot, lambda: workbench.last_capture is not None)
        assert not any(isinstance(e, Captured) for e in workbench.run_events)  # aside from the events
        await pilot.press("ctrl+b")
        await pilot.pause()
        field = app.screen.query_one("#pcap-path", Input)
        assert field.value.startswith(f"tlsbench-localhost-{nginx_h2.port}-") and field.value.endswith(".pcapng")
        field.value = "mine.pcapng"
        await pilot.press("enter")
        await _until(pilot, lambda: app.screen is workbench)
    saved = tmp_path / "mine.pcapng"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert tshark(saved, "http.request.method == \"GET\"", "http.request.uri") == ["/"]
    ports = tshark(saved, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.srcport")
    assert ports == [str(result.socket.local_port)]
    data = saved.read_bytes()
    assert password.encode() not in data and base64.b64encode(f"{user}:{password}".encode()) not in data
    assert tshark(saved, "tcp.analysis.flags", "frame.number") == []


async def test_before_any_run_there_is_nothing_to_save(tmp_path: Path) -> None:
    app = app_for(tmp_path, spec=build_spec("example.test:443"))
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not app.screen.query("#pcap-path")
        assert "no finished run to save" in str(app.screen.query_one("#pcap-status").render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query("#waterfall")
    assert list(tmp_path.glob("*.pcapng")) == []

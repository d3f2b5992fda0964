"""Repeat mode (F10) against real loopback servers: statistics, sparklines, ports, certificates, cancel."""

from __future__ import annotations

import re

from textual.widgets import Input, Sparkline

from tests.tui_helpers import SIZE, app_for, launched, screen_text
from tests.roundrobin import RoundRobin
from tests.tui_layout_checks import layout_problems
from tlsbench.engine.spec import build_spec
from tlsbench.tui.screens.repeat import RepeatScreen, StageStatsRow


async def _open_repeat(pilot, count: str, interval: str) -> RepeatScreen:
    await launched(pilot)
    await pilot.press("f10")
    for _ in range(50):
        await pilot.pause()
        if isinstance(pilot.app.screen, RepeatScreen):
            break
    screen = pilot.app.screen
    assert isinstance(screen, RepeatScreen)
    screen.query_one("#repeat-count", Input).value = count
    screen.query_one("#repeat-interval", Input).value = interval
    return screen


async def _until(pilot, condition, rounds: int = 400) -> None:
    for _ in range(rounds):
        await pilot.pause(0.05)
        if condition():
            await pilot.pause()
            return
    raise AssertionError("the series did not get there")


async def test_a_series_of_five_fills_the_statistics(tmp_path, tls_server, lab_certs):
    server = tls_server()
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await _open_repeat(pilot, "5", "0")
        await pilot.press("ctrl+r")
        await _until(pilot, lambda: not screen.running and screen.series is not None and screen.series.done == 5)
        series = screen.series
        assert series.stats.runs == 5 and series.stats.ok == 5
        rows = screen.rows
        assert {"resolve", "tcp", "tls", "chain", "total"} <= set(rows)
        for key in ("tcp", "tls", "total"):
            line = rows[key].line
            assert len(line.recent) == 5 and len(rows[key].query_one(Sparkline).data) == 5
            assert line.min <= line.median <= line.p95 <= line.max
            assert line.min == min(line.recent) and line.max == max(line.recent)
        ports = series.stats.ports
        assert ports.runs == 5 and ports.distinct == 5 and ports.lowest <= ports.highest
        text = screen_text(app)
        assert "done  5/5 runs · success 100% (5 ok, 0 failed)" in text
        assert re.search(rf"lowest {ports.lowest} · highest {ports.highest} · distinct 5 · reused 0", text)
        leaf = series.certificates()
        assert len(leaf) == 1 and leaf[0].runs == 5
        assert f"{leaf[0].sha256[:17]}…  ×5  CN=localhost" in text
        assert "findings      none" in text
        assert not layout_problems(screen)
        # Esc: back to the results, with the series' last run shown.
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one("#results").result is series.last


async def test_stop_cancels_the_run_in_flight(tmp_path, silent_server):
    spec = build_spec(f"127.0.0.1:{silent_server.port}", insecure=True, timeout=30)
    app = app_for(tmp_path, spec=spec)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_repeat(pilot, "0", "0")  # until stopped
        await pilot.press("ctrl+r")
        await _until(pilot, lambda: screen.token is not None)
        await pilot.pause(0.2)  # the run is waiting for a ServerHello that never comes
        await pilot.press("ctrl+g")
        await _until(pilot, lambda: not screen.running, rounds=40)  # well before the 30 s timeout
        assert screen.error is None
        assert screen.series.stats.cancelled == 1 and screen.series.stats.runs == 0
        assert "stopped  0/∞ runs" in screen_text(app)
        assert screen.query_one("#repeat-count", Input).disabled is False


async def test_findings_are_counted_and_the_layout_holds_at_80x24(tmp_path, plain_http):
    spec = build_spec(f"127.0.0.1:{plain_http.port}", insecure=True)
    app = app_for(tmp_path, spec=spec)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_repeat(pilot, "3", "0")
        await pilot.press("enter")  # Enter in a field starts too
        await _until(pilot, lambda: screen.series is not None and not screen.running and screen.series.done == 3)
        counts = {f.code: f.runs for f in screen.series.findings()}
        assert counts.get("not-tls") == 3
        text = screen_text(app)
        assert "success 0% (0 ok, 3 failed)" in text and re.search(r"not-tls ×3", text)
        assert not layout_problems(screen)
        # Every stage line, its numbers and its sparkline are on screen, side by side, at 80 columns.
        for row in screen.rows.values():
            numbers, spark = row.query_one(".stage-numbers").region, row.query_one(Sparkline).region
            assert numbers.width == 48 and spark.width >= 20 and spark.right <= 80 and spark.x >= numbers.right
            assert app.screen.region.contains_region(row.region)


async def test_two_certificates_behind_one_address_are_cert_varies(tmp_path, tls_server, lab_certs):
    a, b = tls_server("good"), tls_server("good_rsa")
    with RoundRobin([(a.host, a.port), (b.host, b.port)]) as lb:
        spec = build_spec(f"localhost:{lb.port}", cafile=str(lab_certs.ca_cert))
        app = app_for(tmp_path, spec=spec)
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_repeat(pilot, "4", "0")
            await pilot.press("ctrl+r")
            await _until(pilot, lambda: screen.series is not None and not screen.running and screen.series.done == 4)
            certs = screen.series.certificates()
            assert [c.runs for c in certs] == [2, 2]
            text = screen_text(app)
            assert "certificates  2 distinct leaf certificates" in text
            for cert in certs:
                assert f"{cert.sha256[:17]}…  ×2" in text
            assert "[cert-varies] The server presented 2 different certificates over 4 runs" in text


async def test_repeat_is_in_the_palette_and_a_bad_count_starts_nothing(tmp_path):
    app = app_for(tmp_path, spec=build_spec("127.0.0.1:1"))
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Repeat (f10) — Connection tab" in titles
        screen = await _open_repeat(pilot, "many", "1")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.series is None and not screen.running
        screen.query_one("#repeat-count", Input).value = "2"
        screen.query_one("#repeat-interval", Input).value = "-1"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.series is None and not screen.running
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RepeatScreen)

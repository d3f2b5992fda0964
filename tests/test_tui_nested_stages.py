"""The workbench draws stages run inside another (a DoH lookup's own connection inside the resolve
stage) as rows of their own, indented under their parent's, reachable with the keys, their details
(the DoH server's TLS) expanded like any row's; the target's chain panel stays the target's. Fed the
events of a real DoH exchange with unbound."""

from __future__ import annotations

import pytest

from tests.doh_servers import listener, run_with_doh, unbound_doh  # noqa: F401
from tests.tui_helpers import SIZE, app_for, launched, screen_text
from tlsbench.engine.events import RunFinished, StageFinished
from tlsbench.engine.spec import build_spec
from tlsbench.tui.widgets.stage_row import StageRow

pytestmark = pytest.mark.servers


@pytest.fixture
def doh_run(unbound_doh, lab_certs, listener):  # noqa: F811
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    result, exchanged, events = run_with_doh(unbound_doh.url, spec, cafile=str(lab_certs.ca_cert))
    assert result.ok and exchanged is not None
    return spec, events


async def test_nested_stages_get_indented_rows_under_their_parent(tmp_path, doh_run):
    spec, events = doh_run
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        results = app.screen.query_one("#results")
        results.start(spec)
        for event in events:
            if not isinstance(event, RunFinished):
                results.apply(event)
        await pilot.pause()
        rows = [r for r in results.waterfall.children if isinstance(r, StageRow)]
        keys = [r.stage for r in rows]
        assert keys[:7] == ["resolve", "resolve/resolve", "resolve/tcp", "resolve/tls", "resolve/chain",
                            "resolve/doh", "tcp"]
        nested = rows[1:6]
        assert all(r.depth == 1 and r.has_class("-nested") for r in nested)
        assert [r.label for r in nested] == ["resolve › resolve", "resolve › tcp connect", "resolve › tls handshake",
                                             "resolve › cert chain", "resolve › DoH queries"]
        assert all(r.status == "ok" and r.duration_ms is not None for r in nested)
        # The run's own tcp and tls rows are not the DoH connection's.
        assert results.waterfall.rows["tcp"].status != "ok" or results.waterfall.rows["tcp"].summary != \
            results.waterfall.rows["resolve/tcp"].summary
        text = screen_text(app)
        assert "  ▸ ✔ resolve › tls handshake" in text and "resolve › DoH queries" in text

        # Down from the parent's row reaches the nested rows one by one; Enter opens the TLS details.
        rows[0].focus()
        for _ in range(3):
            await pilot.press("down")
        assert app.screen.focused is results.waterfall.rows["resolve/tls"]
        await pilot.press("enter")
        await pilot.pause()
        body = results.waterfall.rows["resolve/tls"].body_text().plain
        assert "offered h2; chosen h2" in body and "ClientHello" in body and "verify" in body
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        doh = results.waterfall.rows["resolve/doh"]
        assert app.screen.focused is doh and doh.expanded
        assert "stream 1" in doh.body_text().plain and "application/dns-message" in doh.body_text().plain

        # The target's chain panel never shows the DoH server's chain (the target here has no TLS).
        from tlsbench.tui.widgets.chain_panel import ChainPanel

        assert app.screen.query_one(ChainPanel).note == "waiting for the handshake…"
        results.apply(next(e for e in events if isinstance(e, RunFinished)))
        await pilot.pause()
        assert app.screen.query_one(ChainPanel).note == "plain TCP: no TLS in this run"


async def test_a_stored_result_draws_the_connection_its_resolve_detail_holds(tmp_path, doh_run):
    """A result read back (history, a run file) has no events: the resolve stage's detail holds the
    nested records as `connection`, and the rows come from there."""
    spec, events = doh_run
    nested = tuple(e.record for e in events if isinstance(e, StageFinished) and e.record.parent == "resolve")
    result = next(e.result for e in events if isinstance(e, RunFinished))

    class HoldingDetail:
        def __init__(self, detail, records):
            self.inner, self.connection = detail, records

    stages = tuple(s._replace(detail=HoldingDetail(s.detail, nested)) if s.key == "resolve" else s
                   for s in result.stages)
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        results = app.screen.query_one("#results")
        results.start(spec)
        results.finish(result._replace(stages=stages))
        await pilot.pause()
        keys = [r.stage for r in results.waterfall.children if isinstance(r, StageRow)]
        assert keys[:6] == ["resolve", "resolve/resolve", "resolve/tcp", "resolve/tls", "resolve/chain",
                            "resolve/doh"]
        assert results.waterfall.rows["resolve/doh"].status == "ok"

"""The workbench with --http3: the quic row from the plan, its detail when opened, the app row's race."""

from __future__ import annotations

from tests.tui_helpers import SIZE, app_for, settle, wait_for_result
from tlsbench.engine.spec import build_spec


async def test_workbench_shows_the_quic_row_and_its_detail(tmp_path, caddy_h3, lab_certs):
    spec = build_spec(f"localhost:{caddy_h3.port}", cafile=str(lab_certs.ca_cert), http3="race")
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        result = await wait_for_result(pilot)
        assert result.ok, result.codes()
        rows = app.screen.query_one("#waterfall").rows
        assert rows["quic"].status == "ok" and rows["tcp"].status == "ok"
        await pilot.click(".stage-quic")
        body = rows["quic"].body_text().plain
        assert "Initial sent" in body and "QUICv1" in body and "h3" in body
        assert "TLS 1.3 inside QUIC" in body and "x25519" in body
        await pilot.click(".stage-app")
        app_body = rows["app"].body_text().plain
        assert "race" in app_body and "won" in app_body

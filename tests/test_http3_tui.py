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


async def test_compose_form_offers_http3_once_a_request_is_asked_for(tmp_path, caddy_h3, lab_certs):
    from textual.widgets import Select

    from tests.tui_helpers import fill

    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fill(app, host="localhost", port=str(caddy_h3.port), cafile=str(lab_certs.ca_cert))
        app.screen.query_one("#f-verify", Select).value = "cafile"
        await settle(pilot)
        row = app.screen.query_one("#row-http3")
        assert not row.display  # no request asked for: nothing to carry over HTTP/3
        app.screen.query_one("#f-app", Select).value = "http"
        await settle(pilot)
        assert row.display
        choice = app.screen.query_one("#f-http3", Select)
        choice.value = "only"
        await settle(pilot)
        await pilot.press("ctrl+r")
        result = await wait_for_result(pilot)
        assert result.ok, result.codes()
        assert result.stage("quic").status == "ok" and result.stage("tcp").status == "skipped"
        assert result.stage("app").detail.protocol == "h3"

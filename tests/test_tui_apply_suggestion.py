"""One key applies a finding's suggested change to the form and runs again (real servers on loopback)."""

from __future__ import annotations

from textual.widgets import Input, Select, Switch

from tests.tui_helpers import SIZE, app_for, screen_text, settle, wait_for_result
from tlsbench.engine.spec import build_spec
from tlsbench.tui.widgets.findings_panel import APPLY_KEY


def _findings_text(app) -> str:
    return app.screen.query_one("#findings-body").render().plain


async def test_the_key_sends_the_host_name_to_an_sni_strict_server(tmp_path, nginx_sni_strict, lab_certs):
    spec = build_spec(f"www.lab.test:{nginx_sni_strict.port}", pin="127.0.0.1", no_sni=True,
                      cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        assert not first.ok and first.codes()[0] == "sni-required"
        shown = _findings_text(app)
        assert f'{APPLY_KEY} applies: set SNI to "from host", and runs again' in shown, shown
        assert app.screen.query_one("#f-sni-mode", Select).value == "none"
        await pilot.press(APPLY_KEY)
        second = await wait_for_result(pilot)
        assert second is not first and second.ok, second.codes()
        assert second.tls.sni == "www.lab.test"
        form = app.screen.query_one("#form")
        assert app.screen.query_one("#f-sni-mode", Select).value == "host"
        assert app.screen.query_one("#f-pin", Input).value == "127.0.0.1"  # the rest of the form is kept
        assert form.build().tls.cafile == str(lab_certs.ca_cert)
        assert "OK in" in screen_text(app)


async def test_the_key_connects_by_the_certificate_name_and_keeps_the_address(tmp_path, tls_server, lab_certs):
    server = tls_server("wrong_host")  # its certificate names only wrong.example
    spec = build_spec(f"127.0.0.1:{server.port}", cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        assert first.codes()[0] == "cert-hostname-mismatch"
        shown = _findings_text(app)
        assert (f"{APPLY_KEY} applies: set Host to wrong.example, Port to {server.port} and Pinned IP to "
                "127.0.0.1, and runs again") in shown, shown
        await pilot.press(APPLY_KEY)
        second = await wait_for_result(pilot)
        assert second.ok, second.codes()
        assert second.target == f"wrong.example:{server.port}" and second.tls.sni == "wrong.example"
        assert app.screen.query_one("#f-host", Input).value == "wrong.example"
        assert app.screen.query_one("#f-pin", Input).value == "127.0.0.1"


async def test_the_key_turns_tls_off_for_a_plain_http_port(tmp_path, plain_http):
    app = app_for(tmp_path, spec=build_spec(f"127.0.0.1:{plain_http.port}"), run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        assert first.codes()[0] == "not-tls"
        app.screen.show_tab("listener")  # the key belongs to the connection's findings: nothing happens here
        await pilot.pause()
        run_id = app.screen.run_id
        await pilot.press(APPLY_KEY)
        await pilot.pause()
        assert app.screen.run_id == run_id and app.screen.query_one("#f-tls", Switch).value is True
        app.screen.show_tab("connection")
        await pilot.pause()
        await pilot.press(APPLY_KEY)
        second = await wait_for_result(pilot)
        assert second.ok and second.stage("app").detail.status_line.startswith("HTTP/1.1 200"), second.codes()
        assert app.screen.query_one("#f-tls", Switch).value is False
        assert app.screen.query_one("#f-app", Select).value == "http"


async def test_a_suggestion_with_a_placeholder_offers_no_key(tmp_path, nginx_sni_strict, lab_certs):
    # By IP address, nothing says which name the server wants: the change holds NAME, not a value.
    spec = build_spec(f"127.0.0.1:{nginx_sni_strict.port}", cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        assert first.codes()[0] == "sni-required"
        shown = _findings_text(app)
        assert "set Host to NAME" in shown and APPLY_KEY not in shown, shown
        run_id = app.screen.run_id
        await pilot.press(APPLY_KEY)
        await pilot.pause()
        assert app.screen.run_id == run_id and not app.screen.running  # nothing ran
        assert app.screen.query_one("#results").result is first
        assert app.screen.query_one("#f-host", Input).value == "127.0.0.1"
        assert app.screen.query_one("#f-pin", Input).value == ""

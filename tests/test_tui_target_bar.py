"""The target bar: a URL, a curl or an openssl s_client line typed or pasted beside the tabs fills the
form and runs — against a real s_server, through a real microsocks — and what it cannot carry over
is said."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from tests.tui_helpers import SIZE, app_for, launched, wait_for_result
from tlsbench.tui.widgets.target_bar import one_line


def notes(app) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


async def type_in_bar(pilot, text: str) -> None:
    await pilot.press("ctrl+l")
    await pilot.pause()
    bar = pilot.app.screen.query_one("#target-bar", Input)
    assert pilot.app.focused is bar
    bar.value = text
    await pilot.press("enter")


async def test_a_curl_line_through_socks_fills_the_form_and_runs(tmp_path, tls_server, microsocks, lab_certs):
    server = tls_server("good")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await type_in_bar(pilot, f"curl -v --socks5-hostname {microsocks.host}:{microsocks.port} "
                                 f"--cacert {lab_certs.ca_cert} https://localhost:{server.port}/")
        result = await wait_for_result(pilot)
        assert result.ok, result
        assert [s.name for s in result.stages if s.status == "ok"][:4] == ["resolve", "tcp", "proxy", "tls"]
        form = app.screen.query_one("#form")
        spec = form.build() if form.ready else app.screen.current_spec
        assert spec.target == f"localhost:{server.port}" and spec.proxies[0].kind == "socks5h"
        assert spec.tls.verify == "cafile" and spec.app.http
        assert any("not carried over" in n and "-v" in n for n in notes(app)), notes(app)
        assert "-v" in str(app.screen.query_one("#target-bar").tooltip)


async def test_an_s_client_line_with_an_sni_override(tmp_path, tls_server, lab_certs):
    server = tls_server("good")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await type_in_bar(pilot, f"openssl s_client -connect 127.0.0.1:{server.port} -servername localhost "
                                 f"-CAfile {lab_certs.ca_cert}")
        result = await wait_for_result(pilot)
        assert result.ok, result
        spec = app.screen.current_spec
        assert spec.host == "127.0.0.1" and spec.tls.sni_mode == "override" and spec.tls.sni_name == "localhost" and spec.tls.verify == "cafile"
        assert not any("not carried over" in n for n in notes(app)), notes(app)
        assert app.screen.query_one("#profiles").current is None  # a pasted connection is no saved profile


async def test_a_paste_anywhere_goes_to_the_bar_as_one_line(tmp_path, tls_server, lab_certs):
    server = tls_server("good")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        assert app.focused.id == "profile-options"
        pasted = f"curl \\\n  --cacert {lab_certs.ca_cert} \\\n  https://localhost:{server.port}/health\n"
        app.focused.post_message(events.Paste(pasted))
        await pilot.pause()
        await pilot.pause()
        bar = app.screen.query_one("#target-bar", Input)
        assert app.focused is bar
        assert bar.value == f"curl --cacert {lab_certs.ca_cert} https://localhost:{server.port}/health"
        await pilot.press("enter")
        result = await wait_for_result(pilot)
        assert result.ok and app.screen.current_spec.app.path == "/health"


async def test_what_cannot_be_read_is_said_and_nothing_runs(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        before = app.screen.query_one("#form").spec
        await type_in_bar(pilot, "wget https://example.com/")
        await pilot.pause()
        assert any("Cannot use this target" in n and "wget" in n for n in notes(app)), notes(app)
        assert not app.screen.running and app.screen.query_one("#results").result is None
        assert app.screen.query_one("#form").spec is before
        await type_in_bar(pilot, "localhost:99999")
        await pilot.pause()
        assert any("65535" in n for n in notes(app)), notes(app)


async def test_keys_escape_and_the_listener_tab(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await launched(pilot)
        bar = app.screen.query_one("#target-bar", Input)
        assert bar.display and bar.region.width >= 30  # beside the tabs, even at 80 columns
        await pilot.press("ctrl+l")
        assert app.focused is bar
        await pilot.press("escape")
        assert app.focused.id == "profile-options"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not bar.display
        await pilot.press("ctrl+l")  # from the Listener tab: back to the Connection tab, in the bar
        await pilot.pause()
        assert app.screen.tab == "connection" and bar.display and app.focused is bar


def test_lines_are_joined_as_a_shell_reads_them():
    assert one_line("curl \\\n  -k \\\r\n  https://a/\n") == "curl -k https://a/"
    assert one_line("openssl s_client\n-connect a:443") == "openssl s_client -connect a:443"
    assert one_line("\n\n") == ""


async def test_choosing_a_profile_clears_what_was_pasted(tmp_path):
    from tlsbench.engine.spec import build_spec
    from tlsbench.profiles.model import Profile
    from tlsbench.profiles.store import ProfileStore

    store = ProfileStore(tmp_path / "config")
    for name in ("alpha", "beta"):
        store.save(Profile(name, build_spec(f"{name}.test:443"), ""))
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await type_in_bar(pilot, "127.0.0.1:1")
        await wait_for_result(pilot)
        bar = app.screen.query_one("#target-bar", Input)
        assert bar.value == "127.0.0.1:1"
        await pilot.press("escape", "down")  # back to the list; the next profile is composed
        await pilot.pause()
        assert app.screen.query_one("#profiles").current is not None
        assert bar.value == ""

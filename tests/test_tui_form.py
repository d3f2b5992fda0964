"""The Compose form and the Profiles list: validation in place, composing from profiles, profile actions."""

from __future__ import annotations

from textual.widgets import Input, Select, Switch

from tests.tui_helpers import settle, SIZE, app_for, fill, wait_for_result
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore


async def test_port_out_of_range_is_marked_before_running(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fill(app, host="localhost", port="70000")
        await pilot.press("ctrl+r")
        await pilot.pause()
        form = app.screen.query_one("#form")
        invalid = form.invalid_fields()
        assert list(invalid) == ["f-port"]
        assert "70000 is out of range (1-65535)" in invalid["f-port"]
        assert app.screen.run_id == 0 and app.screen.query_one("#results").result is None
        # Typing in the field clears the mark.
        await pilot.click("#f-port")
        await pilot.press("end", "backspace")
        await pilot.pause()
        assert form.invalid_fields() == {}


async def test_bad_fields_are_marked_where_they_are(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.screen.query_one("#form")
        fill(app, host="bad host", port="443")
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-host"]
        fill(app, host="example.com", pin="not-an-ip")
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-pin"]
        fill(app, pin="", alpn="h2, ")
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-alpn"]
        fill(app, alpn="")
        app.screen.query_one("#f-route", Select).value = "socks5"
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-proxy"]
        assert app.screen.query_one("#row-proxy").display
        fill(app, proxy="127.0.0.1:1080", timeout="0")
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-timeout"]
        app.screen.query_one("#f-verify", Select).value = "off"
        await pilot.pause()
        assert app.screen.query_one("#verify-warning").display


async def test_selecting_a_profile_composes_the_form(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSBENCH_PROXY_PASSWORD", "from-the-environment")
    store = ProfileStore(tmp_path / "config")
    store.save(Profile("alpha", build_spec("alpha.test:8443", proxies=["socks5h://127.0.0.1:1080"],
                                           proxy_user="bob", sni="other.test", alpn="h2")))
    store.save(Profile("beta", build_spec("beta.test:25", tls=False, send="EHLO x\r\n", timeout=3)))
    store.set_last_used("beta")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        # The last used profile is composed at start.
        assert screen.query_one("#f-host", Input).value == "beta.test"
        assert screen.query_one("#f-tls", Switch).value is False
        assert screen.query_one("#f-send", Input).value == "EHLO x\\r\\n"
        await pilot.click("#profile-options")
        screen.query_one("#profile-options").highlighted = 0
        await pilot.pause()
        assert screen.query_one("#f-host", Input).value == "alpha.test"
        assert screen.query_one("#f-port", Input).value == "8443"
        assert screen.query_one("#f-route", Select).value == "socks5h"
        assert screen.query_one("#f-proxy-user", Input).value == "bob"
        assert screen.query_one("#f-proxy-password", Input).value == ""
        assert screen.query_one("#f-sni-mode", Select).value == "override"
        assert screen.query_one("#f-sni", Input).value == "other.test"
        spec = screen.query_one("#form").build()
        assert spec.proxy.kind == "socks5h" and spec.sni == "other.test" and spec.tls.alpn == ("h2",)


async def test_save_duplicate_delete_profiles(tmp_path):
    store = ProfileStore(tmp_path / "config")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fill(app, host="saved.test", port="443")
        await pilot.press("ctrl+s")
        await pilot.pause()
        name_input = app.screen.query_one("#name", Input)
        name_input.value = "mine"
        await pilot.press("enter")
        await pilot.pause()
        assert store.names() == ["mine"]
        assert store.get("mine").spec.target == "saved.test:443"
        await pilot.press("f3")
        await pilot.pause()
        app.screen.query_one("#name", Input).value = "mine2"
        await pilot.press("enter")
        await pilot.pause()
        assert store.names() == ["mine", "mine2"]
        await pilot.press("f8")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert store.names() == ["mine"]


async def test_broken_profile_file_is_reported_and_kept(tmp_path):
    store = ProfileStore(tmp_path / "config")
    store.save(Profile("good", build_spec("good.test:443")))
    broken = store.profiles_dir / "broken.toml"
    broken.write_text("target = \n[[[\n")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause()
        note = app.screen.query_one("#profile-problems")
        assert note.display and "broken.toml" in str(note.render())
        assert app.screen.query_one("#f-host", Input).value == "good.test"
    assert broken.read_text() == "target = \n[[[\n"


async def test_copy_as_command_shows_the_equivalents(tmp_path):
    spec = build_spec("example.test:443", proxies=["socks5h://127.0.0.1:1080"], alpn="h2")
    app = app_for(tmp_path, spec=spec)
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+y")
        await pilot.pause()
        modal = app.screen
        curl = str(modal.query_one("#command-curl").render())
        assert curl.startswith("curl ") and "example.test" in curl
        assert str(modal.query_one("#command-openssl").render()).startswith("openssl s_client")
        await pilot.press("c")
        assert copied and "curl " in copied[0] and "openssl s_client" in copied[0]


async def test_listener_use_as_target_composes_and_runs_a_connection(tmp_path, closed_port):
    from tlsbench.tui.listener import ListenerView

    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.show_tab("listener")
        await pilot.pause()
        assert app.screen.query(ListenerView)  # the real view is in the Listener tab
        app.screen.post_message(ListenerView.UseAsTarget(closed_port.host, closed_port.port, False, None))
        await pilot.pause()
        assert app.screen.tab == "connection"
        assert app.screen.query_one("#f-host", Input).value == closed_port.host
        assert app.screen.query_one("#f-port", Input).value == str(closed_port.port)
        assert app.screen.query_one("#f-tls", Switch).value is False
        result = await wait_for_result(pilot)
        assert app.screen.run_id == 1 and "tcp-refused" in result.codes()


async def test_copy_as_command_shows_each_line_exactly_as_it_is_copied(tmp_path):
    # printf '...\r\n...' must keep single backslashes on screen: a doubled one would be another command.
    from tlsbench.engine.equivalents import equivalent_commands

    spec = build_spec("example.test:443", http=True)
    app = app_for(tmp_path, spec=spec)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+y")
        await pilot.pause()
        shown = str(app.screen.query_one("#command-openssl").render())
        expected = equivalent_commands(spec).openssl.command
        assert "\\r\\n" in expected and "\\\\r" not in expected
        # Wrapped between arguments with a shell continuation: read as a shell reads it, the same line.
        assert shown.replace(" \\\n    ", " ") == expected
        assert all(line.endswith(" \\") for line in shown.split("\n")[:-1])


async def test_a_socks5_user_without_a_password_is_asked_for_one(tmp_path, monkeypatch, microsocks_auth, plain_http):
    # A profile keeps only the variable's name; with it unset the form asks instead of sending nothing.
    monkeypatch.delenv("TLSBENCH_PROXY_PASSWORD", raising=False)
    spec = build_spec(f"127.0.0.1:{plain_http.port}", proxies=[f"socks5://{microsocks_auth.address}"],
                      proxy_user=microsocks_auth.username, tls=False, http=True, environ={})
    app = app_for(tmp_path, spec=spec)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        form = app.screen.query_one("#form")
        invalid = form.invalid_fields()
        assert list(invalid) == ["f-proxy-password"] and "$TLSBENCH_PROXY_PASSWORD" in invalid["f-proxy-password"]
        assert app.screen.run_id == 0
        fill(app, proxy_password=microsocks_auth.password)
        await pilot.press("ctrl+r")
        result = await wait_for_result(pilot)
        assert result.ok and result.stage("proxy").detail.auth == "username/password"


async def test_dns_servers_doh_and_groups_are_composed_in_the_form(tmp_path):
    """The resolver's and the hand-built hello's options are form rows: typed there they reach the spec
    (bad values marked where they are), and a profile holding them fills them back."""
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.screen.query_one("#form")
        fill(app, host="www.lab.test", port="443", dns_servers="not a server")
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-dns-servers"]
        assert not app.screen.query_one("#row-doh_insecure").display  # no DoT/DoH server: nothing to skip
        fill(app, dns_servers="127.0.0.1:5353, tls://dns.lab.test:853", groups="X25519MLKEM768:x25519")
        await pilot.pause()
        assert app.screen.query_one("#row-doh_insecure").display
        app.screen.query_one("#f-doh-insecure", Switch).value = True
        spec = form.checked_spec()
        assert spec is not None and form.invalid_fields() == {}
        assert spec.dns.servers == ("127.0.0.1:5353", "tls://dns.lab.test:853") and spec.dns.doh_insecure
        assert spec.tls.groups == ("X25519MLKEM768", "x25519")
        fill(app, dns_servers="", doh_url="http://dns.lab.test/dns-query")
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-doh-url"]
        fill(app, doh_url="https://dns.lab.test/dns-query", groups="no-such-group")
        await pilot.press("ctrl+r")
        assert list(form.invalid_fields()) == ["f-groups"]
        # Loaded back from a spec, as a profile composes the form.
        form.load_spec(build_spec("www.lab.test:443", doh_url="https://dns.lab.test/dns-query", groups="x25519"))
        await pilot.pause()
        assert app.screen.query_one("#f-doh-url", Input).value == "https://dns.lab.test/dns-query"
        assert app.screen.query_one("#f-groups", Input).value == "x25519"
        assert app.screen.query_one("#f-dns-servers", Input).value == ""

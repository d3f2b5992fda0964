"""Untrusted text reaches the screen literally: markup stays characters, control characters become visible."""

from __future__ import annotations

from cryptography.x509.oid import NameOID

from tests.hostile_certs import self_signed
from tests.tui_helpers import settle, SIZE, app_for, screen_segments, screen_text, svg_text, wait_for_result
from tlsbench.engine.spec import build_spec
from tlsbench.visible import visible
from tlsbench.lab.certs import CertFiles
from tlsbench.tui.widgets.chain_tree import common_name

EVIL = "[bold red]evil[/] [link=http://x]y[/link]"


def make_evil_cert(directory) -> CertFiles:
    return self_signed(directory, {NameOID.COMMON_NAME: EVIL + "\x1b[31m",
                                   NameOID.ORGANIZATION_NAME: "c1\x9bchar [@click=app.quit]q"}, "evil.test")


async def test_markup_and_escape_in_a_certificate_are_shown_literally(tmp_path, tls_server):
    server = tls_server(make_evil_cert(tmp_path))
    spec = build_spec(f"127.0.0.1:{server.port}", insecure=True)
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=(200, 50)) as pilot:  # the chain panel wide enough for the whole name
        await settle(pilot)
        result = await wait_for_result(pilot)
        leaf = result.chain.certificates[0]
        assert "\x1b" in leaf.subject  # the engine keeps the data as received
        await pilot.press("f6")  # expand every row and certificate
        await pilot.pause()
        tree = app.screen.query_one("#chain-tree")
        label = tree.root.children[0].label
        assert visible(common_name(leaf.subject)) in label.plain
        assert EVIL + "\\e[31m" in label.plain
        assert not label.spans or all("link" not in str(span.style) for span in label.spans)
        text = screen_text(app)
        assert EVIL in text
        assert "\\e[31m" in text and "\\u009bchar [@click=app.quit]q" in text
        segments = screen_segments(app)
        assert not any("\x1b" in s or "\x9b" in s for s in segments)
        assert "\x1b" not in svg_text(app)
        # No segment carries a hyperlink or a click action taken from the certificate.
        for strip in app.screen._compositor.render_strips():
            for segment in strip:
                style = segment.style
                if style is not None:
                    assert style.link is None or "http://x" not in style.link
                    assert "app.quit" not in str(style.meta)


async def test_untrusted_error_text_in_the_form_is_literal(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        from textual.widgets import Input

        app.screen.query_one("#f-host", Input).value = "[bold]x[/]\x1b"
        app.screen.query_one("#f-port", Input).value = "443"
        await pilot.pause()
        assert "\x1b" not in app.screen.query_one("#f-host", Input).value  # pasted controls are escaped
        await pilot.press("ctrl+r")
        await pilot.pause()
        shown = app.screen.query_one("#form").invalid_fields()["f-host"]
        assert "host '[bold]x[/]" in shown and "\x1b" not in shown
        assert not any("\x1b" in s for s in screen_segments(app))

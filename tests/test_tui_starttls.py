"""STARTTLS in the workbench: the form's fields (derived from the option declarations), a run against
real MTA (postfix or exim4) with its starttls row, and the row's rendering of hostile server text."""

from __future__ import annotations

import socket
import threading

from textual.widgets import Input, Select

from tests.tui_helpers import SIZE, app_for, fill, screen_segments, settle, wait_for_result
from tlsbench.engine.hops.starttls.detail import ExchangeLine, StarttlsDetail
from tlsbench.engine.spec import build_spec
from tlsbench.tui.stage_text import detail_text
from tlsbench.lab.mail_servers import STARTTLS_REPLY


async def test_the_form_shows_the_names_the_protocol_needs(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        name, xmpp = screen.query_one("#row-starttls_name"), screen.query_one("#row-xmpphost")
        assert not name.display and not xmpp.display
        screen.query_one("#f-starttls", Select).value = "smtp"
        await pilot.pause()
        assert name.display and not xmpp.display
        screen.query_one("#f-starttls", Select).value = "xmpp"
        await pilot.pause()
        assert not name.display and xmpp.display
        fill(app, host="chat.lab.test", port="5222", xmpphost="lab.test")
        spec = screen.query_one("#form").build()
        assert spec.starttls.protocol == "xmpp" and spec.starttls.xmpphost == "lab.test"
        screen.query_one("#form").load_spec(build_spec("mail.lab.test:587", starttls="auto"))
        await pilot.pause()
        assert screen.query_one("#f-starttls", Select).value == "auto"
        assert name.display and xmpp.display and screen.query_one("#f-starttls-name", Input).value == \
            "mail.example.com"


async def test_a_run_against_an_mta_shows_the_exchange(tmp_path, smtp_tls, lab_certs):
    spec = build_spec(f"mail.lab.test:{smtp_tls.port}", pin="127.0.0.1", starttls="smtp",
                      cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        result = await wait_for_result(pilot)
        assert result.ok, result.codes()
        rows = app.screen.query_one("#waterfall").rows
        row = rows["starttls"]
        assert row.status == "ok" and row.label == "starttls"
        body = row.body_text().plain
        assert "SMTP (--starttls smtp)" in body and "→ EHLO mail.example.com" in body
        assert f"← {STARTTLS_REPLY[smtp_tls.name]}" in body
        over_tls = rows["app"].body_text().plain
        assert "the capabilities asked again inside TLS" in over_tls and "only before" in over_tls


def test_hostile_server_words_are_shown_not_obeyed():
    hostile = "220 \x1b[2J\x1b]0;pwned\x07 [bold]mail[/] \u202eexe.gnp"
    detail = StarttlsDetail(asked="smtp", protocol="smtp", greeting=(hostile,), reply=(hostile,), accepted=False,
                            command="STARTTLS", exchange=(ExchangeLine(1.5, "received", hostile),),
                            notes=(hostile,))
    text = detail_text(detail)
    plain = text.plain
    assert "\x1b" not in plain and "\x07" not in plain and "\u202e" not in plain
    assert "\\e[2J" in plain and "[bold]mail[/]" in plain and "\\u202e" in plain
    assert all(not span.style or "link" not in str(span.style) for span in text.spans)


class HostileSmtp:
    """Greets with escape sequences and refuses STARTTLS with more of them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                conn.sendall(b"220 \x1b[2J\x1b]0;pwned\x07 [red]x[/] ESMTP\r\n")
                conn.recv(1024)
                conn.sendall(b"250-x\r\n250 STARTTLS\r\n")
                conn.recv(1024)
                conn.sendall(b"454 \x1b[31mno\x9b TLS " + "\u202e".encode() + b"\r\n")
                conn.recv(1024)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


async def test_the_screen_never_carries_the_servers_control_characters(tmp_path):
    server = HostileSmtp()
    try:
        app = app_for(tmp_path, spec=build_spec(f"127.0.0.1:{server.port}", starttls="smtp", insecure=True,
                                                timeout=5), run=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            result = await wait_for_result(pilot)
            assert result.codes()[0] == "starttls-refused"
            await pilot.click(".stage-starttls")
            await pilot.pause()
            row = app.screen.query_one("#waterfall").rows["starttls"]
            assert row.expanded and "\\e]0;pwned\\x07" in row.body_text().plain
            segments = screen_segments(app)
            assert not any(ch in seg for seg in segments for ch in ("\x1b", "\x07", "\x9b", "\u202e"))
    finally:
        server.close()

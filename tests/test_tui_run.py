"""Workbench runs against real loopback servers: rows, chain, socket panel, findings, cancel."""

from __future__ import annotations

import re
import socket

from textual.widgets import Select

from tests.tui_helpers import settle, SIZE, app_for, fill, screen_text, wait_for_result
from tlsbench.engine.spec import build_spec


async def test_tls_success_shows_rows_chain_and_socket(tmp_path, tls_server, lab_certs):
    server = tls_server("good")
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fill(app, host="localhost", port=str(server.port), cafile=str(lab_certs.ca_cert))
        app.screen.query_one("#f-verify", Select).value = "cafile"
        await pilot.press("ctrl+r")
        result = await wait_for_result(pilot)
        assert result.ok, result.codes()
        rows = app.screen.query_one("#waterfall").rows
        for name in ("resolve", "tcp", "tls", "chain"):
            assert rows[name].status == "ok"
            assert rows[name].duration_ms == result.stage(name).duration_ms
        assert rows["proxy"].status == "skipped"
        tree = app.screen.query_one("#chain-tree")
        # the certificates sent, then the verified path up to the trust anchor from the CA file
        assert len(tree.root.children) == len(result.chain.certificates) + 1 >= 3
        assert "verified" in tree.root.label.plain
        assert str(tree.root.children[0].label.plain).startswith("#0 leaf")
        path = tree.root.children[-1]
        assert path.label.plain.startswith("verified path 3 certificate(s), up to tlsbench Lab Root CA")
        assert "trust anchor" in path.children[-1].label.plain
        socket_panel = app.screen.query_one("#socket")
        assert socket_panel.info.local_port == result.socket.local_port
        text = screen_text(app)
        assert re.search(rf"port\s+{result.socket.local_port}\b", text), text
        assert "OK in" in text and "No problems found." in text


async def test_plaintext_port_gives_not_tls_with_the_bytes(tmp_path, plain_http):
    spec = build_spec(f"127.0.0.1:{plain_http.port}", insecure=True)
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        result = await wait_for_result(pilot)
        assert "not-tls" in result.codes()
        findings = app.screen.query_one("#findings")
        assert findings.has_class("-error")
        assert findings.findings[0].code == "not-tls"
        row = app.screen.query_one("#waterfall").rows["tls"]
        assert row.status == "failed"
        await pilot.click(".stage-tls")
        body = row.body_text().plain
        assert "first bytes from the peer" in body and "48 54 54 50" in body  # "HTTP" in hex
        text = screen_text(app)
        assert "FAILED at tls" in text and "[not-tls]" in text


async def test_sni_strict_server_without_sni(tmp_path, nginx_sni_strict, lab_certs):
    spec = build_spec(f"127.0.0.1:{nginx_sni_strict.port}", no_sni=True, cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        result = await wait_for_result(pilot)
        assert "sni-required" in result.codes()
        assert app.screen.query_one("#findings").has_class("-error")
        assert "sni-required" in screen_text(app)


async def test_cancel_mid_stage(tmp_path):
    # A listener that never answers: the TLS stage waits until cancelled.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        spec = build_spec(f"127.0.0.1:{listener.getsockname()[1]}", insecure=True, timeout=30)
        app = app_for(tmp_path, spec=spec, run=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            rows = app.screen.query_one("#waterfall").rows
            for _ in range(200):
                await pilot.pause(0.05)
                if "tls" in rows:
                    break
            assert rows["tls"].status == "running"
            assert app.screen.query_one("#toolbar").enabled("cancel")
            await pilot.press("ctrl+g")
            result = await wait_for_result(pilot)
            assert result.cancelled
            assert app.screen.query_one("#results").has_class("-cancelled")
            text = screen_text(app)
            assert "CANCELLED" in text and "FAILED" not in text
            assert rows["tls"].status == "cancelled"
            assert "cancelled before a certificate arrived" in app.screen.query_one("#chain").label()


async def test_rerun_keeps_previous_for_comparison(tmp_path, plain_http):
    spec = build_spec(f"127.0.0.1:{plain_http.port}", tls=False, http=True)
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await wait_for_result(pilot)
        await pilot.press("ctrl+r")
        for _ in range(200):
            await pilot.pause(0.05)
            if app.screen.query_one("#results").result not in (None, first):
                break
        second = await wait_for_result(pilot)
        assert second is not first and app.screen.previous is first
        assert app.screen.query_one("#waterfall").rows["tcp"].previous_ms == first.stage("tcp").duration_ms
        await pilot.press("f4", "enter")  # History, then compare with the previous run (preselected)
        await pilot.pause()
        table = app.screen.query_one("#compare-table")
        cells = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "tcp connect" in cells and "total" in cells


async def test_an_expired_certificate_counts_the_same_days_everywhere(tmp_path, running_lab):
    """The lab's description, the stage summary, the chain panel and probe's text: one count."""
    from tlsbench.commands.probe_output import summary_lines

    entry = running_lab.entry("lab-expired")
    app = app_for(tmp_path, spec=entry.spec, run=True)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        result = await wait_for_result(pilot)
        leaf = result.chain.certificates[0]
        words = leaf.lifetime
        assert words.startswith("expired ") and words in entry.description
        assert words in result.stage("chain").summary
        assert any(words in text for text in summary_lines(result))  # what `tlsbench probe` prints
        tree = app.screen.query_one("#chain-tree")
        leaf_node = next(node for node in tree.root.children if node.data is not None)
        labels = [node.label.plain for node in leaf_node.children]
        assert any(label.endswith(words) for label in labels if label.startswith("validity")), labels

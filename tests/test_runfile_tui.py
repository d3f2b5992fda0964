"""The workbench and run files: `tlsbench show FILE` displays a saved run; Copy / share saves the last run.
Driven with Textual's pilot against real loopback servers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.widgets import Input

from tests.tui_helpers import SIZE, app_for, launched, screen_text, wait_for_result
from tlsbench.commands.show import make_show_app
from tlsbench.engine.events import Event, RunFinished
from tlsbench.engine.records.runfile import read_run, run_record, save_run
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.store import ProfileStore


def _tree(root: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in root.rglob("*") if p.is_file()}


async def test_show_displays_a_saved_run_as_if_it_had_just_run(tmp_path: Path, tls_server: Any, lab_certs: Any,
                                                                 monkeypatch: Any) -> None:
    server = tls_server("expired")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    events: list[Event] = []
    result = run_probe(spec, on_event=events.append)
    assert "cert-expired" in result.codes()
    saved = tmp_path / "shared-run.json"
    save_run(saved, run_record(spec, events))
    record = read_run(saved)
    config = tmp_path / "config"
    monkeypatch.setenv("TLSBENCH_CONFIG_DIR", str(config))
    before = _tree(tmp_path)
    app = make_show_app(record, str(saved))  # the store of $TLSBENCH_CONFIG_DIR, as the command opens it
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        shown = await wait_for_result(pilot)
        screen = app.screen
        assert shown == record.result and shown.codes() == result.codes()
        rows = screen.query_one("#waterfall").rows
        for stage in result.stages:
            assert rows[stage.id].duration_ms == stage.duration_ms or stage.status == "skipped"
        assert rows["tls"].messages  # the TLS messages, as a live run shows them
        findings = screen.query_one("#findings")
        assert [f.code for f in findings.findings] == result.codes()
        tree = screen.query_one("#chain-tree")
        assert result.chain is not None and len(tree.root.children) >= len(result.chain.certificates)
        assert screen.query_one("#socket").info.local_port == result.socket.local_port
        loaded = screen.query_one("#form").checked_spec()  # the form holds the run's connection
        assert loaded is not None and loaded.target == spec.target and loaded.tls.cafile == spec.tls.cafile
        assert screen.current_spec.target == spec.target and screen.current_spec.tls.cafile == spec.tls.cafile
        text = screen_text(app)
        assert "saved run" in text and "shared-run.json" in text and "read-only" in text
        assert "FAILED" in text and "cert-expired" in text
        # the shown run can be shared again from the Copy / share dialog
        assert screen.last_run is not None and screen.last_run[1] == record.events
    assert _tree(tmp_path) == before  # opening it wrote nothing: no profile, no state, no file
    assert not config.exists()  # not even the config directory


async def test_copy_share_saves_the_last_run(tmp_path: Path, tls_server: Any, lab_certs: Any, monkeypatch: Any) -> None:
    server = tls_server("good")
    monkeypatch.chdir(tmp_path)
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        result = await wait_for_result(pilot)
        assert result.ok
        await pilot.press("ctrl+y")
        await pilot.pause()
        dialog = app.screen
        field = dialog.query_one("#save-run-path", Input)
        assert field.value.startswith(f"tlsbench-run-localhost-{server.port}-") and field.value.endswith(".json")
        name = field.value
        await pilot.press("s")  # the dialog's own key: to the file name
        assert app.focused is field
        await pilot.press("enter")
        await pilot.pause()
        status = str(dialog.query_one("#save-run-status").render())
        assert "saved to" in status and name in status
        saved = read_run(tmp_path / name)
        last = saved.events[-1]
        assert saved.result == result and isinstance(last, RunFinished) and last.result == result
        assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o600"
        # never over someone else's file: asked first, then refused in one line, the file untouched
        notes = tmp_path / "notes.json"
        notes.write_text('{"mine": true}')
        field.value = "notes.json"
        await pilot.press("enter")
        await pilot.pause()
        assert "exists" in str(dialog.query_one("#save-run-status").render())
        await pilot.press("enter")
        await pilot.pause()
        status = str(dialog.query_one("#save-run-status").render())
        assert "not saved" in status and "not a tlsbench run file" in status and "\n" not in status.strip()
        assert notes.read_text() == '{"mine": true}'
        # a folder that does not exist: one line too
        field.value = os.path.join("no", "such", "run.json")
        await pilot.press("enter")
        await pilot.pause()
        assert "folder does not exist" in str(dialog.query_one("#save-run-status").render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query("#waterfall")


async def test_copy_share_before_any_run_says_there_is_nothing_to_save(tmp_path: Path) -> None:
    app = app_for(tmp_path, spec=build_spec("example.test:443"))
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert not app.screen.query("#save-run-path")
        assert "no finished run yet" in str(app.screen.query_one("#save-run-status").render())
        assert app.screen.query_one("#command-curl")


async def test_show_draws_text_from_the_file_as_data(tmp_path: Path, plain_http: Any) -> None:
    # A shared file is a stranger's: markup and terminal controls in it stay characters on screen.
    import json

    from tlsbench.engine.records.runfile import dump_run, load_run
    from tests.tui_helpers import screen_segments

    spec = build_spec(f"127.0.0.1:{plain_http.port}", insecure=True)
    events: list[Event] = []
    run_probe(spec, on_event=events.append)
    document = json.loads(dump_run(run_record(spec, events)))
    evil = "[bold red]evil[/] \x1b[2J\u202egnp.exe"
    for finding in document["result"]["findings"]:
        finding["title"] = evil
    for event in document["events"]:
        if event["$"] == "FindingRaised":
            event["finding"]["title"] = evil
    source = "[b]shared[/b]\x1b]0;x\x07.json"
    record = load_run(json.dumps(document).encode(), source)
    app = make_show_app(record, source, store=ProfileStore(tmp_path / "config"))
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        await wait_for_result(pilot)
        text = screen_text(app)
        assert "[bold red]evil[/]" in text and "\\e[2J" in text and "\\u202egnp.exe" in text
        assert "[b]shared[/b]\\e]0;x\\a.json" in text or "[b]shared[/b]\\e]0;x" in text
        assert not any("\x1b" in s or "\u202e" in s or "\x07" in s for s in screen_segments(app))


def test_a_long_saved_run_path_is_shortened_in_its_middle_keeping_the_file_name() -> None:
    from tlsbench.tui.saved_run import SOURCE_WIDTH, saved_note

    class Saved:
        saved_at = "2026-12-08T01:06:28Z"

    long = "/tmp/" + "deep/" * 20 + "shared-run.json"
    note = saved_note(long, Saved()).plain  # type: ignore[arg-type]
    shown = note.split("◆ saved run ", 1)[1].split(" · ", 1)[0]
    assert shown.endswith("/shared-run.json") and "…" in shown and len(shown) <= SOURCE_WIDTH
    assert note.endswith("· saved 2026-12-08 01:06:28 UTC · read-only")
    assert saved_note("shared-run.json", Saved()).plain.startswith("◆ saved run shared-run.json ·")  # type: ignore[arg-type]

"""The chain as verified (up to the trust anchor, and where it came from) and its export:
--showcerts, --save-chain, JSON chain_verified, the workbench's copy and save; real s_server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from cryptography import x509

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_the_verified_path_ends_at_the_anchor_from_the_ca_file(tls_server, lab_certs):
    server = tls_server("good")
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    chain = result.chain
    assert result.ok and len(chain.certificates) == 2
    path = chain.verified_path
    assert [c.subject for c in path] == ["CN=localhost,O=tlsbench lab", "CN=tlsbench Lab Intermediate CA,O=tlsbench lab",
                                         "CN=tlsbench Lab Root CA,O=tlsbench lab"]
    assert [c.sent for c in path] == [True, True, False] and [c.anchor for c in path] == [False, False, True]
    assert chain.anchor_source == f"CA file {lab_certs.ca_cert}"
    data = result.to_json_dict()
    assert [c["anchor"] for c in data["chain_verified"]] == [False, False, True]
    assert data["chain_verified"][-1]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert data["chain_verification"]["anchor_source"] == chain.anchor_source
    assert "verified_path" not in data["chain_verification"]
    assert result.stage("chain").summary.endswith("verified up to CN=tlsbench Lab Root CA,O=tlsbench lab")


def test_a_root_sent_by_the_server_is_still_the_anchor(tls_server, lab_certs, tmp_path):
    issuers = tmp_path / "with-root.pem"
    issuers.write_bytes(lab_certs.intermediate_cert.read_bytes() + lab_certs.ca_cert.read_bytes())
    from tlsbench.lab.certs import CertFiles

    good = lab_certs.good
    server = tls_server(CertFiles(good.cert, good.key, good.chain, issuers, good.names))
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    assert len(result.chain.certificates) == 3
    anchor = result.chain.verified_path[-1]
    assert anchor.anchor and anchor.sent


def test_a_failed_verification_has_no_verified_path(tls_server, lab_certs):
    server = tls_server("unknown_ca")
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    assert not result.ok and result.chain.verified_path == () and result.to_json_dict()["chain_verified"] == []


def test_the_system_store_is_named(tls_server, lab_certs):
    server = tls_server("good")
    env = dict(os.environ, SSL_CERT_FILE=str(lab_certs.ca_cert))  # OpenSSL's system store, pointed at the lab CA
    out = cli(f"localhost:{server.port}", "--json", env=env)
    data = json.loads(out.stdout)
    assert data["ok"], data["findings"]
    assert data["chain_verification"]["anchor_source"].startswith(f"system store ({lab_certs.ca_cert}")


def test_showcerts_and_save_chain(tls_server, lab_certs, tmp_path):
    server = tls_server("good")
    target = f"localhost:{server.port}"
    saved = tmp_path / "chain.pem"
    out = cli(target, "--cafile", str(lab_certs.ca_cert), "--showcerts", "--save-chain", str(saved))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("-----BEGIN CERTIFICATE-----") == 3
    assert f" 2 s:CN=tlsbench Lab Root CA,O=tlsbench lab\n   i:CN=tlsbench Lab Root CA,O=tlsbench lab\n" \
           f"   trust anchor from the CA file {lab_certs.ca_cert} (not sent)" in out.stdout
    assert "#2 CN=tlsbench Lab Root CA,O=tlsbench lab  [trust anchor, from the CA file" in out.stdout
    assert f"saved 3 certificate(s) to {saved}" in out.stderr
    certs = x509.load_pem_x509_certificates(saved.read_bytes())
    assert [c.subject.rfc4514_string() for c in certs][-1] == "CN=tlsbench Lab Root CA,O=tlsbench lab"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o644
    check = subprocess.run(["openssl", "verify", "-CAfile", str(saved), str(lab_certs.good.cert)],
                           capture_output=True, text=True, timeout=20)
    assert check.returncode == 0, check.stderr
    again = cli(target, "--cafile", str(lab_certs.ca_cert), "--save-chain", str(saved))  # over a PEM file: fine
    assert again.returncode == 0, again.stderr


def test_save_chain_refuses_what_it_would_destroy(tls_server, lab_certs, tmp_path):
    server = tls_server("good")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    out = cli(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--save-chain", str(notes))
    assert out.returncode == 2 and "holds no PEM certificate" in out.stderr and out.stdout == ""
    assert notes.read_text() == "my notes\n"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = cli(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--save-chain", str(fifo))
    assert out.returncode == 2 and "FIFO" in out.stderr
    out = cli(f"localhost:{server.port}", "--save-chain", str(tmp_path / "no" / "such" / "dir.pem"))
    assert out.returncode == 2 and "folder does not exist" in out.stderr


async def test_the_workbench_copies_and_saves(tmp_path, tls_server, lab_certs, monkeypatch):
    from textual.widgets import Select

    from tests.tui_helpers import SIZE, app_for, fill, settle, wait_for_result

    server = tls_server("good")
    monkeypatch.chdir(tmp_path)
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fill(app, host="localhost", port=str(server.port), cafile=str(lab_certs.ca_cert))
        app.screen.query_one("#f-verify", Select).value = "cafile"
        await pilot.press("ctrl+r")
        result = await wait_for_result(pilot)
        assert result.ok
        await pilot.press("2")  # the Chain view
        await pilot.pause()
        tree = app.screen.query_one("#chain-tree")
        tree.focus()
        tree.move_cursor(tree.root.children[0])  # the leaf
        await pilot.press("c")
        assert app.clipboard.count("BEGIN CERTIFICATE") == 1 and "s:CN=localhost" in app.clipboard
        await pilot.press("C")
        assert app.clipboard.count("BEGIN CERTIFICATE") == 3
        await pilot.press("s", "S", "s")
        await pilot.pause()
    files = sorted(p.name for p in tmp_path.glob("*.pem"))
    assert len(files) == 3, files
    leaf = [f for f in files if not f.endswith("-chain.pem")]
    assert len(leaf) == 2 and any(f.endswith("-2.pem") for f in leaf)  # a second save never overwrites the first
    chain_file = next(tmp_path.glob("*-chain.pem"))
    assert len(x509.load_pem_x509_certificates(chain_file.read_bytes())) == 3

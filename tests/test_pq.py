"""--groups and --pq: the key-exchange stage's hand-built TLS 1.3 hello against the test responder
(the hybrid selected and proven, x25519 only, a HelloRetryRequest, a bad signature) and real
`openssl s_server -tls1_3` (x25519 when offered the hybrid, a HelloRetryRequest for its only group,
a refusal); the JSON's `tls.key_exchange`; bad --groups in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.engine.tls13 import keyshare
from tlsbench.lab.tls13_responder import ResponderOptions, Tls13Responder

pytestmark = pytest.mark.servers


def probe(port: int, lab_certs, groups: str, **options):
    return run_probe(build_spec(f"localhost:{port}", cafile=str(lab_certs.ca_cert), groups=groups, **options))


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


def responder(lab_certs, **options) -> Tls13Responder:
    return Tls13Responder(ResponderOptions(lab_certs.good.chain, lab_certs.good.key, **options))


def test_pq_against_a_server_with_the_hybrid(lab_certs):
    with responder(lab_certs) as server:
        result = probe(server.port, lab_certs, "X25519MLKEM768,x25519")
    stage = result.stage("key-exchange")
    assert result.ok and stage.status == "ok"
    assert stage.summary == ("X25519MLKEM768 selected, its 1,120-byte share decapsulated and EncryptedExtensions "
                             "decrypted")
    kx = result.to_json_dict()["tls"]["key_exchange"]
    assert (kx["offered"], kx["selected"], kx["hello_retry"], kx["by"]) == (
        ["X25519MLKEM768", "x25519"], "X25519MLKEM768", None, "tlsbench")
    assert kx["decrypted"] and kx["server_share_bytes"] == 1120 and kx["hello_bytes"][0] > 1200
    assert codes(result) == ["pq-hybrid-selected"]
    assert server.options.seen[-1][2] == (keyshare.X25519MLKEM768, keyshare.X25519)


def test_a_server_without_ml_kem_falls_back(lab_certs, tls_server):
    server = tls_server("good", tls_version="1.3")
    result = probe(server.port, lab_certs, "X25519MLKEM768:x25519")
    kx = result.to_json_dict()["tls"]["key_exchange"]
    assert result.ok and (kx["selected"], kx["hello_retry"], kx["decrypted"]) == ("x25519", None, True)
    fallback = next(f for f in result.findings if f.code == "pq-fallback")
    assert fallback.title == "The server chose x25519, not the post-quantum hybrid offered"


def test_a_hello_retry_request_is_reported(lab_certs, tls_server):
    server = tls_server("good", tls_version="1.3", extra_args=["-groups", "secp384r1"])
    result = probe(server.port, lab_certs, "X25519MLKEM768:x25519:secp384r1")
    kx = result.to_json_dict()["tls"]["key_exchange"]
    assert (kx["selected"], kx["hello_retry"], kx["decrypted"]) == ("secp384r1", "secp384r1", True)
    assert codes(result) == ["key-share-retry", "pq-fallback"]
    assert len(kx["hello_bytes"]) == 2


def test_the_server_refuses_every_group_offered(lab_certs, tls_server):
    server = tls_server("good", tls_version="1.3", extra_args=["-groups", "secp384r1"])
    result = probe(server.port, lab_certs, "x25519")
    stage = result.stage("key-exchange")
    assert stage.status == "failed" and stage.detail.alert == "handshake_failure"
    refused = next(f for f in result.findings if f.code == "groups-refused")
    assert "handshake_failure" in refused.explanation


def test_the_responder_asks_for_a_retry_and_the_hybrid_still_decrypts(lab_certs):
    with responder(lab_certs, groups=(keyshare.X25519MLKEM768, keyshare.X25519), retry=True) as server:
        result = probe(server.port, lab_certs, "x25519,X25519MLKEM768")
    kx = result.to_json_dict()["tls"]["key_exchange"]
    assert (kx["shared"], kx["hello_retry"], kx["selected"]) == (["x25519"], "X25519MLKEM768", "X25519MLKEM768")
    assert kx["decrypted"] and codes(result) == ["key-share-retry", "pq-hybrid-selected"]


def test_a_signature_that_does_not_verify_fails_the_stage(lab_certs):
    with responder(lab_certs, tamper="signature") as server:
        result = probe(server.port, lab_certs, "X25519MLKEM768,x25519")
    assert result.stage("key-exchange").status == "failed"
    invalid = next(f for f in result.findings if f.code == "tls13-flight-invalid")
    assert "the signature does not verify with the leaf's key" in invalid.explanation


def test_without_groups_the_json_says_what_openssl_did(lab_certs, tls_server):
    server = tls_server("good")
    data = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert))).to_json_dict()
    assert data["tls"]["key_exchange"] == {"method": "(EC)DHE", "offered": None, "selected": "x25519",
                                           "hello_retry": None, "by": "openssl"}
    assert "key-exchange" not in [s["name"] for s in data["stages"]]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))


def test_the_cli_pq_flag_and_json(lab_certs):
    with responder(lab_certs) as server:
        out = run_cli(f"localhost:{server.port}", "--pq", "--cafile", str(lab_certs.ca_cert), "--json")
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["schema"] == 3 and data["options"]["tls"]["groups"] == ["X25519MLKEM768",
                                                                                              "x25519"]
    assert data["tls"]["key_exchange"]["selected"] == "X25519MLKEM768"


@pytest.mark.parametrize("args, words", [
    (["--groups", "x25519:nonsense"], ["--groups: unknown group 'nonsense'"]),
    (["--groups", "x25519::secp256r1"], ["empty name"]),
    (["--pq", "--tls-max", "1.2"], ["--tls-max 1.2"]),
    (["--pq", "--no-tls"], ["--no-tls conflicts with --pq"]),
])
def test_bad_groups_in_one_line(args, words):
    out = run_cli("localhost:1", *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and all(w in out.stderr for w in words), out.stderr


def test_copy_as_command_and_paste_carry_the_groups():
    from tlsbench.engine.equivalents import curl_command, openssl_command, tlsbench_command
    from tlsbench.engine.options import spec_from_values
    from tlsbench.engine.paste import parse_pasted

    spec = build_spec("example.com:443", groups="X25519MLKEM768,x25519")
    assert tlsbench_command(spec).command == "tlsbench probe example.com:443 --pq"
    assert "-groups X25519MLKEM768:x25519" in openssl_command(spec).command
    assert "--curves X25519MLKEM768:x25519" in curl_command(spec).command
    for line in (openssl_command(spec).command, curl_command(spec).command, "tlsbench probe example.com:443 --pq"):
        pasted = parse_pasted(line)
        assert spec_from_values(pasted.values).tls.groups == ("X25519MLKEM768", "x25519"), line


@pytest.mark.parametrize("version", ["1.2"])
def test_a_server_without_tls13_is_said_so_not_called_invalid(lab_certs, tls_server, version):
    server = tls_server("good", tls_version=version)
    result = probe(server.port, lab_certs, "X25519MLKEM768,x25519")
    stage = result.stage("key-exchange")
    assert stage.detail.alert == "protocol_version" and stage.detail.selected is None  # s_server -tls1_2
    assert [f.code for f in result.findings if f.stage == "key-exchange"] == ["tls13-not-spoken"]

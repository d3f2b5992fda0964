"""--enumerate-scope: the TLS 1.3 cipher preference and the key-exchange groups accepted, against
s_server (its own order with -serverpref, the client's without; -groups) and the TLS 1.3 responder
(X25519MLKEM768 accepted); without the scope, versions and ciphers keep their connections."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tlsbench.engine.spec import build_spec
from tlsbench.engine.tls.enum13 import SCOPES, parse_scope
from tlsbench.engine.tls.enumeration import enumerate_server, enumeration_lines
from tlsbench.engine.tls13 import keyshare
from tlsbench.lab.tls13_responder import ResponderOptions, Tls13Responder

SUITES13 = "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"


@pytest.mark.servers
def test_the_servers_own_tls13_order_and_its_groups(tls_server):
    server = tls_server("good", extra_args=["-serverpref", "-ciphersuites", SUITES13,
                                            "-groups", "secp384r1:x25519:ffdhe2048"])
    found = enumerate_server(build_spec(f"localhost:{server.port}"), scope=SCOPES)
    assert [s.name for s in found.suites["TLS 1.3"]] == SUITES13.split(":")
    assert found.server_order["TLS 1.3"] is True
    yes = [name for name, ok in found.groups.accepted.items() if ok]
    assert yes == ["x25519", "secp384r1", "ffdhe2048"]
    assert found.groups.how["ffdhe2048"] == "hello retry" and found.groups.how["x25519"] == "selected"
    assert found.groups.accepted["X25519MLKEM768"] is False and found.groups.preferred == "secp384r1"
    assert any(line.startswith("groups    (TLS 1.3) x25519 yes") for line in enumeration_lines(found))
    data = found.to_dict()
    assert data["groups"]["preferred"] == "secp384r1" and data["scope"] == list(SCOPES)


@pytest.mark.servers
def test_a_server_following_the_clients_tls13_order(tls_server):
    server = tls_server("good", tls_version="1.3")
    found = enumerate_server(build_spec(f"localhost:{server.port}"), scope=("versions", "ciphers", "tls13-order"))
    assert found.server_order["TLS 1.3"] is False and found.groups is None


@pytest.mark.servers
def test_versions_and_ciphers_alone_keep_their_connections(tls_server):
    server = tls_server("good", tls_version="1.3")
    plain = enumerate_server(build_spec(f"localhost:{server.port}"))
    wider = enumerate_server(build_spec(f"localhost:{server.port}"), scope=SCOPES)
    assert plain.groups is None and plain.server_order["TLS 1.3"] is None
    assert any("--enumerate-scope tls13-order" in item for item in plain.not_tested)
    assert wider.connections >= plain.connections + len(wider.groups.accepted)


def test_a_server_with_the_hybrid_accepts_it(lab_certs):
    options = ResponderOptions(lab_certs.good.chain, lab_certs.good.key,
                               groups=(keyshare.X25519MLKEM768, keyshare.X25519))
    with Tls13Responder(options) as server:
        found = enumerate_server(build_spec(f"localhost:{server.port}"), scope=("versions", "ciphers", "groups"),
                                 concurrency=1)
    assert found.groups.accepted["X25519MLKEM768"] is True and found.groups.how["X25519MLKEM768"] == "selected"
    assert found.groups.accepted["secp256r1"] is False and found.groups.preferred == "X25519MLKEM768"


def test_the_scope_is_read_and_checked():
    assert parse_scope(None) == ("versions", "ciphers")
    assert parse_scope("groups") == ("versions", "ciphers", "groups")
    assert parse_scope("all") == SCOPES
    with pytest.raises(ValueError, match="'ciphres' is not one of"):
        parse_scope("ciphres")


def test_a_bad_scope_is_one_line():
    out = subprocess.run([sys.executable, "-m", "tlsbench", "probe", "localhost:1", "--enumerate-scope", "nope"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        "tlsbench probe: error: --enumerate-scope: 'nope' is not one of versions, ciphers, tls13-order, groups or all"]

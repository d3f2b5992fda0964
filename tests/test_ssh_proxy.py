"""ssh:// hops (`ssh -W`, as OpenSSH's ProxyJump) through a real sshd on loopback.

The lab's sshd trusts one generated client key; its client configuration (`ssh -F`, given through
$TLSBENCH_SSH_CONFIG) names that key and a known_hosts file holding the server's host key. Every
failure here is sshd or ssh refusing for real: a key it does not trust, a host key nobody recorded
or another one than recorded, a closed port behind it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tlsbench.engine.equivalents import equivalent_commands
from tlsbench.engine.hops.ssh import SSH_CONFIG_ENV
from tlsbench.engine.paste import parse_pasted
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.errors import InputError

pytestmark = pytest.mark.servers

SRC = Path(__file__).resolve().parents[1] / "src" / "tlsbench"


@pytest.fixture
def jump(ssh_server, monkeypatch):
    """The lab sshd as an ssh:// URL, with ssh reading the lab's client configuration."""
    monkeypatch.setenv(SSH_CONFIG_ENV, str(ssh_server.client_conf))
    return f"ssh://root@{ssh_server.host}:{ssh_server.port}"


def probe(target: str, **options):
    return run_probe(build_spec(target, environ={}, **options))


def evidence(finding, label: str) -> list[str]:
    return [e.value for e in finding.evidence if e.label == label]


def ssh_processes(requested: str) -> list[int]:
    """Live ssh processes whose -W names `requested`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"ssh") and requested.encode() in argv and b"-W" in argv:
            try:
                state = next(ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:"))
            except (OSError, StopIteration):
                continue
            if "zombie" not in state:
                found.append(int(entry.name))
    return found


def test_tls_through_the_ssh_hop_verifies_the_chain(jump, ssh_server, tls_server, lab_certs):
    server = tls_server()
    target = f"localhost:{server.port}"
    result = probe(target, proxies=[jump], cafile=str(lab_certs.ca_cert), http=True)
    assert result.ok, result.findings
    # ssh looks the SSH server up and connects to it itself: tlsbench's own stages say so, not "connected".
    resolve, tcp, hop = result.stage("resolve"), result.stage("tcp"), result.stage("proxy")
    assert resolve.status == "skipped" and "ssh" in resolve.summary
    assert tcp.status == "skipped" and f"ssh connects to {ssh_server.host}:{ssh_server.port}" in tcp.summary
    assert hop.status == "ok" and hop.peer == jump
    assert hop.detail.kind == "ssh" and hop.detail.requested == target
    assert f"-W {target}" in hop.detail.sent_text and "BatchMode=yes" in hop.detail.sent_text
    assert 'using "publickey"' in hop.detail.received_text
    assert result.tls is not None and result.tls.verified
    assert result.stage("chain").status == "ok"
    assert result.stage("app").detail.status_line.startswith("HTTP/1.0 200")
    # The run is over: the ssh it started is gone with it.
    assert ssh_processes(target) == []


def test_a_chain_behind_the_ssh_hop(jump, squid_proxy, tls_server, lab_certs):
    server = tls_server()
    result = probe(f"localhost:{server.port}", proxies=[jump, squid_proxy.url], cafile=str(lab_certs.ca_cert))
    assert result.ok, result.findings
    first, second = result.stage("proxy#1"), result.stage("proxy#2")
    assert first.detail.requested == squid_proxy.address and first.detail.kind == "ssh"
    assert second.detail.kind == "http" and second.detail.reply_code == 200
    assert result.tls.verified


def test_a_key_the_server_does_not_trust(ssh_server, monkeypatch, tls_server):
    conf = ssh_server.client_config("untrusted_config", key=ssh_server.other_key("untrusted_ed25519"))
    monkeypatch.setenv(SSH_CONFIG_ENV, str(conf))
    target = f"127.0.0.1:{tls_server().port}"
    result = probe(target, proxies=[f"ssh://root@{ssh_server.address}"])
    assert result.codes() == ["proxy-auth-failed"]
    finding = result.findings[0]
    assert finding.origin == "proxy" and finding.stage == "proxy"
    assert any("Permission denied (publickey)" in said for said in evidence(finding, "ssh said"))
    assert "password" not in str(finding.suggestion).lower().replace("no password", "")
    assert result.stage("proxy").status == "failed" and result.stage("tls").status == "skipped"
    assert ssh_processes(target) == []


def test_a_host_key_known_hosts_does_not_hold(ssh_server, monkeypatch, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    monkeypatch.setenv(SSH_CONFIG_ENV, str(ssh_server.client_config("unknown_config", known_hosts=empty)))
    result = probe("127.0.0.1:443", proxies=[f"ssh://root@{ssh_server.address}"])
    assert result.codes() == ["proxy-host-key-unverified"]
    finding = result.findings[0]
    assert finding.origin == "local"  # nothing the server sent is wrong: this client has no record of it
    host_key = evidence(finding, "host key sent")[0]
    assert host_key.startswith("ssh-ed25519 SHA256:")
    assert evidence(finding, "known_hosts") == [str(empty)]
    advice = f"{finding.explanation} {finding.suggestion}"
    assert str(empty) in advice and "ssh-keygen" in advice and host_key in advice
    assert "StrictHostKeyChecking" not in advice and "no" != advice.strip()


def test_another_host_key_than_recorded(ssh_server, monkeypatch, tmp_path):
    other = ssh_server.other_key("impostor_ed25519")
    recorded = tmp_path / "known_hosts"
    kind, blob = Path(f"{other}.pub").read_text().split()[:2]
    recorded.write_text(f"[{ssh_server.host}]:{ssh_server.port} {kind} {blob}\n")
    monkeypatch.setenv(SSH_CONFIG_ENV, str(ssh_server.client_config("changed_config", known_hosts=recorded)))
    result = probe("127.0.0.1:443", proxies=[f"ssh://root@{ssh_server.address}"])
    assert result.codes() == ["proxy-host-key-unverified"]
    finding = result.findings[0]
    assert finding.origin == "proxy" and "another host key" in finding.title
    assert "StrictHostKeyChecking" not in f"{finding.explanation} {finding.suggestion}"


def test_a_refused_target_behind_the_ssh_server(jump, closed_port):
    result = probe(closed_port.address, proxies=[jump])
    assert result.codes() == ["proxy-target-refused"]
    finding = result.findings[0]
    assert finding.origin == "peer"
    assert any("open failed: connect failed: Connection refused" in s for s in evidence(finding, "ssh said"))
    assert ssh_processes(closed_port.address) == []


def test_an_ssh_server_that_is_not_there(closed_port, ssh_server, monkeypatch):
    monkeypatch.setenv(SSH_CONFIG_ENV, str(ssh_server.client_conf))
    result = probe("127.0.0.1:443", proxies=[f"ssh://root@{closed_port.address}"])
    assert result.codes() == ["proxy-unreachable"]
    assert result.findings[0].stage == "proxy" and result.stage("tcp").status == "skipped"


@pytest.mark.parametrize("options, words", [
    (dict(proxies=["http://127.0.0.1:3128", "ssh://j.example"]), "can only be the first hop"),
    (dict(proxies=["ssh://me:secret@j.example"]), "takes no password"),
    (dict(proxies=["ssh://j.example", "socks5://127.0.0.1:1080"]), "resolved by tlsbench"),
    (dict(proxies=["ssh://j.example"], haproxy_protocol=True), "--haproxy-protocol"),
    (dict(proxies=["ssh://j.example"], local_port="40000"), "--local-port"),
])
def test_what_an_ssh_hop_cannot_do_is_one_clear_error(options, words):
    with pytest.raises(InputError, match=re.escape(words)) as caught:
        build_spec("example.com:443", environ={}, **options)
    assert "secret" not in str(caught.value)


def test_the_cli_says_it_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "tlsbench", "probe", "example.com:443", "-x", "socks5h://p:1080",
                           "-x", "ssh://j.example"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "ssh:// can only be the first hop" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_copy_as_command_and_paste():
    spec = build_spec("example.com:443", proxies=["ssh://alice@jump.example:2222"],
                      environ={"TLSBENCH_PROXY_PASSWORD": "not-for-ssh"})
    assert spec.proxies[0].password is None  # ssh takes no password, not even from the variable
    eq = equivalent_commands(spec)
    assert eq.tlsbench.command == "tlsbench probe example.com:443 --proxy ssh://alice@jump.example:2222"
    assert not eq.tlsbench.notes  # no password to set
    for tool in (eq.curl, eq.openssl):
        assert any("ssh:// hop" in c for c in tool.cannot)
        assert any("ssh -N -L 127.0.0.1:9443:example.com:443 -p 2222 -l alice jump.example" in n for n in tool.notes)
    assert parse_pasted(eq.tlsbench.command).values["proxies"] == list(spec.proxies)


def test_the_profile_codec_keeps_the_hop():
    from tlsbench.engine.connection_data import connection_to_data, data_to_spec

    spec = build_spec("example.com:443", proxies=["ssh://alice@jump.example:2222"], environ={})
    assert data_to_spec(connection_to_data(spec), environ={}).proxies == spec.proxies


def test_the_kind_is_named_in_the_registry_files_only():
    """Outside lab/, `ssh://`, `ssh -W` and the hop's class are spelled only where the kind is declared,
    run, placed in the plan, checked in the spec, written as a command, and where its finding's row and
    the route run again know it (ARCHITECTURE.md counts them)."""
    named = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "lab" not in p.relative_to(SRC).parts
                   and re.search(r"ssh://|ssh -W|SshHop|\.program\b", p.read_text()))
    assert named == ["engine/equivalents.py", "engine/findings/catalogue.py", "engine/hops/__init__.py",
                     "engine/hops/ssh.py", "engine/plan.py", "engine/route/opener.py", "engine/route/proxykinds.py",
                     "engine/spec.py"]


def test_cancelling_the_run_ends_ssh(jump, tls_server):
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.events import StageFinished

    target = f"127.0.0.1:{tls_server().port}"
    token = CancelToken()
    seen: list[list[int]] = []

    def on_event(event):
        if isinstance(event, StageFinished) and event.record.key == "proxy":
            seen.append(ssh_processes(target))  # the tunnel is open: ssh runs
            token.cancel()

    result = run_probe(build_spec(target, proxies=[jump], environ={}, insecure=True), on_event=on_event,
                       cancel=token)
    assert result.cancelled and len(seen) == 1 and len(seen[0]) == 1
    assert ssh_processes(target) == []


def test_a_channel_the_server_does_not_allow(ssh_server, monkeypatch, tls_server, closed_port):
    allowed = closed_port.address  # the only channel this key may open
    key = ssh_server.restricted_key("restricted_ed25519", allowed)
    monkeypatch.setenv(SSH_CONFIG_ENV, str(ssh_server.client_config("restricted_config", key=key)))
    target = f"127.0.0.1:{tls_server().port}"
    result = probe(target, proxies=[f"ssh://root@{ssh_server.address}"])
    assert result.codes() == ["proxy-denied"]
    finding = result.findings[0]
    assert finding.origin == "proxy"
    assert any("administratively prohibited" in s for s in evidence(finding, "ssh said"))
    assert ssh_processes(target) == []


def test_a_server_that_never_speaks_ssh(silent_server, ssh_server, monkeypatch):
    monkeypatch.setenv(SSH_CONFIG_ENV, str(ssh_server.client_conf))
    result = probe("127.0.0.1:443", proxies=[f"ssh://root@127.0.0.1:{silent_server.port}"], timeout=1)
    assert result.codes() == ["proxy-timeout"], result.findings
    assert ssh_processes("127.0.0.1:443") == []


def test_a_name_only_ssh_config_knows_and_the_route_run_again(ssh_server, monkeypatch, tls_server, lab_certs):
    """ssh resolves the hop's name through its configuration (HostName): tlsbench makes no lookup of its
    own, neither in the run nor when --reconnect runs the route again."""
    conf = ssh_server.workdir / "alias_config"
    conf.write_text(f"Host labjump.invalid\n  HostName {ssh_server.host}\n" + ssh_server.client_conf.read_text())
    conf.chmod(0o600)
    monkeypatch.setenv(SSH_CONFIG_ENV, str(conf))
    server = tls_server()
    result = probe(f"localhost:{server.port}", proxies=[f"ssh://root@labjump.invalid:{ssh_server.port}"],
                   cafile=str(lab_certs.ca_cert), reconnect=True)
    assert result.ok, result.findings
    assert result.stage("reconnect").status == "ok"
    # The route as the enumeration runs it again: no lookup first, then a connection through ssh.
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.plan import plan_for
    from tlsbench.engine.route.opener import RouteOpener, close

    spec = build_spec(f"localhost:{server.port}", proxies=[f"ssh://root@labjump.invalid:{ssh_server.port}"], environ={})
    opener = RouteOpener(plan_for(spec))
    route, failure = opener.resolve(CancelToken())
    assert (route, failure) == (None, None)
    state, failure = opener.open(route, CancelToken())
    assert failure is None and state.stream is not None
    close(state)
    assert ssh_processes(f"localhost:{server.port}") == []

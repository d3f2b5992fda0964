"""HTTP CONNECT and HTTPS proxies, and proxy chains, against real squid, tinyproxy, microsocks and dante.

Every failure code here is produced by a real proxy refusing for real: an ACL, a wrong password, a
closed port behind it, a name that does not resolve, a certificate nobody trusts.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import SQUID_PASSWORD, SQUID_USER, TINYPROXY_PASSWORD, TINYPROXY_USER
from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


def probe(target: str, **options):
    return run_probe(build_spec(target, environ={}, **options))


def evidence(finding, label: str) -> str:
    return next(e.value for e in finding.evidence if e.label == label)


# --- HTTP CONNECT ---------------------------------------------------------------------------------

@pytest.mark.parametrize("proxy_name, server_word", [("squid_proxy", "squid"), ("tinyproxy_proxy", "tinyproxy")])
def test_tls_through_an_http_proxy(request, proxy_name, server_word, tls_server, lab_certs):
    proxy = request.getfixturevalue(proxy_name)
    server = tls_server()
    result = probe(f"localhost:{server.port}", proxies=[proxy.url], cafile=str(lab_certs.ca_cert), http=True)
    assert result.ok, result.findings
    names = [s.name for s in result.stages]
    assert names == ["resolve", "tcp", "proxy", "tls", "chain", "app"]
    hop = result.stage("proxy")
    assert hop.status == "ok" and hop.index == 1 and hop.peer == proxy.url
    detail = hop.detail
    assert detail.kind == "http" and detail.reply_code == 200 and detail.status_line.startswith("HTTP/1.")
    assert detail.sent_text.startswith(f"CONNECT localhost:{server.port} HTTP/1.1\r\nHost: localhost:{server.port}")
    assert detail.address_type == "domain name"  # the proxy resolves the name
    assert result.stage("resolve").detail.role == "proxy"
    assert result.socket.via_proxy and result.socket.peer_port == proxy.port
    assert result.stage("app").detail.status_line.startswith("HTTP/1.0 200")


@pytest.mark.parametrize("proxy_name, user, password", [("squid_proxy_auth", SQUID_USER, SQUID_PASSWORD),
                                                         ("tinyproxy_auth", TINYPROXY_USER, TINYPROXY_PASSWORD)])
def test_basic_authentication(request, proxy_name, user, password, tls_server, lab_certs):
    proxy = request.getfixturevalue(proxy_name)
    server = tls_server()
    target, ca = f"localhost:{server.port}", str(lab_certs.ca_cert)

    missing = probe(target, proxies=[proxy.url], cafile=ca)
    assert missing.codes() == ["proxy-auth-required"]
    finding = missing.findings[0]
    assert "Basic" in evidence(finding, "Proxy-Authenticate") and evidence(finding, "status line").split()[1] == "407"

    wrong = probe(target, proxies=[proxy.url], proxy_user=f"{user}:not-the-password", cafile=ca)
    assert wrong.codes() == ["proxy-auth-failed"]
    assert user in wrong.findings[0].explanation
    assert "not-the-password" not in json.dumps(wrong.to_json_dict())
    sent = wrong.stage("proxy").detail.sent_text
    assert "Proxy-Authorization: Basic <credentials redacted>" in sent

    right = probe(target, proxies=[proxy.url], proxy_user=f"{user}:{password}", cafile=ca)
    assert right.ok, right.findings
    assert right.stage("proxy").detail.auth == "basic"


def test_ntlm_only_is_named_as_unsupported(squid_proxy_ntlm, tls_server, lab_certs):
    server = tls_server()
    result = probe(f"localhost:{server.port}", proxies=[squid_proxy_ntlm.url], cafile=str(lab_certs.ca_cert))
    assert result.codes() == ["proxy-auth-unsupported"]
    finding = result.findings[0]
    assert "NTLM" in finding.title and evidence(finding, "Proxy-Authenticate").startswith("NTLM")


@pytest.mark.parametrize("proxy_name", ["squid_proxy_deny", "tinyproxy_ports"])
def test_an_acl_is_proxy_denied_with_the_proxys_own_words(request, proxy_name):
    proxy = request.getfixturevalue(proxy_name)
    port = proxy.denied_ports[0] if proxy.denied_ports else 4
    result = probe(f"localhost:{port}", proxies=[proxy.url])
    assert result.codes() == ["proxy-denied"]
    finding = result.findings[0]
    assert evidence(finding, "status line").split()[1] == "403"
    assert f"CONNECT localhost:{port}" in evidence(finding, "requested")
    said = evidence(finding, "the proxy says")
    assert said and len(said) <= 303
    if proxy_name.startswith("squid"):
        assert evidence(finding, "X-Squid-Error").startswith("ERR_ACCESS_DENIED")
    assert "never contacted" in finding.explanation
    assert result.stage("tls").status == "skipped"


def test_a_closed_port_behind_squid_is_target_refused(squid_proxy, closed_port):
    result = probe(f"127.0.0.1:{closed_port.port}", proxies=[squid_proxy.url])
    assert result.codes() == ["proxy-target-refused"]
    finding = result.findings[0]
    assert evidence(finding, "X-Squid-Error") == "ERR_CONNECT_FAIL 111"
    assert "the target" in finding.explanation and finding.origin == "peer"


def test_a_name_squid_cannot_resolve_is_target_unreachable(squid_proxy):
    # The lab's squid has no working DNS server: it cannot forward to a name (ERR_CANNOT_FORWARD, or
    # ERR_DNS_FAIL when its resolver times out first).
    result = probe("no-such-host.invalid:443", proxies=[squid_proxy.url])
    assert result.codes() == ["proxy-target-unreachable"]
    squid_error = evidence(result.findings[0], "X-Squid-Error")
    assert squid_error.startswith(("ERR_CANNOT_FORWARD", "ERR_DNS_FAIL"))
    assert "resolve" in result.findings[0].title or "DNS" in result.findings[0].explanation


def test_tinyproxy_behind_it_a_closed_port(tinyproxy_proxy, closed_port):
    result = probe(f"127.0.0.1:{closed_port.port}", proxies=[tinyproxy_proxy.url])
    assert result.codes() in (["proxy-target-refused"], ["proxy-target-unreachable"])
    status = evidence(result.findings[0], "status line")
    assert status.split()[1] in ("500", "502", "503")


def test_an_http_proxy_spoken_to_as_socks_and_the_other_way_round(squid_proxy, microsocks, tls_server):
    # Neither proxy answers a protocol it does not speak: each waits for the rest of a request that never
    # comes, and the probe says so when its own deadline ends the wait.
    server = tls_server()
    as_socks = probe(f"localhost:{server.port}", proxies=[f"socks5://{squid_proxy.address}"], timeout=1)
    assert as_socks.codes() in (["proxy-timeout"], ["proxy-protocol-error"], ["proxy-closed"])
    as_http = probe(f"localhost:{server.port}", proxies=[f"http://{microsocks.address}"], timeout=1)
    assert as_http.codes() in (["proxy-timeout"], ["proxy-protocol-error"], ["proxy-closed"])
    if as_http.codes() == ["proxy-timeout"]:
        assert "1 s" in as_http.findings[0].title


# --- HTTPS proxies -------------------------------------------------------------------------------

def test_tls_to_the_proxy_then_tls_through_it(squid_https_proxy, tls_server, lab_certs):
    server = tls_server()
    ca = str(lab_certs.ca_cert)
    url = f"https://localhost:{squid_https_proxy.port}"
    result = probe(f"localhost:{server.port}", proxies=[url], proxy_cafile=ca, cafile=ca)
    assert result.ok, result.findings
    assert [s.name for s in result.stages][:5] == ["resolve", "tcp", "proxy-tls", "proxy", "tls"]
    proxy_tls = result.stage("proxy-tls")
    assert proxy_tls.index == 1 and proxy_tls.detail.tls.verified is True
    assert proxy_tls.detail.chain.certificates[0].subject.startswith("CN=proxy.lab.test")
    assert any(m.name == "ClientHello" for m in proxy_tls.detail.messages)
    # The target's own handshake, inside the proxy's TLS, with its own certificate.
    assert result.chain.certificates[0].subject != proxy_tls.detail.chain.certificates[0].subject
    assert result.tls.verified is True


def test_an_untrusted_proxy_certificate_is_diagnosed_at_the_proxy_tls_stage(squid_https_proxy, tls_server,
                                                                           lab_certs):
    server = tls_server()
    url = f"https://localhost:{squid_https_proxy.port}"
    result = probe(f"localhost:{server.port}", proxies=[url], cafile=str(lab_certs.ca_cert))
    assert not result.ok
    finding = result.findings[0]
    assert finding.code == "cert-untrusted" and finding.stage == "proxy-tls"
    assert result.stage("proxy-tls").status == "failed" and result.stage("proxy").status == "skipped"
    insecure = probe(f"localhost:{server.port}", proxies=[url], proxy_insecure=True, cafile=str(lab_certs.ca_cert))
    assert insecure.ok, insecure.findings
    assert "verify-disabled" in [f.code for f in insecure.findings if f.stage == "proxy-tls"]


# --- chains ---------------------------------------------------------------------------------------

def test_microsocks_then_squid_then_nginx(microsocks, squid_proxy, nginx_sni_strict, lab_certs):
    target = f"www.lab.test:{nginx_sni_strict.port}"
    result = probe(target, pin="127.0.0.1", proxies=[f"socks5h://{microsocks.address}", squid_proxy.url],
                   cafile=str(lab_certs.ca_cert), http=True)
    assert result.ok, result.findings
    hops = [s for s in result.stages if s.name == "proxy"]
    assert [(h.index, h.peer, h.id) for h in hops] == [
        (1, f"socks5h://{microsocks.address}", "proxy#1"), (2, squid_proxy.url, "proxy#2")]
    assert hops[0].detail.requested == squid_proxy.address  # hop 1 is asked for hop 2
    assert hops[1].detail.requested == f"127.0.0.1:{nginx_sni_strict.port}"  # the pin goes to the last hop
    assert result.tls.sni == "www.lab.test"
    assert result.stage("app").detail.status_line.startswith("HTTP/1.1 200")


def test_dante_then_microsocks_then_nginx(dante, microsocks, nginx_sni_strict, lab_certs):
    result = probe(f"www.lab.test:{nginx_sni_strict.port}", pin="127.0.0.1",
                   proxies=[f"socks5://{dante.address}", f"socks5h://{microsocks.address}"],
                   cafile=str(lab_certs.ca_cert))
    assert result.ok, result.findings
    assert [s.detail.kind for s in result.stages if s.name == "proxy"] == ["socks5", "socks5h"]


def test_a_chain_says_which_hop_failed_and_whether_it_was_behind_it(microsocks, squid_proxy_deny, closed_port):
    # Hop 1 (microsocks) cannot reach hop 2: the failure is hop 1's, about what lies behind it.
    behind = probe("www.lab.test:443", proxies=[f"socks5h://{microsocks.address}",
                                                f"http://127.0.0.1:{closed_port.port}"])
    assert behind.codes() == ["proxy-target-refused"]
    finding = behind.findings[0]
    assert finding.stage == "proxy#1" and finding.title.startswith("Proxy 1: Proxy 2")
    assert evidence(finding, "behind it") == "proxy 2"
    assert behind.stage("proxy#2").status == "skipped"
    # Hop 2 itself refuses: the failure is hop 2's own.
    denied = squid_proxy_deny.denied_ports[0]
    own = probe(f"localhost:{denied}", proxies=[f"socks5h://{microsocks.address}", squid_proxy_deny.url])
    assert own.codes() == ["proxy-denied"]
    assert own.findings[0].stage == "proxy#2" and own.findings[0].title.startswith("Proxy 2:")
    assert own.stage("proxy#1").status == "ok"


def test_the_chain_on_the_command_line(microsocks, squid_proxy, tls_server, lab_certs):
    server = tls_server()
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}",
                           "--preproxy", f"socks5h://{microsocks.address}", "-x", squid_proxy.url,
                           "--cafile", str(lab_certs.ca_cert), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == 3
    proxies = [s for s in data["stages"] if s["name"] == "proxy"]
    assert [(p["index"], p["proxy"]) for p in proxies] == [(1, f"socks5h://{microsocks.address}"),
                                                            (2, squid_proxy.url)]
    assert [p["kind"] for p in data["options"]["proxies"]] == ["socks5h", "http"]
    text = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}",
                           "--preproxy", f"socks5h://{microsocks.address}", "-x", squid_proxy.url,
                           "--cafile", str(lab_certs.ca_cert)], capture_output=True, text=True, timeout=60).stdout
    assert "proxy 1" in text and "proxy 2" in text


# --- the environment ------------------------------------------------------------------------------

def test_https_proxy_from_the_environment_and_no_proxy(squid_proxy, tls_server, lab_certs):
    import os

    server = tls_server()
    base = [sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--cafile",
            str(lab_certs.ca_cert), "--json"]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    via = json.loads(subprocess.run(base, capture_output=True, text=True, timeout=60,
                                    env={**env, "https_proxy": squid_proxy.url}).stdout)
    assert via["ok"] and via["options"]["proxies"][0]["from_environment"] == "https_proxy"
    assert next(s for s in via["stages"] if s["name"] == "proxy")["status"] == "ok"
    bypass = json.loads(subprocess.run(base, capture_output=True, text=True, timeout=60,
                                       env={**env, "https_proxy": squid_proxy.url, "NO_PROXY": "localhost"}).stdout)
    assert bypass["ok"] and bypass["options"]["proxies"] == []
    flag = json.loads(subprocess.run(base + ["--noproxy", "*"], capture_output=True, text=True, timeout=60,
                                     env={**env, "https_proxy": squid_proxy.url}).stdout)
    assert flag["options"]["proxies"] == []
    # curl ignores HTTP_PROXY in upper case (it may come from a CGI client's header): so does tlsbench.
    upper = json.loads(subprocess.run(base[:-3] + ["--no-tls", "--json"], capture_output=True, text=True, timeout=60,
                                      env={**env, "HTTP_PROXY": squid_proxy.url}).stdout)
    assert upper["options"]["proxies"] == []

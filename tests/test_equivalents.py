""""Copy as command": the command lines themselves, then the curl and openssl lines RUN against real
loopback servers (openssl s_server, microsocks, a banner port) to prove they do what the spec says."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import MICROSOCKS_PASSWORD, MICROSOCKS_USER, need_binary

from tlsbench.engine.equivalents import equivalent_commands
from tlsbench.engine.spec import build_spec

# --- the command lines ---------------------------------------------------------------------------------


def test_direct_tls_with_versions_ciphers_and_alpn():
    spec = build_spec("www.lab.test:8443", tls_min="1.2", tls_max="1.2", ciphers="ECDHE+AESGCM",
                      alpn="http/1.1", insecure=True, timeout=3)
    eq = equivalent_commands(spec)
    assert eq.tlsbench.command == ("tlsbench probe www.lab.test:8443 --tls-min 1.2 --tls-max 1.2 "
                                   "--ciphers ECDHE+AESGCM --alpn http/1.1 --insecure --timeout 3")
    assert eq.curl.command == ("curl -v -k --tlsv1.2 --tls-max 1.2 --ciphers ECDHE+AESGCM --http1.1 "
                               "--connect-timeout 3 https://www.lab.test:8443/")
    assert eq.openssl.command == ("openssl s_client -connect www.lab.test:8443 -servername www.lab.test "
                                  "-min_protocol TLSv1.2 -max_protocol TLSv1.2 -cipher ECDHE+AESGCM "
                                  "-alpn http/1.1 -showcerts")
    assert any("bare TLS handshake" in c for c in eq.curl.cannot)


def test_socks5h_with_user_pin_and_sni_override():
    spec = build_spec("www.lab.test:443", proxies=["socks5h://127.0.0.1:1080"], proxy_user="alice",
                      proxy_password_env="OFFICE_PW", pin="10.0.0.7", sni="alt.test",
                      environ={"OFFICE_PW": "never-printed"})
    eq = equivalent_commands(spec)
    assert eq.tlsbench.command == ("tlsbench probe www.lab.test:443 --pin 10.0.0.7 --proxy socks5h://alice@127.0.0.1:1080 "
                                   "--proxy-password-env OFFICE_PW --sni alt.test")
    assert eq.curl.command == ('curl -v --socks5-hostname 127.0.0.1:1080 --proxy-user alice:"${OFFICE_PW}" '
                               "--connect-to alt.test:443:10.0.0.7:443 --no-alpn --connect-timeout 10 "
                               "https://alt.test:443/")
    assert any("no SNI option" in n for n in eq.curl.notes)
    # tlsbench checks the certificate against the host, not the SNI override; s_client can say so, curl cannot.
    assert eq.openssl.command == ("openssl s_client -connect 10.0.0.7:443 -servername alt.test "
                                  "-verify_return_error -verify_hostname www.lab.test -showcerts")
    assert any("checking the certificate against www.lab.test" in c for c in eq.curl.cannot)
    assert any("no SOCKS support" in c and "HTTP CONNECT only" in c for c in eq.openssl.cannot)
    assert any("ncat" in n and "--proxy-type socks5" in n for n in eq.openssl.notes)
    assert "never-printed" not in eq.as_text()


def test_inline_password_is_referenced_not_copied():
    spec = build_spec("www.lab.test:443", proxies=["socks5://127.0.0.1:1080"],
                      proxy_user="alice:hunter2-inline")
    eq = equivalent_commands(spec)
    assert "hunter2" not in eq.as_text()
    assert '"${TLSBENCH_PROXY_PASSWORD}"' in eq.curl.command
    assert any("set TLSBENCH_PROXY_PASSWORD" in n for n in eq.curl.notes)


def test_plain_tcp_send_and_what_cannot_be_said():
    spec = build_spec("[::1]:25", tls=False, send="EHLO me\r\n")
    eq = equivalent_commands(spec)
    assert eq.tlsbench.command == "tlsbench probe '[::1]:25' --no-tls --send 'EHLO me\\r\\n'"
    assert eq.curl.command == "printf 'EHLO me\\r\\n' | curl -v --connect-timeout 10 'telnet://[::1]:25'"
    assert not eq.openssl.available
    assert "always starts a TLS handshake" in eq.openssl.cannot[0]


def test_http2_is_curls_http2_and_s_clients_alpn_list():
    spec = build_spec("www.lab.test:443", alpn="h2,http/1.1", http=True)
    eq = equivalent_commands(spec)
    assert "--http2" in eq.tlsbench.words and "--alpn" not in eq.tlsbench.words
    assert "--http2" in eq.curl.words
    assert eq.openssl.words[eq.openssl.words.index("-alpn") + 1] == "h2,http/1.1"
    other = equivalent_commands(build_spec("www.lab.test:443", alpn="h2"))
    assert "--alpn" in other.tlsbench.words and "--http2" not in other.tlsbench.words


def test_no_sni_and_unusual_alpn_are_named_as_limits():
    spec = build_spec("www.lab.test:443", no_sni=True, alpn="imap")
    eq = equivalent_commands(spec)
    assert "-noservername" in eq.openssl.words
    assert any("no SNI" in c for c in eq.curl.cannot)
    assert any("ALPN imap" in c and "no --alpn" in c for c in eq.curl.cannot)


def test_hostile_values_are_quoted():
    spec = build_spec("www.lab.test:443", sni="x.test", ciphers="ECDHE+AESGCM:!aNULL", http=True)
    eq = equivalent_commands(spec)
    assert "'ECDHE+AESGCM:!aNULL'" in eq.curl.command
    assert "'Host: www.lab.test'" in eq.curl.command  # SNI override keeps the real Host header


# --- running them ----------------------------------------------------------------------------------------

def shell(command: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a copied command line exactly as a person would paste it into bash."""
    environ = dict(os.environ)
    environ.update(env or {})
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=environ,
                          stdin=subprocess.DEVNULL, timeout=timeout)


@pytest.fixture
def clients():
    need_binary("curl")
    need_binary("openssl")


def lab_spec(server, lab_certs, **kw):
    kw.setdefault("cafile", str(lab_certs.ca_cert))
    return build_spec(f"www.lab.test:{server.port}", pin="127.0.0.1", **kw)


@pytest.mark.servers
def test_curl_and_openssl_verify_a_good_server(clients, tls_server, lab_certs):
    server = tls_server("good")
    eq = equivalent_commands(lab_spec(server, lab_certs, http=True, tls_min="1.2"))

    curl = shell(eq.curl.command)
    assert curl.returncode == 0, curl.stderr
    assert "HTTP/1.0 200 ok" in curl.stderr  # -v shows the status line
    assert "SSL certificate verify ok" in curl.stderr

    s_client = shell(eq.openssl.command)
    assert s_client.returncode == 0, s_client.stderr
    assert "HTTP/1.0 200 ok" in s_client.stdout
    assert "Verify return code: 0 (ok)" in s_client.stdout


@pytest.mark.servers
def test_verification_flags_really_verify(clients, tls_server, lab_certs):
    server = tls_server("expired")
    eq = equivalent_commands(lab_spec(server, lab_certs, http=True))
    curl = shell(eq.curl.command)
    assert curl.returncode == 60, curl.stderr  # CURLE_PEER_FAILED_VERIFICATION
    s_client = shell(eq.openssl.command)
    assert s_client.returncode != 0
    assert "certificate has expired" in s_client.stdout + s_client.stderr


@pytest.mark.servers
def test_sni_override_trick_reaches_a_strict_server(clients, tls_server, lab_certs):
    from tlsbench.lab.certs import ALT_NAME

    server = tls_server("good", sni_name=ALT_NAME, sni_cert="alt", sni_fatal=True)
    # An IP target with an SNI override: tlsbench, curl and s_client all check the cert against the SNI name.
    spec = build_spec(f"127.0.0.1:{server.port}", sni=ALT_NAME, http=True, cafile=str(lab_certs.ca_cert))
    eq = equivalent_commands(spec)
    assert f"--connect-to {ALT_NAME}:{server.port}:127.0.0.1:{server.port}" in eq.curl.command

    curl = shell(eq.curl.command)
    assert curl.returncode == 0, curl.stderr
    assert f'host "{ALT_NAME}" matched cert\'s "{ALT_NAME}"' in curl.stderr
    assert f"> Host: 127.0.0.1:{server.port}" in curl.stderr  # the real Host header, not the SNI name
    assert "HTTP/1.0 200 ok" in curl.stderr

    s_client = shell(eq.openssl.command)
    assert s_client.returncode == 0, s_client.stderr
    assert "Verify return code: 0 (ok)" in s_client.stdout
    assert f"0 s:O = tlsbench lab, CN = {ALT_NAME}" in s_client.stdout
    assert "HTTP/1.0 200 ok" in s_client.stdout


@pytest.mark.servers
def test_openssl_checks_the_host_not_the_sni_override(clients, tls_server, lab_certs):
    from tlsbench.lab.certs import ALT_NAME

    server = tls_server("good", sni_name=ALT_NAME, sni_cert="alt", sni_fatal=True)
    eq = equivalent_commands(lab_spec(server, lab_certs, sni=ALT_NAME))
    s_client = shell(eq.openssl.command)
    assert s_client.returncode != 0
    assert "Verify return code: 62 (hostname mismatch)" in s_client.stdout


@pytest.mark.servers
@pytest.mark.parametrize("kind", ["socks5", "socks5h"])
def test_curl_through_socks_with_password_from_env(clients, tls_server, lab_certs, microsocks_auth, kind):
    server = tls_server("good")
    spec = lab_spec(server, lab_certs, http=True, proxies=[f"{kind}://{microsocks_auth.host}:{microsocks_auth.port}"],
                    proxy_user=MICROSOCKS_USER,
                    proxy_password_env="LAB_SOCKS_PW", environ={"LAB_SOCKS_PW": MICROSOCKS_PASSWORD})
    eq = equivalent_commands(spec)
    assert MICROSOCKS_PASSWORD not in eq.as_text()

    ok = shell(eq.curl.command, env={"LAB_SOCKS_PW": MICROSOCKS_PASSWORD})
    assert ok.returncode == 0, ok.stderr
    assert "HTTP/1.0 200 ok" in ok.stderr

    wrong = shell(eq.curl.command, env={"LAB_SOCKS_PW": "wrong"})
    assert wrong.returncode != 0


@pytest.mark.servers
def test_curl_telnet_sends_the_text(clients, banner_server):
    server = banner_server("smtp")
    eq = equivalent_commands(build_spec(f"127.0.0.1:{server.port}", tls=False, send="EHLO me\r\n"))
    result = shell(eq.curl.command)
    assert "220 mail.lab.test ESMTP ready" in result.stdout
    assert "500 5.5.2" in result.stdout
    assert server.seen.first_bytes[-1] == b"EHLO me\r\n"


@pytest.mark.servers
def test_curl_plain_http(clients, plain_http):
    eq = equivalent_commands(build_spec(f"127.0.0.1:{plain_http.port}", tls=False, http=True))
    assert eq.curl.command == f"curl -v --connect-timeout 10 http://127.0.0.1:{plain_http.port}/"
    result = shell(eq.curl.command)
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain_http.body.decode()


@pytest.mark.parametrize("kwargs", [
    dict(proxies=["socks5h://alice@127.0.0.1:1080", "http://10.0.0.2:3128"], pin="10.0.0.7", sni="alt.test"),
    dict(tls=False, send="EHLO x\r\n\\q", timeout=3),
    dict(insecure=True, alpn="h2,http/1.1", tls_min="1.2", tls_max="1.3", ciphers="ECDHE+AESGCM", http=True,
         path="/health"),
    dict(no_sni=True, local_port="40000-40010", interface="127.0.0.1", family=4),
    dict(proxies=["https://127.0.0.1:8443"], proxy_insecure=True),
    dict(haproxy_protocol=True, http=True),
])
def test_the_tlsbench_line_parses_back_to_the_same_connection(kwargs):
    """Copy as command, then paste it: the same spec (the option declarations work both ways)."""
    import shlex

    from tlsbench.commands.arguments import spec_from_args
    from tlsbench.commands.probe import make_parser

    spec = build_spec("www.lab.test:443", environ={}, **kwargs)
    words = shlex.split(equivalent_commands(spec).tlsbench.command)
    assert words[:2] == ["tlsbench", "probe"]
    again = spec_from_args(make_parser().parse_args(words[2:]), environ={})
    assert again == spec


def test_haproxy_protocol_is_curls_switch_and_beyond_s_client():
    """--haproxy-protocol is declared once (options.py, curl="--haproxy-protocol"): copy-as-command
    gives curl its switch and says s_client has none, and a profile keeps it."""
    from tlsbench.engine.connection_data import connection_to_data, data_to_spec

    spec = build_spec("www.lab.test:443", haproxy_protocol=True, http=True)
    eq = equivalent_commands(spec)
    assert "--haproxy-protocol" in eq.curl.words and "--haproxy-protocol" in eq.tlsbench.words
    assert any(c.startswith("--haproxy-protocol") and "openssl has no option" in c for c in eq.openssl.cannot)
    data = connection_to_data(spec)
    assert data["local"] == {"haproxy_protocol": True} and data_to_spec(data, environ={}) == spec
    assert "--haproxy-protocol" not in equivalent_commands(build_spec("www.lab.test:443")).curl.words


def test_s_client_is_told_the_xmpp_domain_for_both_xmpp_protocols():
    for protocol in ("xmpp", "xmpp-server"):
        words = equivalent_commands(build_spec("lab.test:5269", starttls=protocol)).openssl.words
        assert words[words.index("-starttls") + 1] == protocol and words[words.index("-xmpphost") + 1] == "lab.test"


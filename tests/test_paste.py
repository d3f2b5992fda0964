"""What people paste (HOST:PORT, a URL, a tlsbench / curl / openssl s_client line) as a connection.

The inverse of copy-as-command: for each tool, the line tlsbench itself writes for a connection
reads back as the same connection, and everything else a line asks for is named, never dropped.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tlsbench.engine.equivalents import equivalent_commands
from tlsbench.errors import InputError
from tlsbench.engine.options import spec_from_values
from tlsbench.engine.paste import parse_pasted
from tlsbench.engine.spec import build_spec


def spec_of(text: str):
    pasted = parse_pasted(text)
    return spec_from_values(pasted.values, environ={}), pasted


def test_host_port_and_urls():
    spec, pasted = spec_of("example.com:8443")
    assert pasted.source == "hostport" and spec.target == "example.com:8443" and spec.tls.enabled
    spec, _ = spec_of("https://example.com/health?full=1")
    assert spec.target == "example.com:443" and spec.app.http and spec.app.path == "/health?full=1"
    spec, _ = spec_of("http://[::1]:8080/")
    assert spec.target == "[::1]:8080" and not spec.tls.enabled and spec.app.http
    with pytest.raises(InputError, match="http:// and https://"):
        parse_pasted("gopher://example.com/")


@pytest.mark.parametrize("kwargs", [
    dict(proxies=["socks5h://127.0.0.1:1080"], pin="10.0.0.7", cafile=None, http=True),
    dict(insecure=True, alpn="h2,http/1.1", tls_min="1.2", tls_max="1.3", ciphers="ECDHE+AESGCM", http=True),
    dict(proxies=["http://10.0.0.2:3128"], http=True, local_port="40000", family=4),
    dict(http=True, haproxy_protocol=True),
])
def test_curl_lines_tlsbench_writes_read_back_as_the_same_connection(kwargs):
    spec = build_spec("www.lab.test:443", environ={}, **kwargs)
    again, pasted = spec_of(equivalent_commands(spec).curl.command)
    assert pasted.source == "curl"
    assert again.target == spec.target and again.pin == spec.pin
    assert [(h.kind, h.address) for h in again.proxies] == [(h.kind, h.address) for h in spec.proxies]
    assert again.tls._replace(alpn=spec.tls.alpn) == spec.tls and again.app.http
    assert again.local.haproxy_protocol == spec.local.haproxy_protocol
    assert "-v: an output option" in pasted.dropped


def test_a_curl_line_with_everything_named(lab_certs):
    cert, key = lab_certs.client.cert, lab_certs.client.key
    spec, pasted = spec_of("curl -sS -o /dev/null -w '%{time_connect}' -x socks5h://127.0.0.1:1080 "
                           f"--resolve www.lab.test:443:10.0.0.7 --cacert {lab_certs.ca_cert} "
                           f"--cert {cert}:secret --key {key} --tlsv1.2 --tls-max 1.3 --ciphers ECDHE+AESGCM "
                           "--http1.1 -H 'X-Trace: 1' --connect-timeout 4 -X POST https://www.lab.test/api")
    assert spec.target == "www.lab.test:443" and spec.pin == "10.0.0.7"
    assert spec.proxies[0].kind == "socks5h" and spec.tls.verify == "cafile" and spec.tls.cert == str(cert)
    assert (spec.tls.min_version, spec.tls.max_version, spec.tls.alpn) == ("1.2", "1.3", ("http/1.1",))
    assert spec.app.path == "/api" and spec.timeout == 4
    dropped = " | ".join(pasted.dropped)
    for word in ("-s: an output option", "-o /dev/null", "-w %{time_connect}", "passphrase", "X-Trace",
                 "-X POST"):
        assert word in dropped


def test_curl_host_header_with_an_address_becomes_a_pinned_name():
    spec, pasted = spec_of("curl -H 'Host: www.lab.test' https://127.0.0.1:8443/")
    assert spec.target == "www.lab.test:8443" and spec.pin == "127.0.0.1"
    assert any("pinned" in d for d in pasted.dropped)


def test_s_client_lines(lab_certs):
    spec, pasted = spec_of(f"openssl s_client -connect 10.0.0.7:993 -servername mail.lab.test -CAfile {lab_certs.ca_cert} "
                           "-tls1_2 -alpn imap -cipher ECDHE-RSA-AES128-GCM-SHA256 -brief -proxy 127.0.0.1:3128")
    assert pasted.source == "openssl"
    assert spec.target == "10.0.0.7:993" and spec.sni == "mail.lab.test"
    assert (spec.tls.min_version, spec.tls.max_version) == ("1.2", "1.2") and spec.tls.alpn == ("imap",)
    assert spec.proxies[0].kind == "http" and spec.proxies[0].address == "127.0.0.1:3128"
    assert "-brief: an output option" in pasted.dropped
    spec, _ = spec_of("openssl s_client -connect www.lab.test:443 -noservername")
    assert spec.sni is None and spec.tls.sni_mode == "none"


def test_a_tlsbench_line_reads_back():
    spec = build_spec("www.lab.test:443", proxies=["socks5h://alice@127.0.0.1:1080"], sni="alt.test",
                      environ={})
    again, pasted = spec_of(equivalent_commands(spec).tlsbench.command + " --json")
    assert pasted.source == "tlsbench" and again == spec
    assert any("--json" in d for d in pasted.dropped)


def test_nonsense_is_one_clear_error():
    for text in ("", "curl -x", "curl --cacert x.pem", "openssl s_client -connect", "ls -l /", "'unclosed"):
        with pytest.raises(InputError):
            parse_pasted(text)


def test_probe_takes_an_https_url(tls_server, lab_certs):
    server = tls_server("good")
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", f"https://localhost:{server.port}/status",
                           "--cafile", str(lab_certs.ca_cert), "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    app = next(s for s in data["stages"] if s["name"] == "app")
    assert data["target"] == f"localhost:{server.port}" and app["status"] == "ok"
    assert app["detail"]["request"].startswith("GET /status HTTP/1.1\r\n")


def test_an_s_client_starttls_line_keeps_its_protocol_and_names():
    spec, pasted = spec_of("openssl s_client -connect mail.lab.test:25 -starttls smtp -name client.lab.test")
    assert spec.starttls.protocol == "smtp" and spec.starttls.name == "client.lab.test", spec.starttls
    assert pasted.dropped == ()
    spec, _ = spec_of("openssl s_client -connect chat.lab.test:5222 -starttls xmpp -xmpphost lab.test")
    assert spec.starttls.protocol == "xmpp" and spec.starttls.xmpphost == "lab.test"


def test_a_pasted_credential_header_is_named_without_its_value():
    pasted = parse_pasted("curl -H 'Authorization: Basic dXNlcjpodW50ZXIy' -H 'X-Trace: 1' https://example.com/")
    notes = " ".join(pasted.dropped)
    assert "Authorization: ***" in notes and "dXNlcjpodW50ZXIy" not in notes
    assert "X-Trace: 1" in notes  # any other header is named as written


def test_curl_http2_is_tlsbench_http2():
    spec, pasted = spec_of("curl --http2 -sv https://www.lab.test/")
    assert spec.tls.alpn == ("h2", "http/1.1")
    assert not any("http2" in d for d in pasted.dropped)
    assert "--http2" in equivalent_commands(spec).tlsbench.command.split()
    again, _ = spec_of(equivalent_commands(spec).tlsbench.command)
    assert again == spec

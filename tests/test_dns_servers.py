"""The resolve stage against real DNS servers the suite starts (dnsmasq, unbound in front of it):
--dns-servers over UDP and over TLS, the system resolver with its detail from resolv.conf, and
what each failure looks like."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tlsbench.lab.dns_servers import CHAIN, DISAGREEING, HTTPS_PORT, HTTPS_TTL, TTLS

pytestmark = pytest.mark.servers


def probe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def probe_json(*args: str) -> tuple[int, dict]:
    proc = probe(*args, "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def resolve_of(data: dict) -> dict:
    stage = data["stages"][0]
    assert stage["name"] == "resolve"
    return stage


def codes(data: dict) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in data["findings"]}


@pytest.fixture(scope="module")
def www_server(lab_certs, server_cert, tmp_path_factory):
    """openssl s_server on 127.0.0.1 with a certificate for www.lab.test (the chain's first name)."""
    from tests.conftest import need
    from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

    cert = server_cert("www", "www.lab.test")
    server = need(openssl_server, TlsServerOptions(cert=cert), log_dir=tmp_path_factory.mktemp("www"))
    yield server
    server.stop()


def check_detail(detail: dict, server: str, over: str, exact_ttls: bool) -> None:
    assert detail["resolver"] == {"kind": "servers", "servers": [server], "source": "--dns-servers", "note": None}
    queries = detail["queries"]
    assert [q["type"] for q in queries] == ["A", "AAAA", "HTTPS"]  # A and AAAA asked separately
    for q in queries:
        assert q["server"] == server and q["rcode"] == "NOERROR" and q["over"] == over
        assert isinstance(q["ms"], float) and q["ms"] >= 0 and q["error"] is None
        chain = [(a["name"], a["type"], a["value"]) for a in q["answers"]][:2]
        assert chain == [("www.lab.test", "CNAME", "edge.lab.test."), ("edge.lab.test", "CNAME", "host.lab.test.")]
        for answer in q["answers"]:
            assert isinstance(answer["ttl"], int)
            limit = HTTPS_TTL if answer["type"] == "HTTPS" else TTLS[answer["name"]]
            assert (answer["ttl"] == limit) if exact_ttls else (0 < answer["ttl"] <= limit)
    a, aaaa, https = queries
    assert (a["answers"][-1]["type"], a["answers"][-1]["value"]) == ("A", "127.0.0.1")
    assert (aaaa["answers"][-1]["type"], aaaa["answers"][-1]["value"]) == ("AAAA", "::1")
    assert https["answers"][-1]["type"] == "HTTPS"
    assert detail["cname_chain"] == list(CHAIN)
    assert detail["https"] == {"name": "host.lab.test", "priority": 1, "target": ".", "alpn": ["h3", "h2"],
                               "no_default_alpn": False, "port": HTTPS_PORT, "ech": True,
                               "ipv4hint": ["127.0.0.1"], "ipv6hint": ["::1"]}


@pytest.mark.parametrize("which, over, exact", [("direct", "udp", True), ("plain", "udp", False),
                                                ("dot", "tls", False)])
def test_servers_decide_and_the_detail_shows_chain_ttls_and_https(dns_lab, www_server, lab_certs, which, over,
                                                                  exact):
    server = getattr(dns_lab, which)
    code, data = probe_json(f"www.lab.test:{www_server.port}", "--dns-servers", server, "--cafile",
                            str(lab_certs.ca_cert), "-4", "--http")
    assert code == 0, data["findings"]
    stage = resolve_of(data)
    assert stage["status"] == "ok"
    detail = stage["detail"]
    check_detail(detail, server, over, exact)
    assert detail["addresses"] == ["127.0.0.1"] and detail["chosen"] == "127.0.0.1"  # -4: the A answer
    assert codes(data).get("dns-https-h3") == "info"
    assert "www.lab.test > edge.lab.test > host.lab.test" in stage["summary"]
    if which == "dot":
        (tls,) = detail["connection"]
        assert tls["name"] == "tls" and tls["status"] == "ok"
        assert tls["detail"]["version"].startswith("TLSv1.") and tls["detail"]["verified"] is True
        assert tls["detail"]["verify"] == "cafile" and tls["detail"]["sni"] == "localhost"
    else:
        assert detail["connection"] == []


def test_the_verbose_waterfall_shows_each_query_the_chain_and_the_https_record(dns_lab, www_server, lab_certs):
    proc = probe(f"www.lab.test:{www_server.port}", "--dns-servers", dns_lab.dot, "--cafile", str(lab_certs.ca_cert),
                 "-v", "--no-tls")
    out = proc.stdout
    assert f"from {dns_lab.dot}; CNAME www.lab.test > edge.lab.test > host.lab.test; HTTPS h3,h2 ech" in out
    assert f"resolver     tlsbench's own queries decide: {dns_lab.dot} (--dns-servers)" in out
    for qtype in ("A", "AAAA", "HTTPS"):
        assert any(line.split()[:3] == [qtype, dns_lab.dot, "NOERROR"] for line in out.splitlines()), out
    assert "cname chain  www.lab.test -> edge.lab.test -> host.lab.test" in out
    assert "host.lab.test: priority 1, alpn h3,h2, port 8443, ech, ipv4hint 127.0.0.1, ipv6hint ::1" in out
    assert "DNS over TLS to" in out and "verified" in out


def test_a_dot_server_whose_certificate_fails_stops_the_lookup(dns_lab, www_server):
    code, data = probe_json(f"www.lab.test:{www_server.port}", "--dns-servers", dns_lab.dot, "--no-tls")
    assert code == 1
    stage = resolve_of(data)
    assert stage["status"] == "failed"
    assert codes(data) == {"dns-server-cert-failed": "error"}
    finding = data["findings"][0]
    assert {"label": "verify code", "value": "20: unable to get local issuer certificate"} in finding["evidence"]
    assert "--cafile FILE" in finding["suggestion"] and "insecure" not in finding["suggestion"]
    (tls,) = stage["detail"]["connection"]
    assert tls["status"] == "failed" and tls["detail"]["verify_code"] == 20


def test_doh_insecure_skips_the_dns_servers_verification_only(dns_lab, www_server, lab_certs):
    code, data = probe_json(f"www.lab.test:{www_server.port}", "--dns-servers", dns_lab.dot, "--doh-insecure", "-4",
                            "--http")
    assert resolve_of(data)["status"] == "ok"
    assert resolve_of(data)["detail"]["connection"][0]["detail"]["verify"] == "off"
    assert code == 1 and "cert-untrusted" in codes(data)  # the target is still verified (system store)


@pytest.fixture
def silent_udp():
    """A UDP port on loopback that receives and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_a_server_that_does_not_answer_is_a_timeout_finding(silent_udp):
    code, data = probe_json("www.lab.test:443", "--dns-servers", silent_udp, "--timeout", "1")
    assert code == 1
    stage = resolve_of(data)
    assert stage["status"] == "failed"
    assert codes(data) == {"dns-server-timeout": "error"}
    assert [q["error"] for q in stage["detail"]["queries"]] == ["no answer within 1 s"] * 3
    assert [q["rcode"] for q in stage["detail"]["queries"]] == [None] * 3


def test_the_next_server_answers_when_the_first_is_silent(silent_udp, dns_lab):
    code, data = probe_json("www.lab.test:1", "--dns-servers", f"{silent_udp},{dns_lab.direct}", "--timeout", "2",
                            "--no-tls")
    stage = resolve_of(data)
    assert stage["status"] == "ok"
    assert codes(data)["dns-server-timeout"] == "warning"
    assert [q["server"] for q in stage["detail"]["queries"]] == [silent_udp] * 3 + [dns_lab.direct] * 3
    assert stage["detail"]["cname_chain"] == list(CHAIN)


def test_tls_to_a_port_that_speaks_no_tls(plain_http):
    code, data = probe_json("www.lab.test:443", "--dns-servers", f"tls://127.0.0.1:{plain_http.port}")
    assert code == 1
    assert codes(data) == {"dns-server-tls-failed": "error"}
    assert resolve_of(data)["detail"]["connection"][0]["status"] == "failed"


@pytest.mark.parametrize("name, code_, words", [
    ("nope.lab.test", "dns-nxdomain", "says nope.lab.test does not exist"),
    ("txt.lab.test", "dns-no-address", "txt.lab.test has no address record"),
    ("example.com", "dns-server-error", "answered REFUSED"),
])
def test_answers_that_give_no_address_name_the_server(dns_lab, name, code_, words):
    code, data = probe_json(f"{name}:443", "--dns-servers", dns_lab.direct)
    assert code == 1
    assert resolve_of(data)["status"] == "failed"
    finding = data["findings"][0]
    assert finding["code"] == code_ and words in finding["title"] and dns_lab.direct in finding["title"]
    assert {"label": "server", "value": dns_lab.direct} in finding["evidence"]


@pytest.mark.parametrize("value, words", [
    ("1.2.3.4:99999", ["1.2.3.4:99999", "out of range"]),
    ("dns.example", ["a plain DNS server is an address"]),
    (",", ["--dns-servers is empty"]),
    ("tls://", ["tls://", "empty"]),
    ("ftp://1.2.3.4", ["scheme 'ftp'"]),
    ("tls://h/path", ["nothing after it"]),
    ("[::1:53", ["unclosed"]),
    ("https://dns.example/dns-query", ["--doh-url"]),
])
def test_bad_dns_servers_exit_2_with_one_line(value, words):
    proc = probe("example.com:443", "--dns-servers", value)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("tlsbench probe: error: --dns-servers")
    for word in words:
        assert word in line, line


@pytest.mark.parametrize("args, words", [
    (["--doh-url", "http://dns.example/q"], ["https:// URL"]),
    (["--doh-url", "https://"], ["has no host"]),
    (["--doh-url", "https://u:p@dns.example/q"], ["credentials"]),
    (["--doh-url", "https://dns.example:0/q"], ["port"]),
    (["--doh-insecure"], ["--doh-insecure is for"]),
    (["--doh-url", "https://dns.example/q", "--dns-servers", "127.0.0.1"], ["give one"]),
    (["--dns-server", "127.0.0.1", "--no-tls", "--cafile", "/etc/hostname"], ["--no-tls"]),
])
def test_bad_doh_options_exit_2_with_one_line(args, words):
    proc = probe("example.com:443", *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    for word in words:
        assert word in line, line


def test_doh_decides_and_the_detail_shows_chain_ttls_https_and_its_connection(dns_lab, www_server, lab_certs):
    code, data = probe_json(f"www.lab.test:{www_server.port}", "--doh-url", dns_lab.doh, "--cafile",
                            str(lab_certs.ca_cert), "-4", "--http")
    assert code == 0, data["findings"]
    stage = resolve_of(data)
    detail = stage["detail"]
    assert detail["resolver"] == {"kind": "servers", "servers": [dns_lab.doh], "source": "--doh-url", "note": None}
    queries = detail["queries"]
    assert [q["type"] for q in queries] == ["A", "AAAA", "HTTPS"]
    for q in queries:
        assert q["server"] == dns_lab.doh and q["over"] == "https" and q["rcode"] == "NOERROR"
        for answer in q["answers"]:
            limit = HTTPS_TTL if answer["type"] == "HTTPS" else TTLS[answer["name"]]
            assert isinstance(answer["ttl"], int) and 0 < answer["ttl"] <= limit
    assert detail["cname_chain"] == list(CHAIN)
    assert detail["https"]["alpn"] == ["h3", "h2"] and detail["https"]["ech"] is True
    assert detail["addresses"] == ["127.0.0.1"]
    # The DoH server's own connection, nested in the resolve stage: its TLS over h2, verified with --cafile.
    connection = {c["key"]: c for c in detail["connection"]}
    assert list(connection) == ["resolve", "tcp", "tls", "chain", "doh"]
    assert all(c["parent"] == "resolve" and c["status"] == "ok" for c in connection.values())
    assert connection["tls"]["detail"]["alpn"] == "h2" and connection["tls"]["detail"]["verified"] is True


# --- the system resolver, with the detail from resolv.conf ----------------------------------------------

@pytest.fixture
def system_files(monkeypatch, tmp_path, dns_lab):
    """The C library's files as the resolve stage reads them, pointed at files of the test's own
    (getaddrinfo itself still reads the machine's): resolv.conf names dnsmasq (its port set aside,
    since resolv.conf cannot name one)."""
    from tlsbench.engine.dns import resolver

    def use(hosts: str = "", nsswitch: str = "hosts: files dns\n") -> None:
        for name, text in (("RESOLV_CONF", "nameserver 127.0.0.1\n"), ("HOSTS", hosts), ("NSSWITCH", nsswitch)):
            path = tmp_path / name.lower()
            path.write_text(text)
            monkeypatch.setattr(resolver, name, str(path))
        monkeypatch.setattr(resolver, "RESOLV_PORT", dns_lab.dnsmasq.port)

    return use


def run_engine(target: str, **options):
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    return run_probe(build_spec(target, tls=False, timeout=3, **options))


def test_the_system_decides_and_resolv_conf_gives_the_detail(system_files, dns_lab):
    system_files()
    result = run_engine("www.lab.test:443")  # .test is reserved: the machine's own resolver has no such name
    stage = result.stage("resolve")
    assert stage.status == "failed"
    detail = stage.detail
    assert detail.resolver.kind == "system" and detail.resolver.servers == (f"127.0.0.1:{dns_lab.dnsmasq.port}",)
    assert [(q.type, q.rcode) for q in detail.queries] == [("A", "NOERROR"), ("AAAA", "NOERROR"), ("HTTPS", "NOERROR")]
    assert detail.cname_chain == CHAIN and detail.https is not None and detail.https.ech
    (finding,) = result.findings
    assert finding.code == "dns-failed"  # getaddrinfo decided: the detail does not make the name exist
    assert any(e.value == "A NOERROR; AAAA NOERROR" for e in finding.evidence), finding.evidence


def test_a_name_in_hosts_read_first_is_said_to_be_and_not_asked(system_files):
    system_files(hosts="127.0.0.1 www.lab.test\n")
    detail = run_engine("www.lab.test:443").stage("resolve").detail
    assert detail.queries == ()
    assert detail.resolver.source.endswith("hosts") and "answered by" in (detail.resolver.note or "")


def test_the_system_resolver_and_the_resolv_conf_server_disagreeing(system_files, closed_port):
    system_files(nsswitch="hosts: dns files\n")  # dns first: localhost is asked, and dnsmasq says otherwise
    result = run_engine(f"localhost:{closed_port.port}", family=4)
    stage = result.stage("resolve")
    assert stage.status == "ok" and stage.detail.chosen == "127.0.0.1"  # getaddrinfo decided
    (finding,) = [f for f in result.findings if f.stage == "resolve"]
    assert finding.code == "dns-resolvers-disagree" and finding.severity == "warning"
    assert DISAGREEING in finding.explanation and "127.0.0.1" in finding.explanation


def test_a_silent_resolv_conf_server_never_fails_the_stage(monkeypatch, tmp_path, silent_udp, closed_port):
    from tlsbench.engine.dns import resolver

    (tmp_path / "resolv").write_text("nameserver 127.0.0.1\n")
    (tmp_path / "ns").write_text("hosts: dns files\n")
    monkeypatch.setattr(resolver, "RESOLV_CONF", str(tmp_path / "resolv"))
    monkeypatch.setattr(resolver, "NSSWITCH", str(tmp_path / "ns"))
    monkeypatch.setattr(resolver, "RESOLV_PORT", int(silent_udp.rsplit(":", 1)[1]))
    result = run_engine(f"localhost:{closed_port.port}")
    stage = result.stage("resolve")
    assert stage.status == "ok"
    assert [q.error for q in stage.detail.queries] == ["no answer within 2 s"] * 3
    assert not [f for f in result.findings if f.stage == "resolve"]


def test_an_address_or_a_pin_asks_no_dns_and_loads_no_dnspython(closed_port):
    code = ("import sys; from tlsbench.cli import main; rc = main(sys.argv[1:]); "
            "print('dns.message' in sys.modules, file=sys.stderr); sys.exit(rc)")
    for args in ([closed_port.address], [f"www.lab.test:{closed_port.port}", "--pin", "127.0.0.1"]):
        proc = subprocess.run([sys.executable, "-c", code, "probe", *args, "--no-tls", "--json",
                               "--dns-servers", "127.0.0.1:9"] if "--pin" in args else
                              [sys.executable, "-c", code, "probe", *args, "--no-tls", "--json"],
                              capture_output=True, text=True, timeout=60)
        detail = json.loads(proc.stdout)["stages"][0]["detail"]
        assert detail["queries"] == []
        assert proc.stderr.strip().splitlines()[-1] == "False"


def test_a_run_file_keeps_the_dns_detail_typed(dns_lab, lab_certs, closed_port):
    from tlsbench.engine.records.details import DnsQuery, HttpsRecord
    from tlsbench.engine.records.runfile import dump_run, load_run, run_record
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    events: list = []
    spec = build_spec(f"www.lab.test:{closed_port.port}", tls=False, cafile=str(lab_certs.ca_cert),
                      dns_servers=dns_lab.dot, timeout=5)
    result = run_probe(spec, events.append)
    back = load_run(dump_run(run_record(spec, events, result)), "test")
    detail = back.result.stage("resolve").detail
    assert detail == result.stage("resolve").detail
    assert isinstance(detail.queries[0], DnsQuery) and isinstance(detail.https, HttpsRecord)
    assert detail.connection[0].detail.version.startswith("TLSv1.")
    assert back.connection["dns"] == {"servers": [dns_lab.dot]}


def test_a_refused_port_is_an_unreachable_server():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    code, data = probe_json("www.lab.test:443", "--dns-servers", f"127.0.0.1:{port}")
    assert code == 1
    assert codes(data) == {"dns-server-unreachable": "error"}
    assert "ECONNREFUSED" in resolve_of(data)["detail"]["queries"][0]["error"]


def test_behind_socks5_the_servers_resolve_the_target_for_the_proxy(dns_lab, microsocks, www_server, lab_certs):
    code, data = probe_json(f"www.lab.test:{www_server.port}", "--socks5", microsocks.address, "--dns-servers",
                            dns_lab.direct, "--cafile", str(lab_certs.ca_cert), "-4")
    assert code == 0, data["findings"]
    detail = resolve_of(data)["detail"]
    assert detail["role"] == "proxy" and detail["target_chosen"] == "127.0.0.1"
    assert [q["type"] for q in detail["queries"]] == ["A", "AAAA", "HTTPS"]  # the proxy is an address: no query
    assert {a["name"] for q in detail["queries"] for a in q["answers"]} >= set(CHAIN)
    assert detail["cname_chain"] == list(CHAIN) and detail["https"]["alpn"] == ["h3", "h2"]


def test_behind_socks5h_the_proxy_resolves_and_no_query_is_sent(dns_lab, microsocks, www_server, lab_certs):
    code, data = probe_json(f"localhost:{www_server.port}", "--socks5h", microsocks.address, "--dns-servers",
                            dns_lab.direct, "--cafile", str(lab_certs.ca_cert))
    detail = resolve_of(data)["detail"]
    assert code == 0 and detail["queries"] == [] and "the proxy resolves" in detail["skipped_reason"]
    assert detail["resolver"] is None  # nothing was asked: no resolver to name


def test_an_ip_version_the_name_lacks_is_said_with_the_other(dns_lab):
    code, data = probe_json("localhost:443", "--dns-servers", dns_lab.direct, "-6")  # the lab's localhost: A only
    assert code == 1 and resolve_of(data)["status"] == "failed"
    finding = next(f for f in data["findings"] if f["code"] == "dns-no-address")
    assert finding["title"] == f"localhost has no IPv6 address at {dns_lab.direct}"
    assert {"label": "other family", "value": DISAGREEING} in finding["evidence"]


def test_http3_weighs_the_https_record_that_advertises_h3_against_a_quic_attempt_that_failed(dns_lab, www_server,
                                                                                            lab_certs):
    """www.lab.test's HTTPS record lists h3 (dnsmasq), but the server at its address speaks TLS over TCP
    only (openssl s_server): --http3's QUIC attempt fails, and the finding says the DNS advertised it."""
    code, data = probe_json(f"www.lab.test:{www_server.port}", "--dns-servers", dns_lab.plain, "--cafile",
                            str(lab_certs.ca_cert), "-4", "--http3")
    (found,) = [f for f in data["findings"] if f["code"] == "http3-advertised-but-failed"]
    assert "HTTPS DNS record advertises HTTP/3 (alpn h3,h2" in found["explanation"]
    assert dict((e["label"], e["value"]) for e in found["evidence"])["HTTPS record"].startswith("alpn h3,h2")
    assert "http3-not-advertised" not in codes(data)

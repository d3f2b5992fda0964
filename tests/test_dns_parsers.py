"""What tlsbench reads from outside itself about DNS: server lists and URLs people type, resolv.conf,
/etc/hosts and nsswitch.conf, and answers (bytes) from servers - properties for the parsers, tables
for the verdicts, and a small server of the test's own for what the lab's servers never do
(truncate, answer with the wrong ID, send garbage)."""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsbench.engine.dns import servers
from tlsbench.engine.dns.lookup import MAX_CHAIN, Questions, ask
from tlsbench.engine.dns.resolver import OwnLookup
from tlsbench.engine.dns.transport import Answer, Exchanged
from tlsbench.engine.spec import build_spec, is_ip
from tlsbench.errors import InputError

# --- server lists and URLs --------------------------------------------------------------------------

SERVER_TEXT = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b: f"{a}{b}", st.sampled_from(["", "tls://", "udp://", "https://", "[", "[::1]", "1.2.3.4"]),
              st.text(alphabet=":[]./,0123456789abcdefhlst@#?", max_size=20)),
)


@given(SERVER_TEXT)
def test_a_server_entry_parses_or_is_one_input_error(text):
    try:
        parsed = servers.parse_server(text)
    except InputError as exc:
        assert "\n" not in str(exc) and exc.field in ("dns_servers", "doh_url")
        return
    assert parsed.scheme in ("udp", "tls", "https")
    assert servers.parse_server(parsed.text) == parsed  # the canonical spelling reads back the same
    if parsed.scheme == "udp":
        assert is_ip(parsed.host) and 1 <= parsed.port <= 65535


@given(st.lists(SERVER_TEXT, max_size=5))
def test_a_server_list_reads_back_from_its_canonical_spelling(entries):
    try:
        listed = servers.parse_server_list(",".join(entries))
    except InputError:
        return
    assert servers.parse_server_list(",".join(listed)) == listed
    assert len(listed) <= servers.MAX_SERVERS


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", ("udp", "127.0.0.1", 53, "127.0.0.1:53")),
    ("127.0.0.1:5353", ("udp", "127.0.0.1", 5353, "127.0.0.1:5353")),
    ("::1", ("udp", "::1", 53, "[::1]:53")),
    ("[::1]:53", ("udp", "::1", 53, "[::1]:53")),
    ("tls://dns.lab.test", ("tls", "dns.lab.test", 853, "tls://dns.lab.test:853")),
    ("TLS://[::1]:8853", ("tls", "::1", 8853, "tls://[::1]:8853")),
])
def test_server_spellings(text, expected):
    parsed = servers.parse_server(text)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.text) == expected


@given(st.text(max_size=60))
def test_a_doh_url_is_https_with_a_host_or_one_input_error(text):
    try:
        url = servers.check_doh_url("https://" + text)
    except InputError as exc:
        assert exc.field == "doh_url" and "\n" not in str(exc)
        return
    assert url.startswith("https://")


def test_the_spec_keeps_the_servers_and_the_doh_options():
    spec = build_spec("www.lab.test:443", dns_servers="127.0.0.1:5353, tls://localhost", doh_insecure=True)
    assert spec.dns.servers == ("127.0.0.1:5353", "tls://localhost:853") and spec.dns.doh_insecure
    spec = build_spec("www.lab.test:443", doh_url="https://localhost:8443/dns-query")
    assert spec.dns.decides == ("https://localhost:8443/dns-query",)


# --- the C library's files ----------------------------------------------------------------------------

@given(st.text(max_size=400))
def test_resolv_conf_never_raises_and_keeps_only_addresses(text):
    conf = servers.parse_resolv_conf(text)
    assert len(conf.nameservers) <= servers.MAX_NAMESERVERS
    assert all(is_ip(s.split("%", 1)[0]) for s in conf.nameservers)
    assert 1 <= conf.attempts <= 5 and 1 <= conf.timeout <= 30 and 0 <= conf.ndots <= 15


def test_resolv_conf_as_glibc_reads_it():
    conf = servers.parse_resolv_conf("# comment\nnameserver 10.0.0.1 # trailing\nnameserver bogus\n"
                                     "nameserver fe80::1%eth0\nsearch a.example b.example\noptions ndots:2 "
                                     "timeout:1 attempts:9\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n")
    assert conf.nameservers == ("10.0.0.1", "fe80::1%eth0", "10.0.0.3")  # the scope names the interface
    assert conf.search == ("a.example", "b.example") and conf.ndots == 2 and conf.timeout == 1 and conf.attempts == 5


@given(st.text(max_size=300), st.text(max_size=20))
def test_hosts_never_raises_and_gives_addresses(text, name):
    assert all(is_ip(a.split("%", 1)[0]) for a in servers.hosts_addresses(text, name))


def test_hosts_and_nsswitch():
    hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost # v6\n10.0.0.9 WWW.lab.test. www\nbad line\n"
    assert servers.hosts_addresses(hosts, "localhost") == ("127.0.0.1", "::1")
    assert servers.hosts_addresses(hosts, "www.lab.test") == ("10.0.0.9",)
    assert servers.hosts_addresses(hosts, "nope") == ()
    assert servers.hosts_sources("passwd: files\nhosts: files mdns4_minimal [NOTFOUND=return] dns\n") == (
        "files", "mdns4_minimal", "dns")
    assert servers.hosts_sources("") == ("dns", "files")


@given(st.text(max_size=200))
def test_nsswitch_never_raises(text):
    assert all(isinstance(s, str) and "[" not in s for s in servers.hosts_sources(text))


# --- answers, as bytes ---------------------------------------------------------------------------------

class Scripted:
    """A transport that answers from a table (no network): what each query gets back."""

    scheme = "udp"
    server = "192.0.2.53:53"

    def __init__(self, reply) -> None:
        self.reply = reply  # (query message) -> bytes | None

    def exchange(self, queries, ctx, timeout):
        out = []
        for q in queries:
            data = self.reply(dns.message.from_wire(q))
            out.append(Answer(q, data, 0.0, 1.0, None if data is not None else "no answer"))
        return Exchanged(tuple(out))


class Ctx:
    pass


def cname_reply(links: list[tuple[str, str]], address: str | None = None):
    def reply(query):
        response = dns.message.make_response(query)
        for owner, target in links:
            response.answer.append(dns.rrset.from_text(owner + ".", 60, "IN", "CNAME", target + "."))
        qtype = query.question[0].rdtype
        if address and qtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(links[-1][1] + ".", 30, "IN", "A", address))
        return response.to_wire()
    return reply


def test_a_cname_loop_is_caught():
    found = ask(Scripted(cname_reply([("a.test", "b.test"), ("b.test", "a.test")])), Questions("a.test"), Ctx(), 1)
    assert found.loop and found.chain == ("a.test", "b.test", "a.test")


def test_a_chain_past_the_bound_stops_and_fails_the_lookup():
    links = [(f"n{i}.test", f"n{i + 1}.test") for i in range(MAX_CHAIN + 5)]
    found = ask(Scripted(cname_reply(links, "192.0.2.1")), Questions("n0.test"), Ctx(), 1)
    assert found.too_long and len(found.chain) == MAX_CHAIN + 1 and found.v4 == ()
    lookup = OwnLookup.__new__(OwnLookup)
    lookup.name, lookup.decides, lookup.family = "n0.test", True, None
    outcome = lookup._judge((found,))
    assert outcome.error and outcome.findings[0].code == "dns-cname-chain" and outcome.addresses == ()


def test_addresses_are_taken_for_the_chains_last_name_only():
    def reply(query):
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text("a.test.", 60, "IN", "CNAME", "b.test."))
        response.answer.append(dns.rrset.from_text("other.test.", 60, "IN", "A", "192.0.2.66"))
        response.answer.append(dns.rrset.from_text("b.test.", 60, "IN", "A", "192.0.2.1"))
        return response.to_wire()

    found = ask(Scripted(reply), Questions("a.test"), Ctx(), 1)
    assert found.v4 == ("192.0.2.1",) and found.chain == ("a.test", "b.test")


def test_an_answer_to_another_question_is_not_taken():
    def reply(query):
        other = dns.message.make_query("evil.test.", "A")
        other.id = query.id
        response = dns.message.make_response(other)
        response.answer.append(dns.rrset.from_text("evil.test.", 60, "IN", "A", "192.0.2.66"))
        return response.to_wire()

    found = ask(Scripted(reply), Questions("a.test"), Ctx(), 1)
    assert found.v4 == () and len(found.malformed) == 3
    assert all("another question" in (q.error or "") for q in found.queries)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_any_answer_bytes_are_read_or_reported_never_raised(data):
    found = ask(Scripted(lambda q: data), Questions("a.test"), Ctx(), 1)
    assert len(found.queries) == 3
    for q in found.queries:
        assert (q.rcode is None) == (q.error is not None)


@given(st.binary(min_size=12, max_size=200))
def test_answer_bytes_with_the_right_id_are_read_or_reported(tail):
    def reply(query):
        return query.id.to_bytes(2, "big") + bytes([0x81]) + tail[1:]

    found = ask(Scripted(reply), Questions("a.test"), Ctx(), 1)
    assert all((q.rcode is None) == (q.error is not None) for q in found.queries)


# --- UDP truncation: a server of the test's own --------------------------------------------------------

class TruncatingServer:
    """Answers every UDP query truncated (TC, no records) and the same query over TCP in full."""

    def __init__(self) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(4)
        self.tcp_queries = 0
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    @staticmethod
    def _full(query: dns.message.Message) -> bytes:
        response = dns.message.make_response(query)
        if query.question[0].rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(query.question[0].name, 30, "IN", "A", "127.0.0.1"))
        return response.to_wire()

    def _serve_udp(self) -> None:
        while True:
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            response = dns.message.make_response(dns.message.from_wire(data))
            response.flags |= dns.flags.TC
            self.udp.sendto(response.to_wire(), peer)

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                    while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                        size = int.from_bytes(buf[:2], "big")
                        self.tcp_queries += 1
                        answer = self._full(dns.message.from_wire(buf[2:2 + size]))
                        conn.sendall(len(answer).to_bytes(2, "big") + answer)
                        buf = buf[2 + size:]

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


def test_a_truncated_udp_answer_is_asked_again_over_tcp(closed_port):
    from tlsbench.engine.runner import run_probe

    server = TruncatingServer()
    try:
        result = run_probe(build_spec(f"trunc.test:{closed_port.port}", tls=False,
                                      dns_servers=f"127.0.0.1:{server.port}", timeout=3))
    finally:
        server.close()
    detail = result.stage("resolve").detail
    assert [q.over for q in detail.queries] == ["tcp", "tcp", "tcp"] and server.tcp_queries == 3
    assert detail.addresses == ("127.0.0.1",) and result.stage("resolve").status == "ok"


# --- the options: profile, run file, copy as command, paste ---------------------------------------------

def test_the_dns_options_survive_a_profile_and_copy_as_command(tmp_path):
    import shlex

    from tlsbench.engine.connection_data import connection_to_data, data_to_spec
    from tlsbench.engine.equivalents import equivalent_commands
    from tlsbench.engine.paste import parse_pasted
    from tlsbench.engine.options import spec_from_values

    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    spec = build_spec("www.lab.test:80", tls=False, cafile=str(ca), dns_servers="[::1]:5353,tls://localhost",
                      doh_insecure=True)
    assert spec.dns.cafile == str(ca) and spec.tls.cafile is None  # --no-tls: the CA file is the DoT server's
    data = connection_to_data(spec)
    assert data["dns"] == {"servers": ["[::1]:5353", "tls://localhost:853"], "doh_insecure": True}
    assert data_to_spec(data).dns == spec.dns
    words = shlex.split(equivalent_commands(spec).tlsbench.command)
    assert words[words.index("--dns-servers") + 1] == "[::1]:5353,tls://localhost:853" and "--doh-insecure" in words
    assert words[words.index("--cafile") + 1] == str(ca)
    doh = build_spec("www.lab.test:443", doh_url="https://localhost:8443/dns-query")
    curl = equivalent_commands(doh).curl.command
    assert "--doh-url https://localhost:8443/dns-query" in curl
    pasted = parse_pasted(curl)
    assert spec_from_values(pasted.values).dns.doh_url == "https://localhost:8443/dns-query"
    dot = equivalent_commands(spec).curl
    assert "--dns-servers '[::1]:5353'" in dot.command and any("DNS over TLS" in c for c in dot.cannot)


def test_a_profile_with_a_bad_dns_value_names_its_key():
    from tlsbench.engine.connection_data import FormatError, data_to_spec

    for dns, key in (({"servers": ["1.2.3.4:0"]}, "servers"), ({"doh_url": "http://x/"}, "doh_url"),
                     ({"servers": "1.2.3.4"}, "servers"), ({"doh_insecure": "yes"}, "doh_insecure")):
        with pytest.raises(FormatError) as caught:
            data_to_spec({"host": "www.lab.test", "port": 443, "dns": dns})
        assert (caught.value.table, caught.value.key) == ("dns", key), caught.value


# --- network text is shown literally ---------------------------------------------------------------------

def hostile_detail():
    from tlsbench.engine.records.details import DnsQuery, DnsRecord, DnsResolver, HttpsRecord, ResolveDetail

    value = "[red]x[/red] \x1b[2J\x07 [@click=app.quit]"
    return ResolveDetail("www.lab.test", "target", ("192.0.2.1",), "192.0.2.1", "IPv4",
                         resolver=DnsResolver("servers", ("192.0.2.53:53",), "--dns-servers"),
                         queries=(DnsQuery("A", "192.0.2.53:53", "NOERROR", 1.0,
                                           (DnsRecord("www.lab.test", "TXT", 5, value),)),),
                         cname_chain=("www.lab.test", "a\x1bb"),
                         https=HttpsRecord("www.lab.test", 1, ".", ("h3\x1b[1m",)))


def test_the_cli_shows_dns_records_literally():
    from tlsbench.commands.probe_output import dns_lines
    from tlsbench.engine.records.result import StageRecord

    lines = dns_lines(StageRecord("resolve", "ok", 0.0, 1.0, hostile_detail()))
    text = "\n".join(lines)
    assert "\x1b" not in text and "\x07" not in text
    assert "[red]x[/red]" in text and "[@click=app.quit]" in text


def test_the_workbench_shows_dns_records_literally():
    from tlsbench.tui.stage_text import detail_text

    rendered = detail_text(hostile_detail())
    assert "[red]x[/red]" in rendered.plain and "[@click=app.quit]" in rendered.plain
    assert "\x1b" not in rendered.plain and "\x07" not in rendered.plain
    assert not any("red" in str(span.style) and span.end - span.start == 1 for span in rendered.spans)


def test_a_profiles_description_names_its_dns_servers():
    from tlsbench.profiles.describe import summary_lines
    from tlsbench.profiles.model import Profile

    spec = build_spec("www.lab.test:443", dns_servers="127.0.0.1:5353,tls://localhost", doh_insecure=True)
    assert "dns       127.0.0.1:5353, tls://localhost:853 (their certificates not verified)" in summary_lines(
        Profile("lab", spec))
    assert not any(line.startswith("dns") for line in summary_lines(Profile("lab", build_spec("www.lab.test:443"))))


def test_resolvers_disagree_only_with_no_address_in_common():
    from tlsbench.engine.dns.resolver import disagreement

    def reply(query):
        response = dns.message.make_response(query)
        if query.question[0].rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text("a.test.", 60, "IN", "A", "192.0.2.1", "192.0.2.2"))
        return response.to_wire()

    found = ask(Scripted(reply), Questions("a.test"), Ctx(), 1)
    assert disagreement("a.test", ("192.0.2.2", "192.0.2.3"), found, None) is None  # a varying subset
    differ = disagreement("a.test", ("192.0.2.9",), found, None)
    assert differ is not None and differ.code == "dns-resolvers-disagree"
    assert disagreement("a.test", ("192.0.2.9",), found._replace(queries=found.queries[:1]), None) is None


@pytest.mark.parametrize("nsswitch, hosts, asked", [
    ("hosts: files dns", "127.0.0.1 www.lab.test", False),  # /etc/hosts first, and the name is there
    ("hosts: files dns", "127.0.0.1 other.lab.test", True),
    ("hosts: dns files", "127.0.0.1 www.lab.test", True),  # DNS first: asked
    ("hosts: files resolve [!UNAVAIL=return] dns", "", True),  # systemd-resolved asks DNS too
    ("hosts: files myhostname", "", False),  # no DNS at all
])
def test_which_system_source_answers_first(monkeypatch, tmp_path, nsswitch, hosts, asked):
    from tlsbench.engine.dns import resolver

    for name, text in (("NSSWITCH", nsswitch), ("HOSTS", hosts), ("RESOLV_CONF", "nameserver 192.0.2.53\n")):
        (tmp_path / name).write_text(text)
        monkeypatch.setattr(resolver, name, str(tmp_path / name))
    info, server = resolver.system_resolver("www.lab.test")
    assert (server is not None) == asked and info.kind == "system"
    assert server in (None, "192.0.2.53:53") and (info.note is not None or asked)

"""DNS over HTTPS (engine/dns/doh.py, stages/doh.py): queries as HTTP/2 POSTs to unbound on a
connection of tlsbench's own, run as a plan nested in the resolve stage, its records and findings
handed back; a scripted HTTP/2 server for the answers unbound never gives on demand."""

from __future__ import annotations

import threading

import dns.message
import pytest
from hypothesis import given, settings, strategies as st

from tests.doh_servers import (ADDRESS_A, ADDRESS_AAAA, NAME, TTL, WrongDoh, listener, run_with_doh,  # noqa: F401
                               unbound_doh)
from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.dns.doh import as_doh_findings, connection_json, parse_doh_url
from tlsbench.engine.plan import KINDS
from tlsbench.engine.spec import build_spec
from tlsbench.engine.stages.context import StageContext
from tlsbench.engine.events import Event, StageFinished, StageStarted, TlsMessageSeen
from tlsbench.engine.records.details import DohDetail, TcpDetail, TlsDetail
from tlsbench.errors import InputError

pytestmark = pytest.mark.servers


def addresses(answer: bytes) -> list[str]:
    message = dns.message.from_wire(answer)
    return [item.to_text() for rrset in message.answer for item in rrset]


def test_a_and_aaaa_over_doh_with_the_connection_nested_in_resolve(unbound_doh, lab_certs, listener):
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    result, exchanged, events = run_with_doh(unbound_doh.url, spec, cafile=str(lab_certs.ca_cert))

    assert result.ok, [(s.key, s.summary) for s in result.stages]
    assert exchanged is not None
    a, aaaa = exchanged.answers
    assert a.error is None and aaaa.error is None, (a.error, aaaa.error)
    assert addresses(a.answer or b"") == [ADDRESS_A] and addresses(aaaa.answer or b"") == [ADDRESS_AAAA]
    assert dns.message.from_wire(a.answer or b"").answer[0].ttl <= TTL
    assert a.sent_ms > 0 and a.ms > 0 and aaaa.ms > 0  # each query with its own times on the wire

    records = exchanged.connection
    assert [r.name for r in records] == ["resolve", "tcp", "tls", "chain", "doh"]
    assert {r.parent for r in records} == {"resolve"} and all(r.status == "ok" for r in records)
    tls = next(r.detail for r in records if r.name == "tls")
    assert isinstance(tls, TlsDetail) and tls.alpn == "h2" and tls.alpn_offered == ("h2",)
    assert tls.sni == "localhost" and tls.verified is True and tls.verify == "cafile"
    doh = next(r.detail for r in records if r.name == "doh")
    assert isinstance(doh, DohDetail) and [q.status for q in doh.queries] == [200, 200]
    assert [q.stream_id for q in doh.queries] == [1, 3]  # two streams on the one connection
    assert {q.content_type for q in doh.queries} == {"application/dns-message"}
    sent = [f for f in doh.frames if f.direction == "sent" and f.type == "DATA"]
    assert [f.stream_id for f in sent] == [1, 3]
    # The nested stages lie inside the resolve stage's clock, and their events name it.
    resolve = next(s for s in result.stages if s.key == "resolve")
    for record in records:
        assert resolve.started_ms <= record.started_ms <= resolve.started_ms + resolve.duration_ms
    started = [(e.parent, e.stage) for e in events if isinstance(e, StageStarted)]
    assert started[:6] == [(None, "resolve"), ("resolve", "resolve"), ("resolve", "tcp"), ("resolve", "tls"),
                           ("resolve", "chain"), ("resolve", "doh")]
    assert any(isinstance(e, TlsMessageSeen) and e.parent == "resolve" and e.name == "ServerHello" for e in events)
    assert not exchanged.findings
    # The JSON form the resolve stage's detail holds (connection).
    from tlsbench.engine.records import jsonout

    listed = connection_json(records)
    assert [(s["key"], s["parent"]) for s in listed] == [(r.key, "resolve") for r in records]
    text = jsonout.dumps(listed)
    assert '"alpn": "h2"' in text and '"answer_bytes"' in text


def test_the_runs_target_options_do_not_reach_the_connection(unbound_doh, lab_certs, tls_server):
    """The client certificate, SNI override, pin and ALPN are the target's; the CA file is shared."""
    server = tls_server("good")
    spec = build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), sni="www.lab.test",
                      alpn="http/1.1", pin="127.0.0.1", cert=str(lab_certs.client.chain),
                      key=str(lab_certs.client.key), timeout=10)
    result, exchanged, _ = run_with_doh(unbound_doh.url, spec)
    assert exchanged is not None and all(a.error is None for a in exchanged.answers)
    tls = next(r.detail for r in exchanged.connection if r.name == "tls")
    assert isinstance(tls, TlsDetail) and tls.sni == "localhost" and tls.alpn_offered == ("h2",)
    assert tls.verify == "cafile" and tls.verified is True  # the run's CA file verifies the DoH server too
    looked_up = next(r.detail for r in exchanged.connection if r.name == "resolve")
    assert looked_up is not None and looked_up.name == "localhost" and not looked_up.pinned
    assert result.stages[0].detail is not None and result.stages[0].detail.pinned  # the target's own, pinned


def test_a_wrong_ca_fails_the_doh_servers_verification_in_its_own_words(unbound_doh, lab_certs, listener):
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    result, exchanged, _ = run_with_doh(unbound_doh.url, spec, cafile=str(lab_certs.other_ca_cert))

    assert exchanged is not None
    for answer in exchanged.answers:
        assert answer.answer is None and answer.error is not None
        assert answer.error.startswith("no connection to the DoH server: tls handshake failed")
    statuses = {r.name: r.status for r in exchanged.connection}
    assert statuses["tls"] == "failed" and statuses["doh"] == "skipped"
    untrusted = [f for f in exchanged.findings if f.code in ("cert-untrusted", "cert-incomplete-chain")]
    assert untrusted, [f.code for f in exchanged.findings]
    found = untrusted[0]
    assert found.title.startswith("DoH server: ") and unbound_doh.url in found.explanation
    assert found.stage == "resolve" and not found.suggestion.changes  # the target's options are not the DoH's
    assert "--insecure" not in found.suggestion.text and " -k" not in found.suggestion.text
    assert any(f.code == found.code for f in result.findings)  # reported by the resolve stage


def test_doh_insecure_skips_verification_of_the_doh_server_only(unbound_doh, lab_certs, listener):
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    _, exchanged, _ = run_with_doh(unbound_doh.url, spec, insecure=True, cafile=str(lab_certs.other_ca_cert))

    assert exchanged is not None and all(a.error is None for a in exchanged.answers)
    tls = next(r.detail for r in exchanged.connection if r.name == "tls")
    assert isinstance(tls, TlsDetail) and tls.verify == "off" and tls.verified is None
    disabled = [f for f in exchanged.findings if f.code == "verify-disabled"]
    assert disabled and disabled[0].title.startswith("DoH server: ")


def test_the_connection_follows_the_runs_proxy_route(unbound_doh, lab_certs, microsocks, listener):
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, proxies=[f"socks5h://{microsocks.host}:{microsocks.port}"],
                      timeout=10)
    result, exchanged, events = run_with_doh(unbound_doh.url, spec, cafile=str(lab_certs.ca_cert))

    assert exchanged is not None and all(a.error is None for a in exchanged.answers), exchanged.answers
    records = exchanged.connection
    assert [r.name for r in records] == ["resolve", "tcp", "proxy", "tls", "chain", "doh"]
    tcp = next(r.detail for r in records if r.name == "tcp")
    assert isinstance(tcp, TcpDetail) and tcp.peer_port == microsocks.port and tcp.role == "proxy"
    proxy = next(r for r in records if r.name == "proxy")
    assert proxy.parent == "resolve" and f"localhost:{unbound_doh.port}" in proxy.summary
    assert ("resolve", "proxy") in [(e.parent, e.stage) for e in events if isinstance(e, StageStarted)]


def test_a_wrong_path_is_unbounds_http2_404(unbound_doh, lab_certs, listener):
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    url = unbound_doh.url.replace("/dns-query", "/wrong")
    _, exchanged, _ = run_with_doh(url, spec, cafile=str(lab_certs.ca_cert))

    assert exchanged is not None
    assert [a.error for a in exchanged.answers] == ["HTTP status 404", "HTTP status 404"]
    assert all(a.answer is None for a in exchanged.answers)
    found = next(f for f in exchanged.findings if f.code == "doh-http-status")
    assert "404" in found.title and url in found.explanation
    doh = next(r for r in exchanged.connection if r.name == "doh")
    assert doh.status == "failed"


@pytest.fixture(scope="module")
def wrong_doh(lab_certs):
    started: dict[str, WrongDoh] = {}

    def server(behaviour: str) -> WrongDoh:
        if behaviour not in started:
            started[behaviour] = WrongDoh(lab_certs.good, behaviour)
        return started[behaviour]

    yield server
    for peer in started.values():
        peer.stop()


def test_a_web_page_for_an_answer_is_named_by_its_content_type(wrong_doh, lab_certs, listener):
    peer = wrong_doh("wrong-type")
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    _, exchanged, _ = run_with_doh(f"https://localhost:{peer.port}/dns-query", spec, cafile=str(lab_certs.ca_cert))

    assert exchanged is not None
    assert all(a.error == "content-type 'text/html', not application/dns-message" for a in exchanged.answers)
    found = next(f for f in exchanged.findings if f.code == "doh-content-type")
    assert ("content-type", "text/html") in [(e.label, e.value) for e in found.evidence]


def test_reset_streams_and_goaway_become_each_querys_error(wrong_doh, lab_certs, listener):
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    peer = wrong_doh("reset")
    _, exchanged, _ = run_with_doh(f"https://localhost:{peer.port}/dns-query", spec, cafile=str(lab_certs.ca_cert))
    assert exchanged is not None
    assert [a.error for a in exchanged.answers] == ["the server reset its stream (RST_STREAM REFUSED_STREAM)"] * 2
    assert "doh-no-answer" in {f.code for f in exchanged.findings}

    peer = wrong_doh("goaway")
    _, exchanged, _ = run_with_doh(f"https://localhost:{peer.port}/dns-query", spec, cafile=str(lab_certs.ca_cert))
    assert exchanged is not None
    assert all("GOAWAY PROTOCOL_ERROR" in (a.error or "") for a in exchanged.answers), exchanged.answers
    goaway = next(f for f in exchanged.findings if f.code == "h2-goaway")
    assert goaway.title.startswith("DoH server: ")


def test_cancel_ends_a_doh_lookup_the_server_never_answers(wrong_doh, lab_certs, listener):
    peer = wrong_doh("silent")
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=30)
    token = CancelToken()

    def on_event(event: Event) -> None:
        if isinstance(event, StageStarted) and event.stage == "doh" and event.parent == "resolve":
            threading.Timer(0.2, token.cancel).start()

    result, exchanged, events = run_with_doh(f"https://localhost:{peer.port}/dns-query", spec,
                                             cafile=str(lab_certs.ca_cert), cancel=token, on_event=on_event)
    assert result.cancelled and exchanged is None
    assert next(s for s in result.stages if s.key == "resolve").status == "cancelled"
    nested = [e.record for e in events if isinstance(e, StageFinished) and e.record.parent == "resolve"]
    assert [(r.name, r.status) for r in nested][-1] == ("doh", "cancelled")


# --- the URL ------------------------------------------------------------------------------------

def test_doh_urls_are_checked_before_anything_runs():
    assert parse_doh_url("https://dns.lab.test/dns-query") == ("dns.lab.test", 443, "/dns-query")
    assert parse_doh_url("https://[::1]:8443/q?ct") == ("::1", 8443, "/q?ct")
    assert parse_doh_url("https://dns.lab.test") == ("dns.lab.test", 443, "/")
    assert parse_doh_url("https://dns.lab.test/é?q=1") == ("dns.lab.test", 443, "/%C3%A9?q=1")
    for bad in ("http://dns.lab.test/dns-query", "https:///dns-query", "https://dns.lab.test:99999/", "",
                "https://dns.lab.test/a b"):
        with pytest.raises(InputError) as caught:
            parse_doh_url(bad)
        assert caught.value.field == "doh_url"
    with pytest.raises(InputError) as caught:
        parse_doh_url("https://user:s3cret-pass@dns.lab.test/dns-query")
    assert "s3cret-pass" not in str(caught.value)


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_any_doh_url_text_parses_or_is_one_input_error_without_its_password(text):
    url = f"https://u:PASSWORD@{text}" if text.startswith("x") else text
    try:
        host, port, path = parse_doh_url(url)
    except InputError as exc:
        assert "PASSWORD" not in str(exc) and "\n" not in str(exc)
        return
    assert host and 0 < port < 65536 and path.startswith("/") and "PASSWORD" not in host + path
    assert path.isascii() and path.isprintable() and " " not in path


def test_nested_findings_never_keep_the_targets_changes():
    from tlsbench.engine.findings.catalogue import finding
    from tlsbench.engine.findings.model import Evidence
    from tlsbench.engine.suggestions import Change, Suggestion

    made = finding("cert-untrusted", "untrusted", "the chain leads nowhere",
                   Suggestion("Give the CA ({0}) or look anyway ({1}).",
                              (Change.of(verify="cafile", cafile="FILE", placeholders=("FILE",)), Change.of(verify="off"))),
                   (Evidence("verify code", "20"),))
    (said,) = as_doh_findings([made], "https://dns.lab.test/dns-query")
    assert not said.suggestion.changes and "--doh-insecure" in said.suggestion.text
    assert "--cafile FILE" in said.suggestion.text and "{" not in said.suggestion.text


# --- the HTTP/2 client under several streams --------------------------------------------------------

SERVER_SETTINGS = bytes.fromhex("000000040000000000")


@given(st.binary(max_size=400), st.integers(min_value=0, max_value=3))
@settings(max_examples=200, deadline=None)
def test_any_server_bytes_end_a_many_stream_exchange_with_one_response_per_request(data, count):
    import socket

    from tlsbench.engine.stages.h2client import H2Request, exchange_streams
    from tlsbench.engine.stream import socket_stream

    spec = build_spec("www.lab.test:443", timeout=2)
    ctx = StageContext(spec=spec, emit=lambda e: None, cancel=CancelToken())
    requests = [H2Request([(":method", "POST"), (":scheme", "https"), (":authority", "dns.lab.test"),
                           (":path", "/dns-query")], bytes([n]) * (n * 40 + 1)) for n in range(count)]
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(SERVER_SETTINGS + data)
        theirs.shutdown(socket.SHUT_WR)
        stream = socket_stream(ours, ctx.cancel)
        stream.link.set_timeout(2)
        x = exchange_streams(ctx, stream, requests, 2, 65535)
    assert len(x.responses) == count
    assert [r.stream_id for r in x.responses] == [1, 3, 5][:count]
    assert all(len(r.body) <= 65535 for r in x.responses)
    assert x.bytes_received <= len(data) + len(SERVER_SETTINGS)
    assert all(r.finished for r in x.responses) or x.error is not None or x.broken is not None \
        or x.goaway is not None or x.limit is not None


def test_the_doh_kind_is_a_stage_of_the_catalogue():
    assert KINDS["doh"].impl.endswith("stages.doh:DohStage")


def test_a_saved_run_keeps_the_connections_events(unbound_doh, lab_certs, listener):
    from tlsbench.engine.records.runfile import dump_run, load_run, run_record

    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    result, _, events = run_with_doh(unbound_doh.url, spec, cafile=str(lab_certs.ca_cert))
    record = run_record(spec, events, result)
    again = load_run(dump_run(record), "run.json")
    nested = [e for e in again.events if isinstance(e, StageFinished) and e.record.parent == "resolve"]
    assert [e.record.name for e in nested] == ["resolve", "tcp", "tls", "chain", "doh"]
    assert again.events == record.events


def test_the_waterfall_names_the_connections_stages_by_path_with_v_details(unbound_doh, lab_certs, listener):
    import io

    from tlsbench.commands.probe_output import Waterfall

    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    _, _, events = run_with_doh(unbound_doh.url, spec, cafile=str(lab_certs.ca_cert))
    out = io.StringIO()
    waterfall = Waterfall(out, colour=False, trace=True)
    for event in events:
        waterfall(event)
    lines = out.getvalue().splitlines()
    names = [line.split()[1] for line in lines if line.startswith("  ") and len(line.split()) > 1
             and line.split()[0] in ("ok", "FAIL", "-")]
    assert names[:6] == ["resolve/resolve", "resolve/tcp", "resolve/tls", "resolve/chain", "resolve/doh", "resolve"]
    tls_at = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["resolve/tls"])
    doh_at = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["resolve/doh"])
    assert any("<<< ServerHello" in line for line in lines[tls_at:doh_at])  # the DoH server's handshake
    after = lines[doh_at:]
    assert any("query on stream 1:" in line and "200 application/dns-message" in line for line in after)
    assert any("query on stream 3:" in line for line in after)
    assert any("DATA" in line and ">>>" in line for line in after)


def test_a_proxy_password_never_leaves_in_the_connections_events(unbound_doh, lab_certs, microsocks_auth,
                                                                      listener):
    from tests.conftest import MICROSOCKS_PASSWORD, MICROSOCKS_USER
    from tlsbench.engine.records.runfile import dump_run, run_record

    proxy = f"socks5h://{MICROSOCKS_USER}:{MICROSOCKS_PASSWORD}@{microsocks_auth.host}:{microsocks_auth.port}"
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, proxies=[proxy], timeout=10)
    result, exchanged, events = run_with_doh(unbound_doh.url, spec, cafile=str(lab_certs.ca_cert))
    assert exchanged is not None and all(a.error is None for a in exchanged.answers), exchanged.answers
    nested = [e.record for e in events if isinstance(e, StageFinished) and e.record.parent == "resolve"]
    assert "proxy" in [r.name for r in nested]  # the password was sent, to the proxy, on the DoH connection
    saved = dump_run(run_record(spec, events, result))
    assert MICROSOCKS_PASSWORD.encode() not in saved
    assert MICROSOCKS_PASSWORD.encode().hex().encode() not in saved


def test_a_server_that_does_not_choose_h2_gets_no_query(tls_server, lab_certs, listener):
    server = tls_server("good")  # openssl s_server: no ALPN
    spec = build_spec(f"127.0.0.1:{listener}", tls=False, timeout=10)
    _, exchanged, _ = run_with_doh(f"https://localhost:{server.port}/dns-query", spec, cafile=str(lab_certs.ca_cert))
    assert exchanged is not None
    assert all(a.error and a.error.startswith("no connection to the DoH server: DoH queries failed")
               for a in exchanged.answers), exchanged.answers
    found = next(f for f in exchanged.findings if f.code == "doh-not-h2")
    assert ("chosen", "(none)") in [(e.label, e.value) for e in found.evidence]
    doh = next(r.detail for r in exchanged.connection if r.name == "doh")
    assert isinstance(doh, DohDetail) and doh.queries == () and not doh.frames  # nothing was sent


@given(st.integers(min_value=0, max_value=999) | st.none(), st.binary(max_size=40),
       st.text(max_size=30) | st.none(), st.booleans(), st.sampled_from([None, "CANCEL", "0x99"]))
def test_any_response_is_a_query_record_and_findings_never_an_exception(status, body, ctype, ended, reset):
    from tlsbench.engine.stages.doh import _query, _query_findings
    from tlsbench.engine.stages.h2client import H2Exchange, H2Response

    headers = ((":status", str(status)),) + ((("content-type", ctype),) if ctype is not None else ())
    r = H2Response(1, 5.0, status, headers, body, ended, reset, False, 6.0 if status else None, 7.0 if ended else None)
    x = H2Exchange((), (r,), None, None, None, None if ended else "timeout", True, 1.0, len(body), 7.0)
    q = _query(r, b"query", x, 10, 8.0)
    assert q.ms is not None and q.ms >= 0
    usable = status == 200 and ended and reset is None and bool(body) and \
        (ctype or "").split(";")[0].strip().lower() == "application/dns-message"
    assert (q.error is None) == usable
    for found in _query_findings("https://dns.lab.test/dns-query", (q,)):
        assert found.code.startswith("doh-")

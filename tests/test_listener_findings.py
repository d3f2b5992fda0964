"""The listener's findings from bytes alone, no server: each one's words come from what it cites."""

from __future__ import annotations

import pytest

from test_listener_support import python_hello
from tlsbench.engine.listener import findings
from tlsbench.engine.listener.clienthello import HelloReader
from tlsbench.engine.listener.sniff import sniff

HELLO = python_hello("localhost")
NO_SNI = python_hello(None)


def reader_of(data: bytes) -> HelloReader:
    reader = HelloReader()
    reader.feed(data)
    return reader


def evidence(finding) -> dict[str, str]:
    return {e.label: e.value for e in finding.evidence}


@pytest.mark.parametrize("how, deadline, seconds, ended_by, reason", [
    ("eof", None, 0, "the client closed its side (FIN)", "the client closed its side (FIN)"),
    ("reset", None, 0, "the client reset the connection", "the client reset the connection"),
    (None, "idle", 2, "the client went silent for 2 s (idle deadline)", "idle deadline: the client sent nothing for 2 s"),
    (None, "handshake", 3, "the handshake deadline (3 s) came",
     "handshake deadline: the handshake had not finished 3 s after the connection"),
])
def test_a_cut_short_hello_says_how_much_came_and_what_ended_it(how, deadline, seconds, ended_by, reason):
    ended = findings.early_ending(reader_of(HELLO[:100]), b"", tls_port=True, how=how, deadline=deadline,
                                  seconds=seconds)
    (finding,) = ended.findings
    declared = len(HELLO) - 5
    assert finding.code == "client-hello-cut-short"
    assert finding.title == f"The ClientHello was cut short: 95 of {declared} bytes arrived"
    assert evidence(finding)["ended by"] == ended_by
    assert ended.reason == f"{reason} (ClientHello cut short: 95 of {declared} bytes in 0 records)" \
        or ended.reason == f"{reason} (ClientHello cut short: 95 of {declared} bytes)"
    assert "SNI" not in finding.title


def test_a_hello_cut_after_its_sni_names_it_as_what_arrived():
    cut = HELLO.index(b"localhost") + len(b"localhost") + 2
    (finding,) = findings.early_ending(reader_of(HELLO[:cut]), b"", tls_port=True, how="eof", deadline=None,
                                       seconds=0).findings
    assert evidence(finding)["sni (in the part that arrived)"] == "localhost"


def test_progress_before_the_lengths_arrived():
    assert reader_of(HELLO[:3]).progress() == "3 bytes of a TLS record header"
    assert reader_of(HELLO[:7]).progress() == "7 bytes; the ClientHello's length had not arrived"


@pytest.mark.parametrize("first, how, deadline, code, words", [
    (b"", "eof", None, None, "the client closed without sending anything"),
    (b"", "reset", None, None, "the client reset the connection without sending anything"),
    (b"", None, "idle", "client-timeout", "The client sent nothing for 10 s (idle deadline)"),
    (b"GE", "eof", None, "not-tls-from-client", "The client did not start TLS: it sent plain text (GE)"),
    (b"GE", None, "idle", "client-timeout", "The client went silent for 10 s after 2 bytes (idle deadline)"),
    (b"\x00\x00", "eof", None, "not-tls-from-client", "The client did not start TLS: it sent 2 bytes of zeros (NUL)"),
])
def test_endings_before_the_first_bytes_were_judged(first, how, deadline, code, words):
    ended = findings.early_ending(None, first, tls_port=True, how=how, deadline=deadline, seconds=10)
    if code is None:
        assert ended.findings == () and ended.reason == words
    else:
        (finding,) = ended.findings
        assert (finding.code, finding.title) == (code, words)


def test_a_plain_listener_makes_no_diagnosis_of_data():
    assert findings.early_ending(None, b"hello", tls_port=False, how=None, deadline="idle", seconds=5).findings == ()


def test_no_sni_only_for_a_whole_hello_and_its_evidence_is_the_extension_list():
    (finding,) = findings.hello_findings(reader_of(NO_SNI).hello(), NO_SNI)
    assert finding.code == "no-sni-from-client"
    assert evidence(finding)["extensions"].endswith("(no server_name)")
    assert "server_name" not in evidence(finding)["extensions"].replace("(no server_name)", "")
    assert evidence(finding)["ClientHello"] == f"{len(NO_SNI) - 5} bytes in 1 record, whole"
    for cut in (10, 60, 200, len(NO_SNI) - 1):
        assert findings.hello_findings(reader_of(NO_SNI[:cut]).hello(), NO_SNI[:cut]) == []
    assert findings.hello_findings(reader_of(HELLO).hello(), HELLO) == []


def test_a_server_name_extension_without_a_host_name_is_malformed_not_no_sni():
    data = bytearray(HELLO)
    at = data.index(b"localhost") - 3  # name_type of the one entry: 0 = host_name
    data[at] = 7
    hello = reader_of(bytes(data)).hello()
    (finding,) = findings.hello_findings(hello, bytes(data))
    assert finding.code == "client-hello-malformed"
    assert "holds no host_name entry" in finding.title


@pytest.mark.parametrize("alert, how, title", [
    ("unknown_ca", None, "The client rejected the certificate (alert unknown_ca)"),
    ("protocol_version", None, "The client aborted the handshake (alert protocol_version)"),
    (None, "reset", "The client reset the connection during the handshake"),
    (None, "eof", "The client closed the connection during the handshake"),
])
def test_an_aborted_handshake_is_worded_from_the_alert_or_the_close(alert, how, title):
    finding = findings.client_aborted_handshake(alert, "detail", alert_bytes=b"\x02\x30" if alert else None,
                                                how=how, received=517, sent=1200)
    assert finding.title == title
    if alert:
        assert evidence(finding)["alert received"] == f"{alert} (bytes 02 30)"
    else:
        assert evidence(finding)["ended by"] in ("a reset (RST)", "the client's close (FIN)")
        assert "after the listener's 1,200 bytes of handshake" in finding.explanation


@pytest.mark.parametrize("data, title", [
    (b"GET /x HTTP/1.1\r\n\r\n", "A plain HTTP GET request arrived on the TLS port"),
    (b"CONNECT a.test:443 HTTP/1.1\r\n\r\n", "A proxy CONNECT request arrived on the TLS port"),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "An HTTP/2 clear-text preface arrived on the TLS port"),
])
def test_http_on_the_tls_port_is_named_from_its_request_line(data, title):
    finding = findings.http_on_tls_port(sniff(data), data, 8443)
    assert finding.title == title
    assert evidence(finding)["request line"] == data.split(b"\r\n")[0].decode()

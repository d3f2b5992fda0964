"""Property tests (Hypothesis) for the STARTTLS parsers: every protocol's dialogue fed random and
mutated server bytes, in random pieces. Each must finish (a bounded state: ready, failed or still
waiting), raise nothing (what the peer sends is never an exception), and all it records (messages,
facts, findings, the detail's rows) must render safely."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from test_parser_properties import DANGEROUS, assert_renders_safely
from test_starttls_dialogues import CONVERSATIONS
from tlsbench.engine.suggestions import cli_text
from tlsbench.engine.hops.starttls import ber, detect
from tlsbench.engine.hops.starttls.base import MAX_BUFFER
from tlsbench.engine.hops.starttls.detail import ExchangeLine, StarttlsDetail, rows
from tlsbench.engine.hops.starttls.protocols import DIALOGUES, dialogue
from tlsbench.engine.hops.starttls.run import _failure

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
PROTOCOLS = sorted(DIALOGUES)


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, start = [], 0
    for point in points + [len(data)]:
        out.append(data[start:point])
        start = point
    return [p for p in out if p]


def feed(protocol: str, chunks: list[bytes], eof: bool):
    d = dialogue(protocol, xmpphost="lab.test")
    d.data_to_send()
    for chunk in chunks:
        events = d.receive(chunk)
        assert isinstance(events, list)
        d.data_to_send()
    if eof:
        d.receive(b"")
        assert d.status in ("ready", "failed")
    assert d.status in ("running", "ready", "failed")
    assert len(d.buffered) <= MAX_BUFFER + max((len(c) for c in chunks), default=0)
    return d


def check_rendering(d, protocol: str) -> None:
    messages = d.take_sent() + d.take_received()
    for m in messages:
        assert_renders_safely(m.text)
    f = d.facts
    for value in (f.greeting, f.capabilities or (), f.reply, f.password_auth, f.notes, f.capabilities_reply):
        for item in value:
            assert_renders_safely(item)
    if d.status == "failed":
        finding = _failure(protocol, f, d, "", 12345, 10.0)
        for text in (finding.title, finding.explanation, cli_text(finding.suggestion)):
            assert_renders_safely(text)
        for ev in finding.evidence:
            assert_renders_safely(ev.value)
    detail = StarttlsDetail(asked=protocol, protocol=protocol, greeting=f.greeting, capabilities=f.capabilities,
                            starttls_offered=f.offered, command=f.command, reply=f.reply, accepted=f.accepted,
                            password_auth=f.password_auth, notes=tuple(f.notes),
                            exchange=tuple(ExchangeLine(1.0, m.direction, m.text) for m in messages))
    for row in rows(detail):
        assert_renders_safely(row.text)
    assert detail.to_dict()["protocol"] == protocol


@pytest.mark.parametrize("protocol", PROTOCOLS)
@SETTINGS
@given(data=st.binary(max_size=2048), cuts=st.lists(st.integers(min_value=0), max_size=8), eof=st.booleans())
@example(data=DANGEROUS.encode("utf-8", "surrogatepass"), cuts=[], eof=True)
@example(data=b"\x15\x03\x03\x00\x02\x02\x28", cuts=[1], eof=False)
def test_random_bytes(protocol, data, cuts, eof):
    d = feed(protocol, pieces(data, cuts), eof)
    check_rendering(d, protocol)


@st.composite
def mutated(draw, protocol: str) -> list[bytes]:
    chunks = list(CONVERSATIONS[protocol][0])
    whole = bytearray(b"".join(chunks))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not whole:
            break
        at = draw(st.integers(min_value=0, max_value=len(whole) - 1))
        if kind == "flip":
            whole[at] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "cut":
            del whole[at:]
        elif kind == "insert":
            whole[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del whole[at:at + draw(st.integers(min_value=1, max_value=8))]
    return pieces(bytes(whole), draw(st.lists(st.integers(min_value=0), max_size=6)))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@SETTINGS
@given(data=st.data(), eof=st.booleans())
def test_mutated_real_conversations(protocol, data, eof):
    d = feed(protocol, data.draw(mutated(protocol)), eof)
    check_rendering(d, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@SETTINGS
@given(after=st.binary(max_size=1024), cuts=st.lists(st.integers(min_value=0), max_size=4), eof=st.booleans())
def test_the_tls_phase_with_random_bytes(protocol, after, cuts, eof):
    d = feed(protocol, CONVERSATIONS[protocol][0], eof=False)
    assert d.status == "ready"
    d.begin_tls()
    for chunk in pieces(after, cuts):
        d.receive(chunk)
        d.data_to_send()
    if eof:
        d.receive(b"")
    assert d.status in ("running", "done", "failed")
    for item in d.facts.capabilities_tls or ():
        assert_renders_safely(item)
    for m in d.take_received():
        assert_renders_safely(m.text)


@SETTINGS
@given(st.binary(max_size=512), st.integers(min_value=0, max_value=600))
def test_ber_reads_or_says_why_not(data, at):
    try:
        element = ber.read(data, at)
    except ber.BerError:
        return
    if element is not None:
        assert element.end <= len(data) and len(element.content) <= ber.MAX_LENGTH
        try:
            ber.children(element.content)
        except ber.BerError:
            pass


@SETTINGS
@given(st.binary(max_size=1024), st.integers(min_value=1, max_value=65535))
@example(b"220 x\r\n", 24)
def test_auto_detection_never_fails_on_bytes(data, port):
    detect.greeting_complete(data)
    choice = detect.by_greeting(data, port)
    assert choice.protocol is None or choice.protocol in DIALOGUES
    assert_renders_safely(choice.because)

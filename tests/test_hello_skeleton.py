"""The hello parsers a series runs once per skeleton (engine/tls/tlsparse.py `by_skeleton`): a hello's
skeleton drops only bytes no parser reads (the random, the session id, the key shares' keys), so two
hellos with one skeleton parse alike, and the cached parsers answer what the parsers themselves do."""

from __future__ import annotations

import ssl

from hypothesis import given, settings, strategies as st

from tlsbench.engine.tls import tlsparse
from tlsbench.engine.tls.fingerprint import fingerprint


def _client_hello() -> bytes:
    """OpenSSL's own ClientHello (the handshake message, without its record header), no network."""
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="example.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    record = out.read()
    return record[5:5 + int.from_bytes(record[3:5], "big")]


HELLO = _client_hello()


def _ext(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def _server_hello(random: bytes, sid: bytes, key: bytes, group: int = 29, alpn: bool = False) -> bytes:
    exts = _ext(43, b"\x03\x04") + _ext(51, group.to_bytes(2, "big") + len(key).to_bytes(2, "big") + key)
    if alpn:
        exts += _ext(16, b"\x00\x03\x02h2")
    body = b"\x03\x03" + random + bytes([len(sid)]) + sid + b"\x13\x01\x00" + len(exts).to_bytes(2, "big") + exts
    return b"\x02" + len(body).to_bytes(3, "big") + body


def _volatile(hello: bytes, rng: st.DataObject) -> bytes:
    """The same ClientHello with a new random, session id and key share keys."""
    out = bytearray(hello)
    out[6:38] = rng.draw(st.binary(min_size=32, max_size=32))
    sid = hello[38]
    out[39:39 + sid] = rng.draw(st.binary(min_size=sid, max_size=sid))
    pos = 39 + sid
    pos += 2 + int.from_bytes(hello[pos:pos + 2], "big")
    pos += 1 + hello[pos] + 2
    while pos + 4 <= len(hello):
        size = int.from_bytes(hello[pos + 2:pos + 4], "big")
        if hello[pos:pos + 2] == b"\x00\x33":
            out[pos + 8:pos + 4 + size] = rng.draw(st.binary(min_size=size - 4, max_size=size - 4))
        pos += 4 + size
    return bytes(out)


def _sh_records(message: bytes):
    return tlsparse._parse_server_hello(message)


@settings(max_examples=200)
@given(st.data())
def test_hellos_differing_in_random_session_and_keys_share_a_skeleton_and_parse_alike(data):
    other = _volatile(HELLO, data)
    assert other != HELLO
    assert tlsparse.hello_skeleton(other) == tlsparse.hello_skeleton(HELLO)
    assert tlsparse.client_hello_offer.__wrapped__(other) == tlsparse.client_hello_offer.__wrapped__(HELLO)
    assert fingerprint(other) == fingerprint(HELLO)


@settings(max_examples=300)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_byte_changed_outside_the_dropped_parts_changes_the_skeleton(where, value):
    """A skeleton keeps every byte a parser reads: when a changed hello keeps the skeleton, it parses alike."""
    i = where % len(HELLO)
    changed = HELLO[:i] + bytes([value]) + HELLO[i + 1:]
    if tlsparse.hello_skeleton(changed) == tlsparse.hello_skeleton(HELLO):
        assert tlsparse.client_hello_offer.__wrapped__(changed) == tlsparse.client_hello_offer.__wrapped__(HELLO)
        assert fingerprint(changed) == fingerprint(HELLO)


@settings(max_examples=300)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=32), st.binary(min_size=1, max_size=64),
       st.integers(min_value=0, max_value=0xFFFF), st.booleans(), st.integers(min_value=0), st.integers(0, 255))
def test_server_hellos_parse_as_the_parser_does(random, sid, key, group, alpn, where, value):
    base = _server_hello(random, sid, key, group, alpn)
    assert tlsparse.parse_server_hello(base) == _sh_records(base)
    again = _server_hello(bytes(reversed(random)), bytes(reversed(sid)), bytes(reversed(key)), group, alpn)
    assert tlsparse.hello_skeleton(again) == tlsparse.hello_skeleton(base) or random == tlsparse.HRR_RANDOM
    assert tlsparse.parse_server_hello(again) == _sh_records(again)
    i = where % len(base)
    changed = base[:i] + bytes([value]) + base[i + 1:]
    assert tlsparse.parse_server_hello(changed) == _sh_records(changed)
    if tlsparse.hello_skeleton(changed) == tlsparse.hello_skeleton(base) and _sh_records(base) is not None:
        ours, theirs = _sh_records(changed), _sh_records(base)
        assert ours is not None and ours._replace(session_id=b"") == theirs._replace(session_id=b"")


@settings(max_examples=300)
@given(st.sampled_from([1, 2]), st.binary(max_size=300))
def test_cached_parsers_answer_as_the_parsers_on_any_bytes(kind, rest):
    message = bytes([kind]) + rest
    assert tlsparse.client_hello_offer(message) == tlsparse.client_hello_offer.__wrapped__(message)
    assert tlsparse.parse_server_hello(message) == _sh_records(message)

"""The PROXY protocol v1 header a listener reads first (curl --haproxy-protocol sends one)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tlsbench.engine.listener.proxyheader import MAX_V1, PARTIAL, ProxyHeader, read


def test_curls_header_and_what_follows():
    data = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n\x16\x03\x01"
    header, used = read(data)
    assert header == ProxyHeader("TCP4", ("192.0.2.10", 56324), ("198.51.100.1", 443))
    assert data[used:] == b"\x16\x03\x01"
    assert read(b"PROXY TCP6 ::1 ::1 40000 8443\r\n")[0].source == ("::1", 40000)
    assert read(b"PROXY UNKNOWN\r\n") == (ProxyHeader("UNKNOWN", None, None), 15)


def test_partial_then_not_a_header():
    assert read(b"") == PARTIAL and read(b"PRO") == PARTIAL and read(b"PROXY TCP4 1.2") == PARTIAL
    assert read(b"\x16\x03\x01\x02\x00") is None and read(b"GET / HTTP/1.1\r\n") is None
    assert read(b"PRI * HTTP/2.0\r\n") is None


def test_a_malformed_header_is_not_taken():
    for bad in (b"PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n", b"PROXY TCP4 ::1 ::1 1 2\r\n",
                b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 99999\r\n", b"PROXY TCP4 a b 1 2\r\n",
                b"PROXY TCP4 192.0.2.10 198.51.100.1 056324 443\r\n", b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
                b"PROXY " + b"x" * MAX_V1 + b"\r\n", b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n"):
        assert read(bad) is None, bad


@given(st.binary(max_size=200))
def test_any_bytes_give_a_header_none_or_partial(data):
    found = read(data)
    if isinstance(found, tuple):
        header, used = found
        assert data[:6] == b"PROXY " and 0 < used <= MAX_V1 and data[used - 2:used] == b"\r\n"
        assert header.family in ("TCP4", "TCP6", "UNKNOWN")
    else:
        assert found in (None, PARTIAL)
        if found == PARTIAL:
            assert len(data) < MAX_V1


@given(st.ip_addresses(v=4), st.ip_addresses(v=4), st.integers(0, 65535), st.integers(0, 65535), st.binary(max_size=20))
def test_every_well_formed_tcp4_header_reads_back(src, dst, sport, dport, rest):
    line = f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()
    header, used = read(line + rest)
    assert header == ProxyHeader("TCP4", (str(src), sport), (str(dst), dport)) and used == len(line)


def test_serve_prints_the_addresses_the_header_carries():
    from tlsbench.commands.serve import describe
    from tlsbench.engine.listener.events import ProxyHeaderSeen

    line = describe(ProxyHeaderSeen(3, "TCP6", ("::1", 40000), ("::1", 8443)))
    assert line == "#3 PROXY header TCP6: client [::1]:40000 -> [::1]:8443 (as the sender says)"
    assert ProxyHeaderSeen(3, "UNKNOWN", None, None).to_dict()["event"] == "proxy-header"

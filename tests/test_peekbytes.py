"""Recognising what a non-TLS peer sent (pure functions over bytes)."""

from __future__ import annotations

import pytest

from tlsbench.engine.tls.peekbytes import classify, looks_like_tls
from tlsbench.engine.tls.tlsmsg import decode_callback


@pytest.mark.parametrize("data,expected", [
    (bytes.fromhex("160303007a"), True), (bytes.fromhex("150301000202"), True), (b"\x16", True),
    (b"HTTP/1.1 400", False), (bytes.fromhex("16fe"), False), (bytes.fromhex("160305"), False), (b"", False),
])
def test_looks_like_tls(data, expected):
    assert looks_like_tls(data) is expected


@pytest.mark.parametrize("data,kind,starttls", [
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "http", None),
    (b"220 mx.example ESMTP Postfix\r\n", "smtp", "smtp"),
    (b"220-mx.example ESMTP\r\n", "smtp", "smtp"),
    (b"220 ProFTPD Server (FTP) ready\r\n", "ftp", "ftp"),
    (b"+OK POP3 ready\r\n", "pop3", "pop3"),
    (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "imap", "imap"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", "ssh", None),
    (b"hello there\n", "text", None),
    (bytes(range(0, 64)), "binary", None),
])
def test_classify(data, kind, starttls):
    guess = classify(data)
    assert guess.kind == kind and guess.starttls == starttls


def test_classify_http_status_and_hostile_line_kept_as_data():
    guess = classify(b"HTTP/1.0 503 [red]x\x1b[0m\r\n")
    assert guess.http_status == 503
    assert "[red]x\x1b[0m" in guess.description


def test_decode_callback_names_messages_and_alerts():
    hello = decode_callback("write", 0x0304, 22, bytes([1, 0, 0, 4]) + b"abcd")
    assert (hello.direction, hello.name, hello.version, hello.length) == ("sent", "ClientHello", "TLS 1.3", 4)
    alert = decode_callback("read", 0x0303, 21, bytes([2, 112]))
    assert (alert.name, alert.alert_level, alert.alert_code) == ("alert: unrecognized_name", "fatal", 112)
    ccs = decode_callback("read", 0x0303, 256, bytes.fromhex("1403030001"))
    assert ccs.name == "ChangeCipherSpec" and ccs.direction == "received"
    assert decode_callback("read", 0x0303, 256, bytes.fromhex("1703030020")) is None
    unknown = decode_callback("read", 0x0303, 21, bytes([2, 200]))
    assert unknown.alert == "alert 200"

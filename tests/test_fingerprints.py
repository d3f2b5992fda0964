"""Fingerprints: pin-sha256 of every certificate's key, and JA3/JA4 of ClientHellos.

pin-sha256 is checked against openssl's pipeline (`x509 -pubkey | pkey -pubin -outform der | dgst
-sha256 -binary | base64`) and against curl itself: `curl --pinnedpubkey` accepts tlsbench's value
for a real server and refuses another key's. JA4 is checked against the worked example of its
specification (FoxIO's technical details), and JA3 and JA4 of real ClientHellos — tlsbench's own,
and curl's and openssl s_client's as the listener saw them — against tshark 4.0, which computes JA3
itself (it has no JA4: the test assembles JA4 from tshark's field values of the same bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings, strategies as st

from tlsbench.engine.tls.fingerprint import fingerprint, ja4_alpn, read_hello
from test_listener_support import require
from test_serve_cli import Serve

TLSBENCH = [sys.executable, "-m", "tlsbench"]


# --- building hellos -----------------------------------------------------------------------------

def _vec(size: int, data: bytes) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _ext(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("!HH", kind, len(data)) + data


def _u16s(values) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def hello_message(ciphers, extensions: list[tuple[int, bytes]], legacy: int = 0x0303) -> bytes:
    body = (struct.pack("!H", legacy) + bytes(32) + _vec(1, b"") + _vec(2, _u16s(ciphers)) + _vec(1, b"\0")
            + _vec(2, b"".join(_ext(k, d) for k, d in extensions)))
    return b"\x01" + len(body).to_bytes(3, "big") + body


# The JA4 specification's example (technical_details/JA4.md): ciphers and extensions in the hello's order.
SPEC_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
                0x009C, 0x009D, 0x002F, 0x0035]
SPEC_EXTENSIONS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023, 0x0012,
                   0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
SPEC_SIGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def spec_hello(sigs=SPEC_SIGS, grease: bool = True) -> bytes:
    data = {0x0000: _vec(2, b"\0" + _vec(2, b"www.example.com")),
            0x0010: _vec(2, _vec(1, b"h2") + _vec(1, b"http/1.1")),
            0x000D: _vec(2, _u16s(sigs)),
            0x002B: _vec(1, _u16s([0x3A3A, 0x0304, 0x0303])),
            0x000A: _vec(2, _u16s([0x8A8A, 0x001D, 0x0017, 0x0018])),
            0x000B: _vec(1, b"\0")}
    exts = [(k, data.get(k, b"")) for k in SPEC_EXTENSIONS]
    ciphers = list(SPEC_CIPHERS)
    if grease:  # GREASE anywhere changes nothing
        exts = [(0x0A0A, b"")] + exts + [(0xFAFA, b"\0")]
        ciphers = [0x5A5A] + ciphers
    return hello_message(ciphers, exts)


def test_ja4_of_the_specifications_example():
    prints = fingerprint(spec_hello())
    assert prints is not None
    assert prints.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert prints.ja4_r == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
        "0403,0804,0401,0503,0805,0501,0806,0601")
    assert fingerprint(spec_hello(grease=False)) == prints


def test_ja4_without_signature_algorithms_and_without_ciphers():
    # The specification's vector for a list with no signature algorithms: no trailing underscore.
    assert fingerprint(spec_hello(sigs=[])).ja4.endswith("_8daaf6152771_6d807ffa2a79")
    bare = fingerprint(hello_message([], [], legacy=0x0301))
    assert bare.ja4 == "t10i000000_000000000000_000000000000"
    assert bare.ja3 == "769,,,," and bare.ja3_hash == hashlib.md5(b"769,,,,").hexdigest()


@pytest.mark.parametrize("first, expected", [
    (b"h2", "h2"), (b"http/1.1", "h1"), (b"x", "xx"), (b"", "00"), (None, "00"),
    (b"\xab", "ab"), (b"\xab\xcd", "ad"), (b"\x30\xab", "3b"), (b"\x30\x31\xab\xcd", "3d"),
    (b"\x30\xab\xcd\x31", "01")])
def test_ja4_alpn_characters(first, expected):
    # Every example of the specification's ALPN rule, the hex rule for non-alphanumeric bytes included.
    assert ja4_alpn(first) == expected


def test_ja3_of_the_specifications_example():
    prints = fingerprint(spec_hello())
    ciphers = "-".join(str(c) for c in SPEC_CIPHERS)
    exts = "-".join(str(e) for e in SPEC_EXTENSIONS)
    assert prints.ja3 == f"771,{ciphers},{exts},29-23-24,0"
    assert prints.ja3_hash == hashlib.md5(prints.ja3.encode()).hexdigest()


def test_not_a_whole_hello_has_no_fingerprint():
    whole = spec_hello()
    assert fingerprint(whole[:-1]) is None
    assert fingerprint(b"\x02" + whole[1:]) is None
    assert fingerprint(whole + b"\0") is not None  # a second message after it is not part of it


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fingerprints_of_any_bytes_never_raise(data):
    for message in (data, b"\x01" + len(data).to_bytes(3, "big") + data):
        prints = fingerprint(message)
        assert prints is None or prints.ja4[0] == "t"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 0xFFFF), max_size=120),
       st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=30))
def test_fingerprints_of_any_parsed_hello_never_raise(ciphers, extensions):
    message = hello_message(ciphers, extensions)
    fields = read_hello(message)
    assert fields is not None and fields.ciphers == tuple(ciphers)
    prints = fingerprint(message)
    assert prints is not None
    head = prints.ja4.split("_")[0]
    assert len(head) == 10 and int(head[4:6]) == min(99, sum(1 for c in ciphers if (c & 0x0F0F) != 0x0A0A
                                                             or (c >> 8) != (c & 0xFF)))


# --- tshark: JA3 as it computes it, JA4 from its fields ------------------------------------------

FIELDS = ("tls.handshake.ja3_full", "tls.handshake.ja3", "tls.handshake.version", "tls.handshake.ciphersuite",
          "tls.handshake.extension.type", "tls.handshake.sig_hash_alg", "tls.handshake.extensions.supported_version",
          "tls.handshake.extensions_alpn_str", "tls.handshake.extensions_server_name")


def tshark_view(record: bytes, tmp_path) -> dict[str, list[str]]:
    """tshark's fields of a TLS record holding a ClientHello, from a capture text2pcap makes of it."""
    tshark, text2pcap = require("tshark"), require("text2pcap")
    dump = tmp_path / "hello.txt"
    dump.write_text("".join(f"{i:06x} " + " ".join(f"{b:02x}" for b in record[i:i + 16]) + "\n"
                            for i in range(0, len(record), 16)))
    pcap = tmp_path / "hello.pcap"
    subprocess.run([text2pcap, "-q", "-T", "50000,443", str(dump), str(pcap)], check=True, capture_output=True)
    args = [tshark, "-r", str(pcap), "-T", "fields", "-E", "separator=\t", "-E", "aggregator=,", "-E", "occurrence=a"]
    for name in FIELDS:
        args += ["-e", name]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    values = done.stdout.rstrip("\n").split("\t")
    assert len(values) == len(FIELDS), done.stdout
    return {name: [v for v in value.split(",") if v] for name, value in zip(FIELDS, values)}


def ja4_from_tshark(view: dict[str, list[str]]) -> str:
    """JA4 as the specification builds it, from tshark's decoding of the hello (not tlsbench's)."""
    def grease(v: int) -> bool:
        return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)

    def ints(name: str) -> list[int]:
        return [int(v, 0) for v in view[name]]

    versions = [v for v in ints("tls.handshake.extensions.supported_version") if not grease(v)]
    version = max(versions) if versions else ints("tls.handshake.version")[0]
    ciphers = [v for v in ints("tls.handshake.ciphersuite") if not grease(v)]
    exts = [v for v in ints("tls.handshake.extension.type") if not grease(v)]
    sigs = [v for v in ints("tls.handshake.sig_hash_alg") if not grease(v)]
    alpn = view["tls.handshake.extensions_alpn_str"][:1]
    first = alpn[0].encode() if alpn else b""
    letters = (first[:1] + first[-1:]).decode() if first else "00"
    head = (f"t{ {0x0304: '13', 0x0303: '12'}[version]}{'d' if 0 in exts else 'i'}"
            f"{len(ciphers):02d}{len(exts):02d}{letters}")
    cipher_text = ",".join(f"{v:04x}" for v in sorted(ciphers))
    ext_text = ",".join(f"{v:04x}" for v in sorted(v for v in exts if v not in (0, 16)))
    ext_text += "_" + ",".join(f"{v:04x}" for v in sigs) if sigs else ""

    def sha12(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    return f"{head}_{sha12(cipher_text)}_{sha12(ext_text)}"


def first_record(data: bytes) -> bytes:
    assert data[:1] == b"\x16", data[:16]
    return data[:5 + int.from_bytes(data[3:5], "big")]


def check_against_tshark(record: bytes, prints: dict, tmp_path) -> dict[str, list[str]]:
    view = tshark_view(record, tmp_path)
    assert view["tls.handshake.ja3_full"] == prints["ja3"].split(",")  # (split by the aggregator)
    assert view["tls.handshake.ja3"] == [prints["ja3_hash"]]
    assert ja4_from_tshark(view) == prints["ja4"]
    return view


def test_tlsbench_own_hello_against_tshark(tls_server, lab_certs, tmp_path):
    server = tls_server("good")
    done = subprocess.run(TLSBENCH + ["probe", f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert),
                                      "--alpn", "h2,http/1.1", "--json", "--msg"],
                          capture_output=True, text=True, timeout=60)
    result = json.loads(done.stdout)
    assert result["ok"], result["findings"]
    tls = next(s for s in result["stages"] if s["name"] == "tls")["detail"]
    prints = tls["client_hello"]
    assert set(prints) == {"ja3", "ja3_hash", "ja4", "ja4_r"}
    assert result["tls"]["client_hello"] == prints
    hello = bytes.fromhex(next(m for m in result["tls"]["messages"] if m["name"] == "ClientHello")["hex"])
    record = b"\x16\x03\x01" + len(hello).to_bytes(2, "big") + hello
    view = check_against_tshark(record, prints, tmp_path)
    assert view["tls.handshake.extensions_alpn_str"] == ["h2", "http/1.1"]
    assert prints["ja4"].startswith("t13d") and prints["ja4"][8:10] == "h2"
    verbose = subprocess.run(TLSBENCH + ["probe", f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert),
                                         "--alpn", "h2,http/1.1", "-v"], capture_output=True, text=True, timeout=60)
    assert f"JA4 {prints['ja4']}" in verbose.stdout and prints["ja3_hash"] in verbose.stdout


class Relay:
    """Forwards one client's connection to the listener and keeps what the client sent."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            client, _ = self.sock.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.target))

        def pipe(src: socket.socket, dst: socket.socket, keep: bool) -> None:
            try:
                while chunk := src.recv(65536):
                    if keep:
                        self.sent += chunk
                    dst.sendall(chunk)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pipe, args=(upstream, client, False), daemon=True).start()
        pipe(client, upstream, True)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(tmp_path):
    import os

    env = {**os.environ, "TLSBENCH_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    serve = Serve(["--tls", "--port", "0", "--http"], env)
    yield serve
    serve.stop()


@pytest.mark.parametrize("client", ["curl", "s_client", "s_client-no-sni"])
def test_listener_fingerprints_real_clients_as_tshark_does(listener, client, tmp_path):
    cert = listener.wait_event("certificate")["cert"]
    port = listener.wait_event("listening")["port"]
    relay = Relay(port)
    try:
        if client == "curl":
            args = [require("curl"), "-sS", "--max-time", "10", "--http1.1", "--cacert", cert, "-o", "/dev/null",
                    "--connect-to", f"localhost:443:127.0.0.1:{relay.port}", "https://localhost/"]
        else:
            args = [require("openssl"), "s_client", "-connect", f"127.0.0.1:{relay.port}", "-CAfile", cert,
                    "-alpn", "h2,http/1.1"]
            args += ["-noservername"] if client.endswith("no-sni") else ["-servername", "localhost"]
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
    finally:
        relay.close()
    hello = listener.wait_event("client-hello")
    record = first_record(bytes(relay.sent))
    view = check_against_tshark(record, hello, tmp_path)
    assert hello["ja4"][3] == ("i" if client.endswith("no-sni") else "d")
    assert hello["ja4"][8:10] == ("h1" if client == "curl" else "h2")
    assert hello["ja4_r"].startswith(hello["ja4"][:10] + "_")
    assert view["tls.handshake.ja3"] == [hello["ja3_hash"]]


def test_serve_line_names_the_fingerprints(tmp_path):
    import os

    env = {**os.environ, "TLSBENCH_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(TLSBENCH + ["serve", "--tls", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    try:
        lines = []
        while not (line := proc.stdout.readline()).startswith("listening on "):
            lines.append(line)
        port = int(line.split()[2].rsplit(":", 1)[1].rstrip(";"))
        subprocess.run([require("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "lab.test"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        while "ClientHello" not in (line := proc.stdout.readline()):
            pass
    finally:
        proc.send_signal(__import__("signal").SIGINT)
        proc.communicate(timeout=10)
    assert "; JA4 t13d" in line and ", JA3 " in line


# --- pin-sha256 ------------------------------------------------------------------------------------

def openssl_pin(pem: str) -> str:
    """openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"""
    openssl = require("openssl")
    pub = subprocess.run([openssl, "x509", "-pubkey", "-noout"], input=pem.encode(), capture_output=True, check=True)
    der = subprocess.run([openssl, "pkey", "-pubin", "-outform", "der"], input=pub.stdout, capture_output=True,
                         check=True)
    digest = subprocess.run([openssl, "dgst", "-sha256", "-binary"], input=der.stdout, capture_output=True,
                            check=True)
    return "sha256//" + base64.b64encode(digest.stdout).decode()


def test_pin_sha256_of_every_certificate_matches_openssl_and_curl_accepts_it(nginx_h2, lab_certs):
    target = f"localhost:{nginx_h2.port}"
    done = subprocess.run(TLSBENCH + ["probe", target, "--cafile", str(lab_certs.ca_cert), "--json"],
                          capture_output=True, text=True, timeout=60)
    result = json.loads(done.stdout)
    assert result["ok"], result["findings"]
    chain = next(s for s in result["stages"] if s["name"] == "chain")["detail"]
    certs = chain["certificates"]
    assert len(certs) == 2  # the leaf and the intermediate nginx sends
    for cert in certs:
        assert cert["pin_sha256"] == openssl_pin(cert["pem"])
    assert certs[0]["pin_sha256"] != certs[1]["pin_sha256"]
    curl = require("curl")

    def curl_with(pin: str) -> int:
        return subprocess.run([curl, "-sS", "-o", "/dev/null", "--max-time", "10", "--cacert", str(lab_certs.ca_cert),
                               "--pinnedpubkey", pin, f"https://{target}/"], capture_output=True).returncode

    assert curl_with(certs[0]["pin_sha256"]) == 0
    assert curl_with(certs[1]["pin_sha256"]) == 90  # CURLE_SSL_PINNEDPUBKEYNOTMATCH: curl pins the leaf's key
    plain = subprocess.run(TLSBENCH + ["probe", target, "--cafile", str(lab_certs.ca_cert)],
                           capture_output=True, text=True, timeout=60)
    assert f"  pin    {certs[0]['pin_sha256']}" in plain.stdout
    verbose = subprocess.run(TLSBENCH + ["probe", target, "--cafile", str(lab_certs.ca_cert), "-v"],
                             capture_output=True, text=True, timeout=60)
    for cert in certs:
        assert f"#{cert['position']} {cert['pin_sha256']}" in verbose.stdout


def test_cert_command_shows_the_listeners_pin(tmp_path):
    import os

    env = {**os.environ, "TLSBENCH_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(TLSBENCH + ["cert", "--json"], capture_output=True, text=True, env=env, timeout=60)
    info = json.loads(done.stdout)
    pem = open(info["cert"]).read()
    assert info["pin_sha256"] == openssl_pin(pem)
    shown = subprocess.run(TLSBENCH + ["cert", "--show"], capture_output=True, text=True, env=env, timeout=60)
    assert f"pin-sha256   {info['pin_sha256']}" in shown.stdout


# --- the workbench and saved runs ------------------------------------------------------------------

def test_workbench_and_saved_runs_show_pins_and_fingerprints(tls_server, lab_certs, tmp_path):
    from tlsbench.engine.listener.events import ClientHelloSeen
    from tlsbench.engine.records.runfile import read_run
    from tlsbench.tui.listener.client_details import render_record
    from tlsbench.tui.listener.records import ClientRecord
    from tlsbench.tui.stage_text import detail_text
    from tlsbench.tui.widgets.chain_tree import ChainTree

    server = tls_server("good")
    saved = tmp_path / "run.json"
    done = subprocess.run(TLSBENCH + ["probe", f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert),
                                      "--save-run", str(saved)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = read_run(str(saved)).result  # what was saved reads back with both
    tls, chain = result.tls, result.chain
    assert tls.client_hello is not None and tls.client_hello.ja4.startswith("t13d")
    assert all(c.pin_sha256.startswith("sha256//") for c in chain.certificates)
    assert f"JA4           {tls.client_hello.ja4}" in detail_text(tls).plain

    tree = ChainTree()
    tree.show_chain(chain)

    def labels(node):
        yield str(node.label)
        for child in node.children:
            yield from labels(child)

    shown = list(labels(tree.root))
    for cert in chain.certificates:
        assert f"pin-sha256    {cert.pin_sha256}" in shown

    prints = fingerprint(spec_hello())
    record = ClientRecord(1, True)
    record.apply(ClientHelloSeen(1, "www.example.com", ("h2",), ("TLS 1.3",), 15, **prints.to_dict()))
    text = render_record(record).plain
    lines = [line.split() for line in text.splitlines()]
    assert ["JA4", prints.ja4] in lines and ["JA3", prints.ja3_hash] in lines

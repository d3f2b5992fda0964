"""--pcap FILE with real servers and real tshark: the file opens decrypted with no key log option (HTTP/1.1
and HTTP/2), holds the run's real addresses and ports (IPv4 and IPv6), keeps the TCP stream whole
(no analysis flags) while a proxy password is masked in place (HTTP CONNECT and SOCKS5, in every form),
is written 0600 also when the handshake failed, splits a write above 65,495 bytes, and refuses a bad path
in one line."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys

import pytest

import pcapng_reader as reader
from conftest import need, need_binary
from secret_search import secret_pieces

pytestmark = pytest.mark.servers


def probe(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=90, env=env, stdin=subprocess.DEVNULL)


def tshark(path, display_filter: str, *fields: str, decode: str | None = None) -> list[str]:
    """The lines tshark prints for the packets the filter keeps (the given fields, tab-separated);
    `decode` as tshark's -d (a proxy on a port tshark does not know)."""
    args = [need_binary("tshark"), "-r", str(path), "-Y", display_filter, *(("-d", decode) if decode else ())]
    if fields:
        args += ["-T", "fields", *[a for f in fields for a in ("-e", f)]]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line.strip()]


def assert_whole(path) -> None:
    """tshark finds nothing wrong with the TCP streams (no retransmission, lost segment, bad ACK, ...) and,
    asked to check them, every IP and TCP checksum is good."""
    assert tshark(path, "tcp.analysis.flags") == []
    checked = subprocess.run([need_binary("tshark"), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                              "-r", str(path), "-T", "fields", "-e", "tcp.checksum.status", "-e", "ip.checksum.status",
                              "-e", "ipv6.src"], capture_output=True, text=True, timeout=60)
    statuses = {tuple(line.split("\t")[:2]) for line in checked.stdout.splitlines()}
    assert statuses in ({("1", "1")}, {("1", "")}), statuses  # IPv6 has no header checksum
    assert all(reader.segment(p.data).checksums_ok for p in reader.packets(path.read_bytes()))


def assert_no_secret(path, user: str, password: str) -> None:
    """No piece of any form of the password: a piece the masked Basic token holds as well (the user's part,
    up to the colon's bits) tells nothing of it."""
    data = path.read_bytes()
    masked = base64.b64encode(f"{user}:{'*' * len(password)}".encode())
    for piece in secret_pieces(user, password) | {password.encode(), base64.b64encode(f"{user}:{password}".encode())}:
        assert piece not in data or piece in masked, piece


def test_http11_over_tls_opens_decrypted_with_the_runs_own_ports(nginx_h2, lab_certs, tmp_path):
    pcap = tmp_path / "run.pcapng"
    out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--json",
                "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(pcap.stat().st_mode) == 0o600
    assert "it holds the TLS session secrets" in out.stderr
    assert tshark(pcap, "http", "http.request.method", "http.response.code") == ["GET\t", "\t200"]
    tcp = next(s for s in json.loads(out.stdout)["stages"] if s["name"] == "tcp")["detail"]
    syn = tshark(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport")
    assert syn == [f"{tcp['local_address']}\t{tcp['local_port']}\t{tcp['peer_address']}\t{tcp['peer_port']}"]
    assert_whole(pcap)


def test_http2_opens_decrypted(nginx_h2, lab_certs, tmp_path):
    pcap = tmp_path / "h2.pcapng"
    out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http2", "--http",
                "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    assert tshark(pcap, "http2.type == 1", "http2.headers.path")[:1] == ["/"]
    assert tshark(pcap, "http2.headers.status == 200")
    assert_whole(pcap)


def test_an_http_proxy_password_is_masked_and_the_stream_holds(squid_proxy_auth, nginx_h2, lab_certs, tmp_path):
    pcap = tmp_path / "proxied.pcapng"
    user, password = squid_proxy_auth.username, squid_proxy_auth.password
    out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http",
                "--proxy", squid_proxy_auth.url, "--proxy-user", f"{user}:{password}", "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    assert_no_secret(pcap, user, password)
    assert tshark(pcap, "http.request.method == \"CONNECT\"", "http.authbasic") == [f"{user}:{'*' * len(password)}"]
    assert tshark(pcap, "http.request.method == \"GET\"", "http.request.uri") == ["/"]  # the TLS inside, decrypted
    assert_whole(pcap)


def test_a_socks5_password_is_masked_and_the_stream_holds(microsocks_auth, nginx_h2, lab_certs, tmp_path):
    pcap = tmp_path / "socks.pcapng"
    user, password = microsocks_auth.username, microsocks_auth.password
    out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http",
                "--socks5", microsocks_auth.address, "--proxy-user", f"{user}:{password}", "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    assert_no_secret(pcap, user, password)
    socks = f"tcp.port=={microsocks_auth.port},socks"
    assert tshark(pcap, "socks.password", "socks.username", "socks.password", decode=socks) == [
        f"{user}\t{'*' * len(password)}"]
    assert tshark(pcap, "http", "http.request.method", "http.response.code") == ["GET\t", "\t200"]
    assert_whole(pcap)


def test_the_secrets_of_tls_to_a_proxy_that_carried_the_password_are_left_out(server_cert, nginx_h2, lab_certs,
                                                                              tmp_path):
    from tlsbench.lab.http_proxies import SquidOptions, squid

    proxy = need(squid, SquidOptions(https_cert=server_cert("squid-https-auth", "proxy.lab.test"),
                                     username="tlsuser", password="Tq9-vault-Zr"))
    try:
        pcap = tmp_path / "https-proxy.pcapng"
        out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http",
                    "--proxy", proxy.url, "--proxy-cacert", str(lab_certs.ca_cert),
                    "--proxy-user", "tlsuser:Tq9-vault-Zr", "--pcap", str(pcap))
    finally:
        proxy.stop()
    assert out.returncode == 0, out.stderr
    assert "the TLS secrets of 1 session(s) are left out" in out.stderr
    assert_no_secret(pcap, "tlsuser", "Tq9-vault-Zr")
    secrets = reader.secrets(pcap.read_bytes())
    assert secrets  # the target's session is there (it rides inside the proxy's, which stays closed)
    assert tshark(pcap, "http") == []  # nothing inside the proxy's TLS can be read: not its CONNECT either
    assert_whole(pcap)


def test_ipv6_loopback(lab_certs, tmp_path):
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good), host="::1", prefix=tmp_path / "nginx6")
    try:
        pcap = tmp_path / "v6.pcapng"
        out = probe(f"[::1]:{server.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--pcap", str(pcap))
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    assert tshark(pcap, "ipv6.src == ::1 && tcp.dstport == %d && tcp.flags.syn == 1" % server.port)
    assert tshark(pcap, "http", "http.request.method") == ["GET"]
    assert tshark(pcap, "ip") == []
    assert_whole(pcap)


def test_a_failed_handshake_is_written_too(tls_server, lab_certs, tmp_path):
    server = tls_server("expired")
    pcap = tmp_path / "failed.pcapng"
    pcap.write_bytes(b"an older capture")
    os.chmod(pcap, 0o644)
    out = probe(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--pcap", str(pcap))
    assert out.returncode == 1
    assert stat.S_IMODE(pcap.stat().st_mode) == 0o600  # replaced, and private whatever the old file allowed
    assert tshark(pcap, "tls.handshake.type == 1")  # the ClientHello
    assert tshark(pcap, "tls.handshake.type == 11")  # the server's Certificate, decrypted (TLS 1.3)
    assert tshark(pcap, "tls.alert_message.desc == 45", "ip.src") == ["127.0.0.1"]  # our certificate_expired
    assert_whole(pcap)


def test_a_write_above_the_largest_segment_is_split(nginx_h2, lab_certs, tmp_path):
    pcap = tmp_path / "big.pcapng"
    body = "x" * 100_000
    request = f"POST / HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n{body}"
    out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--send", request,
                "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    assert tshark(pcap, "tcp.len == 65495")  # the ~100 KB of TLS records went in one write
    assert tshark(pcap, "tcp.len > 65495") == []
    assert tshark(pcap, "http", "http.request.method") == ["POST"]  # reassembled across the segments
    assert_whole(pcap)


@pytest.mark.parametrize("case", ["directory", "symlink", "no folder", "fifo", "stdout"])
def test_a_bad_path_is_one_line_before_any_run(case, tmp_path):
    path = tmp_path / "x.pcapng"
    if case == "stdout":
        path = "-"
    elif case == "directory":
        path.mkdir()
    elif case == "symlink":
        (tmp_path / "elsewhere").write_bytes(b"keep me")
        path.symlink_to(tmp_path / "elsewhere")
    elif case == "fifo":
        os.mkfifo(path)
    else:
        path = tmp_path / "missing" / "x.pcapng"
    out = probe("localhost:1", "--pcap", str(path))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("tlsbench probe: error: --pcap ")
    assert "Traceback" not in out.stderr and out.stdout == ""
    if case == "symlink":
        assert (tmp_path / "elsewhere").read_bytes() == b"keep me" and "symbolic link" in out.stderr


@pytest.mark.parametrize("extra", [["--count", "2"], ["--enumerate"], ["--watch", "1"]])
def test_batches_and_the_enumeration_are_refused(extra, tmp_path):
    out = probe("localhost:1", "--pcap", str(tmp_path / "x.pcapng"), *extra)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "--pcap captures one run" in out.stderr
    assert not (tmp_path / "x.pcapng").exists()


def test_with_keylog_too_both_get_the_same_secrets(nginx_h2, lab_certs, tmp_path):
    pcap, keylog = tmp_path / "both.pcapng", tmp_path / "keys.log"
    out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--keylog", str(keylog),
                "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    logged = [line for line in keylog.read_bytes().splitlines() if line and not line.startswith(b"#")]
    assert logged and logged == reader.secrets(pcap.read_bytes()).splitlines()
    assert stat.S_IMODE(keylog.stat().st_mode) == 0o600


def test_every_connection_of_the_run_is_there_with_its_own_port(nginx_h2, lab_certs, tmp_path):
    pcap = tmp_path / "reconnect.pcapng"
    out = probe(f"localhost:{nginx_h2.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--reconnect",
                "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    assert "(2 connections)" in out.stderr
    ports = tshark(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.srcport")
    assert len(ports) == 2 and len(set(ports)) == 2
    assert len(tshark(pcap, "tls.handshake.type == 1")) == 2
    assert tshark(pcap, "http", "http.request.method") == ["GET"]
    assert_whole(pcap)


def test_a_reset_by_the_peer_is_its_rst(reset_server, tmp_path):
    pcap = tmp_path / "reset.pcapng"
    out = probe(f"127.0.0.1:{reset_server.port}", "--insecure", "--pcap", str(pcap))
    assert out.returncode == 1
    assert tshark(pcap, "tcp.flags.reset == 1", "tcp.srcport") == [str(reset_server.port)]
    assert tshark(pcap, "tls.handshake.type == 1")  # what it reset: the ClientHello
    assert tshark(pcap, "tcp.flags.fin == 1") == []  # no close of ours after the reset
    assert_whole(pcap)


def test_starttls_shows_the_plain_dialogue_then_the_tls_inside_decrypted(smtp_tls, lab_certs, tmp_path):
    pcap = tmp_path / "smtp.pcapng"
    out = probe(smtp_tls.address, "--starttls", "smtp", "--cafile", str(lab_certs.ca_cert), "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    decode = f"tcp.port=={smtp_tls.port},smtp"
    commands = tshark(pcap, "smtp.req.command", "smtp.req.command", decode=decode)
    assert commands[:2] == ["EHLO", "STAR"]  # (tshark names a command by 4 letters) in clear, then the handshake
    assert tshark(pcap, "tls.handshake.type == 1", decode=decode)
    assert len(commands) == 3 and commands[2] == "EHLO"  # asked again over TLS: decrypted
    assert_whole(pcap)


def test_a_key_log_that_cannot_be_made_costs_the_secrets_not_the_run(nginx_h2, lab_certs, monkeypatch):
    from tlsbench.engine.capture import keylog
    from tlsbench.engine.capture.pcapng import notes
    from tlsbench.engine.capture.taps import Capture
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    def refuse(self) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keylog.PrivateKeyLog, "__init__", refuse)
    capture = Capture()
    result = run_probe(build_spec(f"localhost:{nginx_h2.port}", cafile=str(lab_certs.ca_cert), http=True),
                       capture=capture)
    assert result.ok
    captured = capture.finished()
    assert captured.key_lines == () and captured.chunks
    assert notes(captured) == ["tlsbench: the TLS secrets of 1 session(s) could not be read (no private key log "
                               "could be made)"]


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_each_tls_version_opens_decrypted(tls_server, lab_certs, tmp_path, version):
    server = tls_server("good", tls_version=version)
    pcap = tmp_path / f"tls{version}.pcapng"
    out = probe(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    labels = {line.split()[0] for line in reader.secrets(pcap.read_bytes()).decode().splitlines()}
    assert labels == ({"CLIENT_RANDOM"} if version == "1.2" else
                      {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                       "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"})
    assert tshark(pcap, "http", "http.request.method") == ["GET"]
    assert_whole(pcap)


def test_a_cancelled_handshake_still_removes_its_key_log(silent_server, monkeypatch):
    from tlsbench.engine.cancel import CancelToken
    from tlsbench.engine.capture import keylog
    from tlsbench.engine.capture.taps import SENT, Capture
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    token = CancelToken()

    class CancelAfterTheHello(Capture):
        def add(self, index: int, what: str, data: bytes) -> None:
            super().add(index, what, data)
            if what == SENT:
                token.cancel()  # as Ctrl-C while the handshake waits for the server

    folders: list[str] = []
    made = keylog.PrivateKeyLog.__init__

    def watched(self) -> None:
        made(self)
        folders.append(os.path.dirname(self.path))

    monkeypatch.delattr(os, "memfd_create", raising=False)  # the temporary-folder form, to see it go
    monkeypatch.setattr(keylog.PrivateKeyLog, "__init__", watched)
    capture = CancelAfterTheHello()
    result = run_probe(build_spec(f"127.0.0.1:{silent_server.port}", insecure=True), cancel=token, capture=capture)
    assert result.cancelled
    assert len(folders) == 1 and not os.path.exists(folders[0])
    sent = [c.data for c in capture.finished().chunks if c.what == SENT]
    assert len(sent) == 1 and sent[0][:1] == b"\x16"  # the ClientHello is in the capture


def test_a_large_response_keeps_the_stream_whole(lab_certs, tmp_path):
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2_000_000))
    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good, extra=f"location = /big {{ alias {big}; }}"),
                  prefix=tmp_path / "nginx-big")
    try:
        pcap = tmp_path / "large.pcapng"
        out = probe(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--http", "--path", "/big",
                    "--pcap", str(pcap))
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    received = [len(reader.segment(p.data).payload) for p in reader.packets(pcap.read_bytes())
                if reader.segment(p.data).sport == server.port]
    assert sum(received) > 4096 and max(received) <= 65495  # reads of up to 64 KiB, segments of at most 65,495
    assert tshark(pcap, "http.request.uri == \"/big\"")
    assert_whole(pcap)


def test_quic_opens_decrypted_with_its_own_secrets(caddy_h3, lab_certs, tmp_path):
    """--http3-only: the QUIC connection is UDP frames in the file, and aioquic's secrets are in its
    Decryption Secrets Block, so tshark decrypts the handshake and the HTTP/3 streams."""
    pcap = tmp_path / "quic.pcapng"
    out = probe(f"localhost:{caddy_h3.port}", "--cafile", str(lab_certs.ca_cert), "--http3-only",
                "--pcap", str(pcap))
    assert out.returncode == 0, out.stderr
    assert tshark(pcap, "quic.decryption_failed") == []
    # The server's Certificate travels in QUIC's encrypted Handshake packets: read only with the secrets.
    assert tshark(pcap, "tls.handshake.type == 11", "tls.handshake.type") != []
    assert tshark(pcap, "quic.stream_data", "udp.srcport") != []

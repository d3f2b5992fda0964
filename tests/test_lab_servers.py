"""The lab's servers and certificates, checked with real clients (Python ssl, curl, openssl)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import struct
import subprocess

import pytest
from cryptography import x509

from conftest import MICROSOCKS_PASSWORD, MICROSOCKS_USER, need, need_binary
from tlsbench.lab.processes import ManagedProcess, ServerStartError, ServerUnavailable, free_port, require_binary
from tlsbench.lab.tiny_servers import BANNERS

pytestmark = pytest.mark.servers


def handshake(server, certs, name="localhost", *, sni=True, client_cert=None, read=False, **ctx_attrs):
    """Connect with Python's ssl trusting the lab CA; returns the TLS socket's facts or raises."""
    ctx = ssl.create_default_context(cafile=str(certs.ca_cert))
    for attr, value in ctx_attrs.items():
        setattr(ctx, attr, value)
    if client_cert is not None:
        ctx.load_cert_chain(str(client_cert.cert), str(client_cert.key))
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name if sni else None) as tls:
            if read:  # TLS 1.3: the server judges a client certificate after the handshake
                tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                tls.recv(100)
            cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
            return {"version": tls.version(), "cipher": tls.cipher()[0], "alpn": tls.selected_alpn_protocol(),
                    "cn": cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value,
                    "not_after": cert.not_valid_after_utc}


def verify_code(server, certs, name="localhost") -> int:
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        handshake(server, certs, name)
    return info.value.verify_code


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([need_binary("curl"), "-sS", "--max-time", "10", *args],
                          capture_output=True, text=True, timeout=30)


# --- certificates ---------------------------------------------------------------------------------

def test_good_leaf_names_and_chain(lab_certs):
    leaf = x509.load_pem_x509_certificate(lab_certs.good.cert.read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "www.lab.test"} <= set(sans.get_values_for_type(x509.DNSName))
    assert {str(a) for a in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    chain = x509.load_pem_x509_certificates(lab_certs.good.chain.read_bytes())
    inter = x509.load_pem_x509_certificate(lab_certs.intermediate_cert.read_bytes())
    root = x509.load_pem_x509_certificate(lab_certs.ca_cert.read_bytes())
    assert [c.subject for c in chain] == [leaf.subject, inter.subject]
    assert leaf.issuer == inter.subject and inter.issuer == root.subject
    assert len(x509.load_pem_x509_certificates(lab_certs.good.cert.read_bytes())) == 1


def test_openssl_verify_agrees_with_each_fault(lab_certs):
    openssl = need_binary("openssl")

    def verify(files) -> str:
        out = subprocess.run([openssl, "verify", "-CAfile", str(lab_certs.ca_cert), "-untrusted",
                              str(lab_certs.intermediate_cert), str(files.cert)], capture_output=True, text=True)
        return out.stdout + out.stderr

    assert ": OK" in verify(lab_certs.good)
    assert "error 10 " in verify(lab_certs.expired)
    assert "error 9 " in verify(lab_certs.not_yet_valid)
    assert "error 18 " in verify(lab_certs.self_signed)
    assert "error 20 " in verify(lab_certs.unknown_ca)
    assert ": OK" in verify(lab_certs.expiring_soon)


def test_expiring_soon_and_key_files(lab_certs):
    leaf = x509.load_pem_x509_certificate(lab_certs.expiring_soon.cert.read_bytes())
    left = leaf.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    assert 9 <= left.days <= 10
    assert lab_certs.good.key.stat().st_mode & 0o077 == 0
    rsa_leaf = x509.load_pem_x509_certificate(lab_certs.good_rsa.cert.read_bytes())
    assert rsa_leaf.public_key().key_size == 2048


# --- openssl s_server -----------------------------------------------------------------------------

def test_s_server_good_chain(tls_server, lab_certs):
    facts = handshake(tls_server(), lab_certs)
    assert facts["cn"] == "localhost" and facts["version"] == "TLSv1.3"


def test_s_server_http_status_page(tls_server, lab_certs):
    server = tls_server()
    result = curl("--cacert", str(lab_certs.ca_cert), f"https://localhost:{server.port}/")
    assert result.returncode == 0, result.stderr
    assert "s_server" in result.stdout


@pytest.mark.parametrize("cert, send_chain, name, code", [
    ("good", False, "localhost", 20),  # missing intermediate
    ("expired", True, "localhost", 10),
    ("not_yet_valid", True, "localhost", 9),
    ("self_signed", True, "localhost", 18),
    ("unknown_ca", True, "localhost", 20),
    ("wrong_host", True, "localhost", 62),
    ("good", True, "nothere.test", 62),
])
def test_s_server_certificate_faults(tls_server, lab_certs, cert, send_chain, name, code):
    assert verify_code(tls_server(cert, send_chain=send_chain), lab_certs, name) == code


def test_s_server_sni_strict(tls_server, lab_certs):
    server = tls_server(sni_name="alt.test", sni_cert="alt", sni_fatal=True)
    assert handshake(server, lab_certs, "alt.test")["cn"] == "alt.test"
    with pytest.raises(ssl.SSLError) as info:
        handshake(server, lab_certs, "other.test")
    assert info.value.reason == "TLSV1_UNRECOGNIZED_NAME"
    # Without SNI, s_server falls back to its default certificate (nginx does not: see below).
    assert handshake(server, lab_certs, "localhost", sni=False, check_hostname=False)["cn"] == "localhost"


def test_s_server_requires_client_cert(tls_server, lab_certs):
    server = tls_server(client_ca=True)
    with pytest.raises((ssl.SSLError, ConnectionResetError)) as info:
        handshake(server, lab_certs, read=True)
    assert "CERTIFICATE_REQUIRED" in str(info.value) or isinstance(info.value, ConnectionResetError)
    assert handshake(server, lab_certs, client_cert=lab_certs.client, read=True)["cn"] == "localhost"


def test_s_server_client_cert_with_s_client(tls_server, lab_certs):
    openssl = need_binary("openssl")
    server = tls_server(client_ca=True, tls_version="1.2")
    base = [openssl, "s_client", "-connect", f"127.0.0.1:{server.port}", "-CAfile", str(lab_certs.ca_cert),
            "-servername", "localhost", "-verify_return_error"]
    ok = subprocess.run(base + ["-cert", str(lab_certs.client.cert), "-key", str(lab_certs.client.key)],
                        input="Q\n", capture_output=True, text=True, timeout=20)
    assert "Verify return code: 0 (ok)" in ok.stdout
    refused = subprocess.run(base, input="Q\n", capture_output=True, text=True, timeout=20)
    assert refused.returncode != 0
    assert "alert handshake failure" in refused.stderr or "certificate required" in refused.stderr


def test_s_server_version_cipher_alpn(tls_server, lab_certs):
    server = tls_server(tls_version="1.2", cipher="ECDHE-ECDSA-AES128-GCM-SHA256", alpn="h2,http/1.1")
    ctx_alpn = ssl.create_default_context(cafile=str(lab_certs.ca_cert))
    ctx_alpn.set_alpn_protocols(["http/1.1"])
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with ctx_alpn.wrap_socket(raw, server_hostname="localhost") as tls:
            assert (tls.version(), tls.cipher()[0], tls.selected_alpn_protocol()) == \
                ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "http/1.1")
    with pytest.raises(ssl.SSLError) as info:
        handshake(server, lab_certs, minimum_version=ssl.TLSVersion.TLSv1_3)
    assert info.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


def test_s_server_no_shared_cipher(tls_server, lab_certs):
    server = tls_server(tls_version="1.2", cipher="ECDHE-ECDSA-CHACHA20-POLY1305")
    ctx = ssl.create_default_context(cafile=str(lab_certs.ca_cert))
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError) as info:
        with socket.create_connection((server.host, server.port), timeout=5) as raw:
            ctx.wrap_socket(raw, server_hostname="localhost")
    assert info.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_s_server_rev_mode_and_tls13_suites(tls_server, lab_certs):
    server = tls_server(mode="rev", ciphersuites="TLS_CHACHA20_POLY1305_SHA256")
    ctx = ssl.create_default_context(cafile=str(lab_certs.ca_cert))
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.cipher()[0] == "TLS_CHACHA20_POLY1305_SHA256"
            tls.sendall(b"hello lab\n")
            answer = b""
            while b"\n" not in answer:
                answer += tls.recv(100)
    assert answer.strip() == b"bal olleh"


def test_s_server_no_tls13(tls_server, lab_certs):
    assert handshake(tls_server(no_tls1_3=True), lab_certs)["version"] == "TLSv1.2"


# --- nginx ----------------------------------------------------------------------------------------

def test_nginx_serves_its_name(nginx_sni_strict, lab_certs):
    port = nginx_sni_strict.port
    result = curl("--cacert", str(lab_certs.ca_cert), "--resolve", f"www.lab.test:{port}:127.0.0.1",
                  f"https://www.lab.test:{port}/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from www.lab.test (tlsbench lab nginx)\n"


def test_nginx_rejects_no_sni_and_unknown_name(nginx_sni_strict, lab_certs):
    for kwargs in ({"sni": False, "check_hostname": False}, {"name": "other.test"}):
        with pytest.raises(ssl.SSLError) as info:
            handshake(nginx_sni_strict, lab_certs, **kwargs)
        assert info.value.reason == "TLSV1_UNRECOGNIZED_NAME"


# --- SOCKS proxies --------------------------------------------------------------------------------

def socks5_connect(proxy, host: str, port: int, auth: tuple[str, str] | None = None) -> int:
    """A raw SOCKS5 CONNECT; returns the proxy's reply code (0 = succeeded)."""
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as s:
        s.sendall(b"\x05\x01" + (b"\x02" if auth else b"\x00"))
        ver, method = s.recv(2)
        assert ver == 5
        if method == 2:
            user, password = (x.encode() for x in auth)
            s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
            assert s.recv(2)[1] == 0
        elif method != 0:
            return -method
        s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack("!H", port))
        return s.recv(10)[1]


def socks4_connect(proxy, host: str, port: int) -> int:
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as s:
        s.sendall(b"\x04\x01" + struct.pack("!H", port) + socket.inet_aton(host) + b"lab\x00")
        return s.recv(8)[1]  # 90 granted, 91 rejected or failed


@pytest.mark.parametrize("fixture", ["microsocks", "dante", "pproxy_socks5"])
def test_socks5_proxy_reaches_plain_http(request, fixture, plain_http):
    proxy = request.getfixturevalue(fixture)
    result = curl("--socks5-hostname", proxy.address, f"http://127.0.0.1:{plain_http.port}/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain_http.body.decode()


def test_socks5_proxy_reports_target_refused(microsocks, dante, closed_port):
    assert socks5_connect(dante, closed_port.host, closed_port.port) == 5
    assert socks5_connect(microsocks, closed_port.host, closed_port.port) == 5


def test_dante_socks4(dante, plain_http, closed_port):
    result = curl("--socks4", dante.address, f"http://127.0.0.1:{plain_http.port}/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain_http.body.decode()
    assert socks4_connect(dante, "127.0.0.1", plain_http.port) == 90
    assert socks4_connect(dante, closed_port.host, closed_port.port) == 91


def test_microsocks_auth(microsocks_auth, plain_http):
    url = f"http://127.0.0.1:{plain_http.port}/"
    assert (microsocks_auth.username, microsocks_auth.password) == (MICROSOCKS_USER, MICROSOCKS_PASSWORD)
    ok = curl("--socks5", microsocks_auth.address, "--proxy-user", f"{MICROSOCKS_USER}:{MICROSOCKS_PASSWORD}", url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == plain_http.body.decode()
    # No acceptable method offered: the proxy answers 0xFF.
    assert socks5_connect(microsocks_auth, "127.0.0.1", plain_http.port) == -0xFF
    assert socks5_connect(microsocks_auth, "127.0.0.1", plain_http.port,
                          auth=(MICROSOCKS_USER, MICROSOCKS_PASSWORD)) == 0


# --- in-process servers ---------------------------------------------------------------------------

def test_plain_http_answers_http_and_tls(plain_http, lab_certs):
    with socket.create_connection((plain_http.host, plain_http.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ssl.SSLError) as info:
        handshake(plain_http, lab_certs)
    assert info.value.reason == "WRONG_VERSION_NUMBER"
    with socket.create_connection((plain_http.host, plain_http.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello")
        assert s.recv(100).startswith(b"HTTP/1.1 400 Bad Request\r\n")


@pytest.mark.parametrize("protocol", sorted(BANNERS))
def test_banner_server(banner_server, protocol):
    server = banner_server(protocol)
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        assert s.recv(200) == BANNERS[protocol][0]
        s.sendall(b"\x16\x03\x01\x00\x05hello")
        assert s.recv(200) == BANNERS[protocol][1]


def test_banner_server_custom(banner_server):
    server = banner_server(banner=b"* hello \x1b[31m\r\n")
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        assert s.recv(200) == b"* hello \x1b[31m\r\n"


def test_silent_server_never_answers(silent_server):
    with socket.create_connection((silent_server.host, silent_server.port), timeout=5) as s:
        s.sendall(b"hello?")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(10)
    assert silent_server.accepted == 1


def test_closed_port_refuses(closed_port):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((closed_port.host, closed_port.port), timeout=5)


def test_reset_server_resets(reset_server):
    with socket.create_connection((reset_server.host, reset_server.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01 hello")
        with pytest.raises(ConnectionResetError):
            s.recv(10)
    assert reset_server.seen.first_bytes == [b"\x16\x03\x01 hello"]


# --- process management ---------------------------------------------------------------------------

def test_require_binary_names_the_package():
    with pytest.raises(ServerUnavailable) as info:
        require_binary("no-such-server-binary", "some-package")
    assert "no-such-server-binary" in str(info.value) and "some-package" in str(info.value)


def test_dead_process_reports_its_stderr(tmp_path):
    openssl = need_binary("openssl")
    port = free_port()
    proc = ManagedProcess([openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                           str(tmp_path / "missing.pem")], host="127.0.0.1", port=port, log_dir=tmp_path)
    with pytest.raises(ServerStartError) as info:
        proc.start()
    assert "exited with code" in str(info.value) and "missing.pem" in str(info.value)
    assert not proc.running


def test_stop_ends_the_process(tls_server):
    server = tls_server()
    pid = server.pid
    server.stop()
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=5)
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_missing_program_fails_under_ci(monkeypatch):
    def missing():
        raise ServerUnavailable("no-such-server")

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-server"):
        need(missing)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no-such-server"):
        need(missing)

"""Shared fixtures: the real loopback servers every test file may use (see tlsbench.lab).

A missing server program skips the test, except under CI=true where it fails it. Every
server started here is stopped at the end of its scope, and a session guard stops any
process still alive at the end of the run.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tlsbench.lab import processes
from tlsbench.lab.certs import CertFiles, LabCerts, make_lab_certs
from tlsbench.lab.processes import ServerStartError, ServerUnavailable

MICROSOCKS_USER = "labuser"
MICROSOCKS_PASSWORD = "lab-secret"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def need(start: Callable, *args, **kwargs):
    """Run a launcher; a missing program skips (outside CI) or fails (CI) with its message."""
    try:
        return start(*args, **kwargs)
    except ServerUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI=true and a server program is missing: {exc}", pytrace=False)
        pytest.skip(str(exc))
    except ServerStartError as exc:
        pytest.fail(f"server did not start: {exc}", pytrace=False)


def need_binary(name: str) -> str:
    """Path of a client program (curl, openssl), with the same skip/fail rule as servers."""
    return need(processes.require_binary, name)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch) -> None:
    """Profiles and lab data of a test never land in the real user directories."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("TLSBENCH_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("TLSBENCH_DATA_DIR", str(base / "data"))


@pytest.fixture(scope="session", autouse=True)
def _stop_every_server() -> Iterator[None]:
    yield
    processes.stop_all()


# --- certificates ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def lab_certs(tmp_path_factory) -> LabCerts:
    """The lab PKI (tlsbench.lab.certs.LabCerts), made once per session."""
    return make_lab_certs(tmp_path_factory.mktemp("lab-certs"))


def _cert(certs: LabCerts, which: str | CertFiles) -> CertFiles:
    if isinstance(which, CertFiles):
        return which
    value = getattr(certs, which, None)
    if not isinstance(value, CertFiles):
        raise ValueError(f"lab_certs has no certificate named {which!r}")
    return value


# --- TLS servers -------------------------------------------------------------------------------

@pytest.fixture
def tls_server(lab_certs, tmp_path):
    """Factory: `tls_server(cert="good", **options)` starts an `openssl s_server` and returns
    a TlsServer (host, port, options, cert). Stopped at the end of the test.

    `cert`/`sni_cert`: a LabCerts attribute name ("good", "expired", "alt", ...) or CertFiles.
    `client_ca=True` means the lab client CA. Other options: see TlsServerOptions.
    """
    from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

    started = []

    def start(cert: str | CertFiles = "good", *, sni_cert: str | CertFiles | None = None,
              client_ca: bool | str | Path | None = None, alpn=(), **options):
        if client_ca is True:
            client_ca = lab_certs.client_ca_cert
        opts = TlsServerOptions(
            cert=_cert(lab_certs, cert),
            sni_cert=_cert(lab_certs, sni_cert) if sni_cert is not None else None,
            client_ca=Path(client_ca) if client_ca else None,
            alpn=tuple(alpn.split(",") if isinstance(alpn, str) else alpn),
            **options)
        server = need(openssl_server, opts, log_dir=tmp_path / f"s_server-{len(started)}")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def nginx_sni_strict(lab_certs, tmp_path_factory):
    """nginx that rejects a handshake without SNI or with an unknown name (unrecognized_name)
    and serves `lab_certs.good` (full chain) for `server_name` "www.lab.test"."""
    from tlsbench.lab.nginx_server import nginx_sni_strict as start

    server = need(start, lab_certs.good, ("www.lab.test",), prefix=tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nginx_h2(lab_certs, tmp_path_factory):
    """nginx with `listen ... ssl http2;` serving `lab_certs.good`: HTTP/2 when ALPN offers h2. A
    request whose name is not the one SNI gave is answered 421 Misdirected Request, as a server that
    chooses its certificate by SNI must; /missing is a 404."""
    from tlsbench.lab.nginx_tls import NginxTlsOptions, nginx_tls

    extra = ('if ($ssl_server_name != $host) { return 421; }\n'
             '        location = /missing { return 404; }')
    server = need(nginx_tls, NginxTlsOptions(cert=lab_certs.good, http2=True, extra=extra),
                  prefix=tmp_path_factory.mktemp("nginx-h2"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def caddy_h3(lab_certs, tmp_path_factory):
    """caddy serving h1, h2 and h3 on one port (TCP and UDP) with `lab_certs.good` for localhost and
    127.0.0.1 only (another SNI name is refused), sending `Alt-Svc: h3=":PORT"` over TCP."""
    from tlsbench.lab.caddy_server import CaddyOptions, caddy_http3

    server = need(caddy_http3, CaddyOptions(cert=lab_certs.good), prefix=tmp_path_factory.mktemp("caddy"))
    yield server
    server.stop()


# --- DNS -----------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def dns_lab(lab_certs, tmp_path_factory):
    """dnsmasq answering the lab zone (tlsbench.lab.dns_servers: www.lab.test -> edge -> host, A and
    AAAA, an HTTPS record with h3 and ech) and unbound in front of it: `.plain`, `.direct` (dnsmasq
    itself) and `.dot` as --dns-servers takes them, `.doh` a DoH URL, `.ca` the CA that verifies them."""
    from tlsbench.lab.dns_servers import dns_lab as start

    lab = need(start, lab_certs, tmp_path_factory.mktemp("dns"))
    yield lab
    lab.stop()


# --- SOCKS proxies -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def microsocks():
    """microsocks, SOCKS5 without authentication."""
    from tlsbench.lab.socks_servers import microsocks as start

    proxy = need(start)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def microsocks_auth():
    """microsocks requiring user/password: `.username` == MICROSOCKS_USER ("labuser"),
    `.password` == MICROSOCKS_PASSWORD ("lab-secret")."""
    from tlsbench.lab.socks_servers import microsocks as start

    proxy = need(start, username=MICROSOCKS_USER, password=MICROSOCKS_PASSWORD)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def dante(tmp_path_factory):
    """danted speaking SOCKS4 (and 4a) and SOCKS5, no authentication, loopback only."""
    from tlsbench.lab.socks_servers import dante as start

    proxy = need(start, workdir=tmp_path_factory.mktemp("danted"))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def pproxy_socks5():
    """pproxy (PyPI) as a SOCKS5 proxy in a subprocess, no authentication."""
    from tlsbench.lab.socks_servers import pproxy_socks5 as start

    proxy = need(start)
    yield proxy
    proxy.stop()


# --- in-process servers ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def plain_http():
    """Plaintext HTTP/1.1 on loopback; answers TLS with a clear-text 400."""
    from tlsbench.lab.tiny_servers import PlainHttpServer

    with PlainHttpServer() as server:
        yield server


@pytest.fixture
def banner_server():
    """Factory: `banner_server(protocol="smtp", banner=None)` -> BannerServer; protocol one of
    smtp, imap, pop3, ftp, ssh. Stopped at the end of the test."""
    from tlsbench.lab.tiny_servers import BannerServer

    started = []

    def start(protocol: str = "smtp", banner: bytes | None = None):
        server = BannerServer(protocol, banner)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def silent_server():
    """Accepts and never answers."""
    from tlsbench.lab.tiny_servers import SilentServer

    with SilentServer() as server:
        yield server


@pytest.fixture
def closed_port():
    """A loopback port where connect() is refused (.host, .port, .address)."""
    from tlsbench.lab.tiny_servers import ClosedPort

    with ClosedPort() as port:
        yield port


@pytest.fixture(scope="session")
def running_lab(tmp_path_factory):
    """A whole tlsbench.lab.lab.Lab on free ports (entries, certs), shared by the session."""
    from tlsbench.lab.lab import Lab

    lab = need(Lab(data_dir=tmp_path_factory.mktemp("lab-data"), preferred_ports={}).start)
    yield lab
    lab.stop()


@pytest.fixture
def reset_server():
    """Reads the first bytes, then resets the connection (RST)."""
    from tlsbench.lab.tiny_servers import ResetServer

    with ResetServer() as server:
        yield server


# --- packaged servers: proxies, STARTTLS servers, a balancer (tlsbench.lab.*) -----------------
# Each runs once per session from a private directory on free ports; `.host`, `.port`,
# `.description`, `.tls` (offers STARTTLS/TLS), `.endpoints` and `.stop()` on every one.

SQUID_USER = "squiduser"
SQUID_PASSWORD = "squid-secret"
TINYPROXY_USER = "tinyuser"
TINYPROXY_PASSWORD = "tiny-secret"
# Every lab server certificate carries these (127.0.0.2: dovecot listens there, see mail_servers).
SERVER_CERT_NAMES = ("localhost", "127.0.0.1", "127.0.0.2", "::1", "lab.test")


@pytest.fixture(scope="session")
def server_cert(lab_certs, tmp_path_factory):
    """Factory: `server_cert(stem, *names)` -> CertFiles for `names` (the first is the CN) plus
    SERVER_CERT_NAMES, issued by the lab intermediate (so it verifies against
    lab_certs.ca_cert); one per stem."""
    from tlsbench.lab.certs import issue_leaf

    directory = tmp_path_factory.mktemp("server-certs")
    issued: dict[str, CertFiles] = {}

    def issue(stem: str, *names: str) -> CertFiles:
        if stem not in issued:
            # The first name is the subject's CN: a server's own name there shows who answered.
            issued[stem] = issue_leaf(lab_certs, (*names, *SERVER_CERT_NAMES), directory, stem)
        return issued[stem]

    return issue


def _serve(start, *args, **kwargs):
    server = need(start, *args, **kwargs)
    yield server
    server.stop()


# HTTP proxies

@pytest.fixture(scope="session")
def ssh_server():
    """OpenSSH sshd on 127.0.0.1 (keys only, ssh -W allowed), started as root: `.client_conf` is an ssh
    configuration (ssh -F) with the key it trusts and a known_hosts file naming its host key."""
    from tlsbench.lab.ssh_server import sshd

    yield from _serve(sshd)


@pytest.fixture(scope="session")
def squid_proxy():
    """squid: plain HTTP proxy, CONNECT to any loopback port, no authentication."""
    from tlsbench.lab.http_proxies import squid

    yield from _serve(squid)


@pytest.fixture(scope="session")
def squid_proxy_auth():
    """squid requiring Basic authentication (407 without): `.username`/`.password` ==
    SQUID_USER/SQUID_PASSWORD."""
    from tlsbench.lab.http_proxies import SquidOptions, squid

    yield from _serve(squid, SquidOptions(username=SQUID_USER, password=SQUID_PASSWORD))


@pytest.fixture(scope="session")
def squid_proxy_deny():
    """squid answering 403 to CONNECT to the port in `.denied_ports[0]` (free when chosen;
    nothing needs to listen there), allowing every other port."""
    from tlsbench.lab.http_proxies import SquidOptions, squid

    yield from _serve(squid, SquidOptions(deny_connect_ports=(processes.free_port(),)))


@pytest.fixture(scope="session")
def squid_proxy_ntlm():
    """squid requiring authentication and offering only NTLM (407 with `Proxy-Authenticate: NTLM`)."""
    from tlsbench.lab.http_proxies import SquidOptions, squid

    yield from _serve(squid, SquidOptions(ntlm_only=True))


@pytest.fixture(scope="session")
def squid_https_proxy(server_cert):
    """squid whose proxy port speaks TLS (https_port) with a lab certificate: the client does
    TLS to the proxy (trust lab_certs.ca_cert), then CONNECT inside it. `.url` is https://..."""
    from tlsbench.lab.http_proxies import SquidOptions, squid

    yield from _serve(squid, SquidOptions(https_cert=server_cert("squid-https", "proxy.lab.test")))


@pytest.fixture(scope="session")
def squid_bump(lab_certs, tmp_path_factory):
    """squid intercepting TLS (ssl-bump): CONNECT tunnels are decrypted and the client sees a leaf
    forged by `.bump_ca_cert` (a root of its own, not the lab CA); squid itself trusts the lab CA
    towards the real servers."""
    from tlsbench.lab.certs import make_signing_ca
    from tlsbench.lab.http_proxies import SquidOptions, squid

    bump_ca = make_signing_ca(tmp_path_factory.mktemp("bump-ca"), "bump-ca", "tlsbench Intercepting Proxy CA")
    yield from _serve(squid, SquidOptions(bump_ca=bump_ca, upstream_cafile=lab_certs.ca_cert))


@pytest.fixture(scope="session")
def tinyproxy_proxy():
    """tinyproxy: HTTP proxy, CONNECT to any port, no authentication."""
    from tlsbench.lab.http_proxies import tinyproxy

    yield from _serve(tinyproxy)


@pytest.fixture(scope="session")
def tinyproxy_auth():
    """tinyproxy with `BasicAuth` (407 without): TINYPROXY_USER / TINYPROXY_PASSWORD."""
    from tlsbench.lab.http_proxies import tinyproxy

    yield from _serve(tinyproxy, username=TINYPROXY_USER, password=TINYPROXY_PASSWORD)


def port_outside_ephemeral_range() -> int:
    """A free port below the kernel's ephemeral range: one that no client connection of the run can
    take as its local port between now and the time a server is started on it."""
    import random
    import socket

    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    first = max(low - 8000, 1024)
    start = random.randrange(first, low)  # another test run beside this one starts elsewhere
    for port in [*range(start, low), *range(first, start)]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return processes.free_port()


@pytest.fixture(scope="session")
def tinyproxy_ports():
    """tinyproxy allowing CONNECT only to `.allowed_ports` (443 and one port free when chosen, outside
    the ephemeral range): any other port answers 403."""
    from tlsbench.lab.http_proxies import tinyproxy

    yield from _serve(tinyproxy, connect_ports=(443, port_outside_ephemeral_range()))


# STARTTLS servers: a TLS variant (offers STARTTLS with a lab certificate) and a plain one

@pytest.fixture(scope="session")
def smtp_tls(server_cert):
    """The machine's MTA (postfix or exim4) offering STARTTLS (mail.lab.test certificate from the lab CA)."""
    from tlsbench.lab.mail_servers import smtp_server

    yield from _serve(smtp_server, server_cert("smtp", "mail.lab.test"))


@pytest.fixture(scope="session")
def smtp_plain():
    """The machine's MTA (postfix or exim4) without TLS: EHLO lists no STARTTLS."""
    from tlsbench.lab.mail_servers import smtp_server

    yield from _serve(smtp_server)


@pytest.fixture(scope="session")
def dovecot_tls(server_cert):
    """dovecot (IMAP, POP3, LMTP, ManageSieve in `.endpoints`) offering STARTTLS; plaintext
    login only after it (IMAP: LOGINDISABLED before TLS). Listens on 127.0.0.2."""
    from tlsbench.lab.mail_servers import dovecot

    yield from _serve(dovecot, server_cert("dovecot", "mail.lab.test"))


@pytest.fixture(scope="session")
def dovecot_tls_plaintext_auth(server_cert):
    """dovecot offering STARTTLS but also plaintext login before it (disable_plaintext_auth =
    no: AUTH=PLAIN in the IMAP capabilities before TLS)."""
    from tlsbench.lab.mail_servers import dovecot

    yield from _serve(dovecot, server_cert("dovecot", "mail.lab.test"), plaintext_auth=True)


@pytest.fixture(scope="session")
def dovecot_plain():
    """dovecot with `ssl = no`: no protocol offers STARTTLS; plaintext login allowed."""
    from tlsbench.lab.mail_servers import dovecot

    yield from _serve(dovecot)


@pytest.fixture(scope="session")
def vsftpd_tls(server_cert):
    """vsftpd answering AUTH TLS (explicit FTPS); anonymous read-only."""
    from tlsbench.lab.ftp_server import vsftpd

    yield from _serve(vsftpd, server_cert("vsftpd", "ftp.lab.test"))


@pytest.fixture(scope="session")
def vsftpd_plain():
    """vsftpd with ssl_enable=NO: AUTH TLS is refused."""
    from tlsbench.lab.ftp_server import vsftpd

    yield from _serve(vsftpd)


@pytest.fixture(scope="session")
def postgres_tls(server_cert):
    """PostgreSQL with ssl = on (answers 'S' to an SSLRequest); trust auth, user postgres."""
    from tlsbench.lab.database_servers import postgresql

    yield from _serve(postgresql, server_cert("postgres", "db.lab.test"))


@pytest.fixture(scope="session")
def postgres_plain():
    """PostgreSQL with ssl = off (answers 'N' to an SSLRequest)."""
    from tlsbench.lab.database_servers import postgresql

    yield from _serve(postgresql)


@pytest.fixture(scope="session")
def mariadb_tls(server_cert):
    """MariaDB with SSL (the handshake's capability flags include CLIENT_SSL)."""
    from tlsbench.lab.database_servers import mariadb

    yield from _serve(mariadb, server_cert("mariadb", "db.lab.test"))


@pytest.fixture(scope="session")
def mariadb_plain():
    """MariaDB started with --skip-ssl (no CLIENT_SSL flag)."""
    from tlsbench.lab.database_servers import mariadb

    yield from _serve(mariadb)


@pytest.fixture(scope="session")
def slapd_tls(server_cert):
    """OpenLDAP slapd on ldap://: the StartTLS extended operation succeeds."""
    from tlsbench.lab.ldap_server import slapd

    yield from _serve(slapd, server_cert("slapd", "ldap.lab.test"))


@pytest.fixture(scope="session")
def slapd_plain():
    """OpenLDAP slapd with no TLS settings: StartTLS is refused."""
    from tlsbench.lab.ldap_server import slapd

    yield from _serve(slapd)


@pytest.fixture(scope="session")
def prosody_tls(server_cert):
    """prosody XMPP c2s (and s2s, endpoint "xmpp-server") for lab.test, STARTTLS offered and required."""
    from tlsbench.lab.xmpp_server import prosody

    yield from _serve(prosody, server_cert("prosody", "lab.test"), s2s=True)


@pytest.fixture(scope="session")
def prosody_plain():
    """prosody XMPP c2s for lab.test without certificate or mod_tls: no <starttls/> feature."""
    from tlsbench.lab.xmpp_server import prosody

    yield from _serve(prosody)


@pytest.fixture(scope="session")
def nntp_tls(server_cert):
    """INN nnrpd (reader) offering STARTTLS."""
    from tlsbench.lab.news_server import nnrpd

    yield from _serve(nnrpd, server_cert("nnrpd", "news.lab.test"))


@pytest.fixture(scope="session")
def nntp_plain():
    """INN innd in transit mode: CAPABILITIES without STARTTLS."""
    from tlsbench.lab.news_server import innd

    yield from _serve(innd)


@pytest.fixture(scope="session")
def irc_tls(server_cert):
    """InspIRCd with ssl_gnutls and starttls: STARTTLS answers 670."""
    from tlsbench.lab.irc_server import inspircd

    yield from _serve(inspircd, server_cert("inspircd", "irc.lab.test"))


@pytest.fixture(scope="session")
def irc_plain():
    """InspIRCd without TLS modules: no `tls` capability, STARTTLS unanswered."""
    from tlsbench.lab.irc_server import inspircd

    yield from _serve(inspircd)


STARTTLS_FIXTURES = {
    # protocol (openssl s_client -starttls name): (fixture with STARTTLS, fixture without, endpoint)
    "smtp": ("smtp_tls", "smtp_plain", "smtp"),
    "imap": ("dovecot_tls", "dovecot_plain", "imap"),
    "pop3": ("dovecot_tls", "dovecot_plain", "pop3"),
    "lmtp": ("dovecot_tls", "dovecot_plain", "lmtp"),
    "sieve": ("dovecot_tls", "dovecot_plain", "sieve"),
    "ftp": ("vsftpd_tls", "vsftpd_plain", "ftp"),
    "postgres": ("postgres_tls", "postgres_plain", "postgres"),
    "mysql": ("mariadb_tls", "mariadb_plain", "mysql"),
    "ldap": ("slapd_tls", "slapd_plain", "ldap"),
    "xmpp": ("prosody_tls", "prosody_plain", "xmpp"),
    "nntp": ("nntp_tls", "nntp_plain", "nntp"),
    "irc": ("irc_tls", "irc_plain", "irc"),
}


@pytest.fixture
def starttls_server(request):
    """Factory: `starttls_server("imap", tls=True)` -> tlsbench.lab.service.Endpoint (host, port,
    protocol, tls, description) of the session's server for that protocol, with or without
    STARTTLS. Protocols: the keys of STARTTLS_FIXTURES (openssl s_client -starttls names)."""

    def get(protocol: str, tls: bool = True):
        try:
            with_tls, without, endpoint = STARTTLS_FIXTURES[protocol]
        except KeyError:
            raise ValueError(f"no lab server for STARTTLS protocol {protocol!r}") from None
        return request.getfixturevalue(with_tls if tls else without).endpoint(endpoint)

    return get


@pytest.fixture(scope="session")
def haproxy_tls_pair(server_cert):
    """haproxy balancing round robin over two `openssl s_server` with DIFFERENT leaf certificates
    for the same names (`.nodes[i].cert`): consecutive connections see both."""
    from tlsbench.lab.balancer import tls_pair_behind_haproxy

    yield from _serve(tls_pair_behind_haproxy, server_cert("node-a", "www.lab.test"),
                      server_cert("node-b", "www.lab.test"))


@pytest.fixture(scope="session")
def haproxy_accept_proxy(server_cert):
    """haproxy with accept-proxy (a PROXY protocol header first, or the connection is dropped) in
    front of one `openssl s_server` for www.lab.test."""
    from tlsbench.lab.balancer import tls_behind_accept_proxy

    yield from _serve(tls_behind_accept_proxy, server_cert("node-a", "www.lab.test"))


# --- real clients against those servers -------------------------------------------------------

def s_client(address, protocol: str | None, cafile, *extra: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """`openssl s_client [-starttls PROTOCOL] -connect HOST:PORT -CAfile CAFILE -verify_return_error
    -brief` with stdin closed (it quits after the handshake); output in .stdout (stderr merged)."""
    openssl = need_binary("openssl")
    host, port = (address.host, address.port) if hasattr(address, "host") else address
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    argv = [openssl, "s_client", "-connect", target, "-CAfile", str(cafile), "-verify_return_error", "-brief"]
    if protocol:
        argv += ["-starttls", protocol]
    return subprocess.run([*argv, *extra], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def handshake_verified(result: subprocess.CompletedProcess) -> bool:
    """s_client (-brief) completed a handshake and verified the chain."""
    return (result.returncode == 0 and "CONNECTION ESTABLISHED" in result.stdout
            and "Verification: OK" in result.stdout)


def curl_facts(*args: str) -> tuple[int, dict[str, str], str]:
    """curl's exit code, its -w variables (http_code, http_connect, issuer/serial of the
    server's leaf) and its error text."""
    fmt = "code=%{http_code}\\nconnect=%{http_connect}\\n%{certs}"
    done = subprocess.run([need_binary("curl"), "-sS", "--max-time", "15", "-o", "/dev/null", "-w", fmt, *args],
                          capture_output=True, text=True, timeout=30)
    info = dict(re.findall(r"^(code|connect)=(\d+)$", done.stdout, re.M))
    leaf = done.stdout.split("-----END CERTIFICATE-----")[0]
    for key, label in (("issuer", "Issuer"), ("serial", "Serial Number")):
        found = re.search(rf"^{label}:(.*)$", leaf, re.M)
        if found:
            info[key] = found.group(1).strip()
    return done.returncode, info, done.stderr.strip()


class Conversation:
    """A line-based plaintext exchange with a server (greeting, capabilities, STARTTLS), then
    optionally TLS on the same socket with Python's ssl: every wait is bounded."""

    def __init__(self, address, timeout: float = 5.0) -> None:
        import socket

        host, port = (address.host, address.port) if hasattr(address, "host") else address
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def read_until(self, pattern: bytes) -> bytes:
        """Everything up to and including the first match of regex `pattern` (timeout: OSError)."""
        import re

        regex = re.compile(pattern)
        while (match := regex.search(self.buffer)) is None:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before {pattern!r}; got {self.buffer!r}")
            self.buffer += chunk
        text, self.buffer = self.buffer[:match.end()], self.buffer[match.end():]
        return text

    def ask(self, line: bytes, until: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.read_until(until)

    def silent_for(self, seconds: float) -> bytes:
        """What arrives within `seconds` (b"" when the server says nothing)."""
        import socket

        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            chunk = b""
        self.buffer += chunk
        return chunk

    def start_tls(self, cafile, server_hostname: str | None = None) -> None:
        import ssl

        context = ssl.create_default_context(cafile=str(cafile))
        context.check_hostname = server_hostname is not None
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Conversation":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Shared fixtures: the real loopback servers every test file may use (see tlsbench.lab).

A missing server program skips the test, except under CI=true where it fails it. Every
server started here is stopped at the end of its scope, and a session guard stops any
process still alive at the end of the run.
"""

from __future__ import annotations

import os
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

"""Real HTTP CONNECT proxies: squid (plain and HTTPS proxy ports, Basic authentication, a
refused destination port, and ssl-bump interception) and tinyproxy (Basic authentication and a
`ConnectPort` allow-list).

squid runs in the foreground (`-N`) with a generated configuration that caches nothing, and
drops to its `proxy` user when started as root; tinyproxy drops to `tinyproxy` likewise.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tlsbench.lab.certs import CertFiles
from tlsbench.lab.processes import ServerStartError, ServerUnavailable, require_binary
from tlsbench.lab.service import (LabService, chown, install_cert, is_root, launch, private_dir, service_user,
                                  write_file)

SQUID_USER = "proxy"
SQUID_HELPERS = Path("/usr/lib/squid")
TINYPROXY_USER = "tinyproxy"
TINYPROXY_SHARE = Path("/usr/share/tinyproxy")


class HttpProxy(LabService):
    """A running HTTP proxy: `scheme` ("http", or "https" when the client speaks TLS to the proxy
    itself), `username`/`password` when it requires Basic authentication, `denied_ports` it
    refuses to CONNECT to (403), `allowed_ports` when only those are allowed, and
    `bump_ca_cert` when it intercepts TLS (the CA its forged certificates chain to)."""

    def __init__(self, argv, *, scheme: str = "http", username: str | None = None, password: str | None = None,
                 denied_ports: Sequence[int] = (), allowed_ports: Sequence[int] | None = None,
                 bump_ca_cert: Path | None = None, **kw) -> None:
        super().__init__(argv, **kw)
        self.scheme = scheme
        self.username, self.password = username, password
        self.denied_ports = tuple(denied_ports)
        self.allowed_ports = tuple(allowed_ports) if allowed_ports is not None else None
        self.bump_ca_cert = bump_ca_cert

    @property
    def url(self) -> str:
        """scheme://host:port (no credentials: pass them apart, e.g. curl --proxy-user)."""
        return f"{self.scheme}://{self.address}"

    @property
    def credentials(self) -> str | None:
        return f"{self.username}:{self.password}" if self.username else None


# --- squid --------------------------------------------------------------------------------------

class SquidProxy(HttpProxy):
    """A running squid; `service_name` (squid -n) names its shared-memory segments."""

    # Nothing is cached: SIGKILL loses nothing and saves squid's 2 s of shutdown steps.
    stop_signal = signal.SIGKILL

    def __init__(self, argv, *, service_name: str, **kw) -> None:
        super().__init__(argv, **kw)
        self.service_name = service_name

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        # Killed, squid cannot remove its segments (/dev/shm/<service name>-*.shm): do it here.
        for segment in glob.glob(f"/dev/shm/{glob.escape(self.service_name)}-*.shm"):
            try:
                os.unlink(segment)
            except OSError:
                pass


def apr1_hash(password: str) -> str:
    """An Apache MD5 ($apr1$) password hash, as basic_ncsa_auth reads it."""
    openssl = require_binary("openssl")
    out = subprocess.run([openssl, "passwd", "-apr1", "-stdin"], input=password + "\n",
                         capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.strip()


@dataclass(frozen=True)
class SquidOptions:
    """What the squid should do; one port, every option may be combined."""

    https_cert: CertFiles | None = None  # the proxy port speaks TLS (https_port) with this certificate
    username: str | None = None  # Basic authentication required (407 without it)
    password: str | None = None
    deny_connect_ports: Sequence[int] = ()  # CONNECT to these answers 403
    allow_connect_ports: Sequence[int] | None = None  # when set, CONNECT to any other port answers 403
    bump_ca: tuple[Path, Path] | None = None  # (cert, key): intercept TLS (ssl-bump) signing with this CA
    upstream_cafile: Path | None = None  # what a bumping squid trusts for the real servers
    ntlm_only: bool = False  # authentication required, NTLM offered only (squid's ntlm_fake_auth)

    def describe(self) -> str:
        parts = ["squid HTTPS proxy" if self.https_cert else "squid HTTP proxy"]
        if self.username:
            parts.append("Basic auth")
        if self.ntlm_only:
            parts.append("NTLM auth only")
        if self.deny_connect_ports:
            parts.append("CONNECT denied to port " + ",".join(map(str, self.deny_connect_ports)))
        if self.allow_connect_ports is not None:
            parts.append("CONNECT only to port " + ",".join(map(str, self.allow_connect_ports)))
        if self.bump_ca:
            parts.append("ssl-bump interception")
        return ", ".join(parts)


def squid_conf(d: Path, host: str, port: int, o: SquidOptions, cert: CertFiles | None,
               bump: tuple[Path, Path] | None) -> str:
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = ["# generated by tlsbench lab"]
    if cert is not None:
        lines.append(f"https_port {listen} tls-cert={cert.chain} tls-key={cert.key}")
    elif bump is not None:
        lines.append(f"http_port {listen} ssl-bump tls-cert={bump[0]} tls-key={bump[1]} "
                     "generate-host-certificates=on dynamic_cert_mem_cache_size=4MB")
    else:
        lines.append(f"http_port {listen}")
    lines += [
        f"pid_filename {d / 'squid.pid'}",
        f"cache_log {d / 'cache.log'}",
        f"access_log stdio:{d / 'access.log'}",
        "cache_store_log none",
        f"coredump_dir {d}",
        "cache deny all",
        "cache_mem 4 MB",
        # SIGTERM ends squid at once instead of waiting 30 s for open connections.
        "shutdown_lifetime 0 seconds",
        "pinger_enable off",
        "netdb_filename none",
        "dns_nameservers 127.0.0.1",
        # Nothing answers DNS there: a name squid must look up fails in 2 s, not squid's default 30.
        "dns_timeout 2 seconds",
        "forwarded_for delete",
        "acl CONNECT method CONNECT",
        f"acl lab_clients src {'::1' if ':' in host else '127.0.0.0/8'}",
    ]
    if is_root():
        lines.append(f"cache_effective_user {SQUID_USER}")
    if o.deny_connect_ports:
        lines += [f"acl denied_ports port {' '.join(map(str, o.deny_connect_ports))}",
                  "http_access deny CONNECT denied_ports"]
    if o.allow_connect_ports is not None:
        lines += [f"acl allowed_ports port {' '.join(map(str, o.allow_connect_ports)) or '0'}",
                  "http_access deny CONNECT !allowed_ports"]
    if o.username:
        lines += [f"auth_param basic program {SQUID_HELPERS / 'basic_ncsa_auth'} {d / 'passwd'}",
                  "auth_param basic children 2 startup=1 idle=1",
                  "auth_param basic realm tlsbench lab squid",
                  "acl authenticated proxy_auth REQUIRED",
                  "http_access deny !authenticated"]
    if o.ntlm_only:
        lines += [f"auth_param ntlm program {SQUID_HELPERS / 'ntlm_fake_auth'}",
                  "auth_param ntlm children 2 startup=1 idle=1",
                  "acl authenticated proxy_auth REQUIRED",
                  "http_access deny !authenticated"]
    lines += ["http_access allow lab_clients", "http_access deny all"]
    if bump is not None:
        lines += [f"sslcrtd_program {SQUID_HELPERS / 'security_file_certgen'} -s {d / 'ssl_db'} -M 4MB",
                  "sslcrtd_children 2 startup=1 idle=1",
                  "ssl_bump bump all",
                  "sslproxy_cert_error deny all"]
        if o.upstream_cafile is not None:
            lines.append(f"tls_outgoing_options cafile={o.upstream_cafile}")
    return "\n".join(lines) + "\n"


def squid(options: SquidOptions = SquidOptions(), host: str = "127.0.0.1", port: int | None = None,
          workdir: str | os.PathLike | None = None) -> SquidProxy:
    """Start squid with `options` on `port` (or a free one); returns it once it accepts."""
    binary = require_binary("squid", "squid-openssl")
    if (options.username is None) != (options.password is None):
        raise ValueError("squid needs both a username and a password, or neither")
    if options.https_cert is not None and options.bump_ca is not None:
        raise ValueError("squid: ssl-bump is offered on the plain http port only here")
    user = SQUID_USER if is_root() else None
    if user:
        service_user(user, "squid-openssl")
    made = workdir is None
    d = private_dir("squid", user) if workdir is None else Path(workdir)
    cert = install_cert(options.https_cert, d, user, "proxy") if options.https_cert else None
    bump = None
    if options.bump_ca is not None:
        bump_cert = install_cert(CertFiles(options.bump_ca[0], options.bump_ca[1], options.bump_ca[0], None, ()),
                                 d, user, "bump-ca")
        bump = (bump_cert.cert, bump_cert.key)
        certgen = SQUID_HELPERS / "security_file_certgen"
        if not certgen.is_file():
            raise ServerUnavailable(str(certgen), "squid-openssl")
        done = subprocess.run([str(certgen), "-c", "-s", str(d / "ssl_db"), "-M", "4MB"],
                              capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise ServerStartError(f"security_file_certgen could not make its database: {done.stderr.strip()}")
        for path in [d / "ssl_db", *(d / "ssl_db").rglob("*")]:
            chown(path, user)
    if options.username:
        write_file(d / "passwd", f"{options.username}:{apr1_hash(options.password or '')}\n", user, 0o600)

    def make(ports: dict[str, int]) -> SquidProxy:
        p = ports["proxy"]
        conf = write_file(d / "squid.conf", squid_conf(d, host, p, options, cert, bump), user)
        # -n: a service name of its own, so several squids never share names (pid, shared memory).
        service_name = f"tlsbench{p}"
        argv = [binary, "-N", "-f", str(conf), "-n", service_name]
        return SquidProxy(argv, service_name=service_name, host=host, port=p, name="squid",
                          protocol="https-proxy" if cert else "http-proxy", tls=cert is not None,
                          description=options.describe(), workdir=d, remove_workdir=made,
                          error_log=d / "cache.log", scheme="https" if cert else "http",
                          username=options.username, password=options.password,
                          denied_ports=options.deny_connect_ports, allowed_ports=options.allow_connect_ports,
                          bump_ca_cert=options.bump_ca[0] if options.bump_ca else None)

    return launch(make, ["proxy"], d, host=host, preferred={"proxy": port} if port else None,
                  remove=made)


# --- tinyproxy ----------------------------------------------------------------------------------

def tinyproxy_conf(d: Path, host: str, port: int, username: str | None, password: str | None,
                   connect_ports: Sequence[int] | None) -> str:
    lines = ["# generated by tlsbench lab"]
    if is_root():
        lines += [f"User {TINYPROXY_USER}", f"Group {TINYPROXY_USER}"]
    lines += [
        f"Port {port}",
        f"Listen {host}",
        "Timeout 60",
        f'DefaultErrorFile "{TINYPROXY_SHARE / "default.html"}"',
        f'LogFile "{d / "tinyproxy.log"}"',
        "LogLevel Info",
        f'PidFile "{d / "tinyproxy.pid"}"',
        "MaxClients 20",
        f"Allow {host}",
        'ViaProxyName "tinyproxy"',
    ]
    if username:
        lines.append(f"BasicAuth {username} {password}")
    # No ConnectPort line at all means every port is allowed.
    lines += [f"ConnectPort {p}" for p in (connect_ports or ())]
    return "\n".join(lines) + "\n"


def tinyproxy(host: str = "127.0.0.1", port: int | None = None, username: str | None = None,
              password: str | None = None, connect_ports: Sequence[int] | None = None,
              workdir: str | os.PathLike | None = None) -> HttpProxy:
    """Start tinyproxy; with `username`/`password` it requires Basic authentication (407), with
    `connect_ports` CONNECT to any other port answers 403."""
    binary = require_binary("tinyproxy")
    if (username is None) != (password is None):
        raise ValueError("tinyproxy needs both a username and a password, or neither")
    if username and (any(c.isspace() for c in username + (password or "")) or not password):
        raise ValueError("tinyproxy: user and password must be non-empty words")
    if connect_ports is not None and not connect_ports:
        raise ValueError("tinyproxy: an empty ConnectPort list would allow every port")
    user = TINYPROXY_USER if is_root() else None
    if user:
        service_user(user, "tinyproxy")
    made = workdir is None
    d = private_dir("tinyproxy", user) if workdir is None else Path(workdir)
    parts = ["tinyproxy HTTP proxy"]
    if username:
        parts.append("Basic auth")
    if connect_ports:
        parts.append("CONNECT only to port " + ",".join(map(str, connect_ports)))

    def make(ports: dict[str, int]) -> HttpProxy:
        p = ports["proxy"]
        conf = write_file(d / "tinyproxy.conf", tinyproxy_conf(d, host, p, username, password, connect_ports),
                          user, 0o600)
        return HttpProxy([binary, "-d", "-c", str(conf)], host=host, port=p, name="tinyproxy",
                         protocol="http-proxy", tls=False, description=", ".join(parts), workdir=d,
                         remove_workdir=made, error_log=d / "tinyproxy.log", username=username,
                         password=password, allowed_ports=connect_ports)

    return launch(make, ["proxy"], d, host=host, preferred={"proxy": port} if port else None,
                  remove=made)

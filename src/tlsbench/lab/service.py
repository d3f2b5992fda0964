"""What the launchers of packaged servers (squid, postfix, dovecot, postgres, ...) share.

Each one runs from a private directory made here (config, data, pid, sockets, logs), never from
the system's paths, so it runs beside a system copy or without one. Programs that will not run
as root are started as their service user (`run_as`); the directory and the copied certificate
are then given to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Self, Sequence, TypeVar

from tlsbench.lab.certs import CertFiles
from tlsbench.lab.processes import (ManagedProcess, ServerStartError, ServerUnavailable, free_port,
                                    port_accepts, require_binary)


@dataclass(frozen=True)
class Endpoint:
    """One protocol a server answers: where, and whether it offers STARTTLS (or TLS at once)."""

    host: str
    port: int
    protocol: str  # "smtp", "imap", "http-proxy", ... (the s_client -starttls name where there is one)
    tls: bool  # offers STARTTLS (or speaks TLS from the start, for a proxy's https port)
    description: str

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class LabService(ManagedProcess):
    """A running packaged server: `host`, `port` (of its main protocol), `protocol`, `tls`
    (whether it offers STARTTLS/TLS), a one-line `description`, its private `workdir`, and its
    `endpoints` by protocol (several for dovecot). `stop()` also removes the directory when the
    launcher made it."""

    def __init__(self, argv: Sequence[str], *, host: str, port: int, name: str, protocol: str, tls: bool,
                 description: str, workdir: Path, endpoints: Sequence[Endpoint] = (),
                 remove_workdir: bool = False, error_log: Path | None = None, **kw) -> None:
        super().__init__(argv, host=host, port=port, name=name, log_dir=workdir, **kw)
        self.error_log = error_log  # where the server writes its own errors, if not to stderr
        self.protocol, self.tls, self.description = protocol, tls, description
        self.workdir = workdir
        self.endpoints = {e.protocol: e for e in endpoints} or {
            protocol: Endpoint(host, port, protocol, tls, description)}
        self.remove_workdir = remove_workdir
        self.started_in: float | None = None  # seconds from start() to accepting
        self._started = False

    def start(self) -> Self:
        began = time.monotonic()
        super().start()
        self.started_in = time.monotonic() - began
        self._started = True
        return self

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        # Not after a failed start: the launcher may retry on other ports in the same directory.
        if self._started and self.remove_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stderr_tail(self, lines: int = 5) -> str:
        own = ""
        if self.error_log is not None:
            try:
                own = " | ".join(self.error_log.read_text("utf-8", "replace").strip().splitlines()[-lines:])
            except OSError:
                pass
        out = super().stderr_tail(lines)
        return f"{out} | {own}" if own and out != "(no output)" else (own or out)

    def endpoint(self, protocol: str) -> Endpoint:
        try:
            return self.endpoints[protocol]
        except KeyError:
            raise KeyError(f"{self.name} does not serve {protocol!r} (it serves {', '.join(self.endpoints)})") from None

    def log_text(self, name: str) -> str:
        """A log file the server wrote into its directory ("" when missing)."""
        try:
            return (self.workdir / name).read_text("utf-8", "replace")
        except OSError:
            return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description} {self.address} pid={self.pid}>"


# --- users and directories --------------------------------------------------------------------

class NeedsRoot(ServerUnavailable):
    """A server that only starts as root (it switches to its own users itself): unavailable to
    an ordinary user like a missing program."""

    def __init__(self, program: str) -> None:
        RuntimeError.__init__(self, f"{program} must be started as root (it switches to its own users itself)")
        self.binary, self.package = program, None


def is_root() -> bool:
    return os.geteuid() == 0


def require_root(program: str) -> None:
    if not is_root():
        raise NeedsRoot(program)


def service_user(name: str, package: str) -> pwd.struct_passwd:
    """The account a package made for its daemon (postgres, mysql, ...)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ServerUnavailable(f"user {name}", package) from None


def run_as(user: str | None) -> list[str]:
    """The argv prefix that runs a program as `user` (its groups, HOME and a clean environment):
    `setpriv` as root, nothing otherwise (a non-root caller runs servers as itself).

    setpriv, not runuser: runuser stays as the parent, and on SIGTERM waits 2 s before killing
    the server; setpriv execs it, so the server is the process stop() signals.
    """
    if user is None or not is_root() or pwd.getpwuid(os.geteuid()).pw_name == user:
        return []
    entry = pwd.getpwnam(user)
    return [require_binary("setpriv", "util-linux"), f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
            "--init-groups", "--reset-env",
            "--pdeathsig=keep", "--"]  # the kernel clears the death signal on a change of user


def chown(path: Path, user: str | None, group: str | int | None = None) -> None:
    """Give `path` to `user` (and its group, or `group`) when running as root."""
    if user is None or not is_root():
        return
    shutil.chown(path, user, group or pwd.getpwnam(user).pw_gid)


def private_dir(name: str, owner: str | None = None, parent: str | os.PathLike | None = None,
                mode: int = 0o755) -> Path:
    """A new directory in the system temp directory (reachable by a service user, unlike a
    test's 0700 tmp_path) or under `parent`, owned by `owner` when running as root."""
    d = Path(tempfile.mkdtemp(prefix=f"tlsbench-{name}-", dir=parent))
    os.chmod(d, mode)
    chown(d, owner)
    return d


def subdir(parent: Path, name: str, owner: str | None = None, mode: int = 0o755,
           group: str | int | None = None) -> Path:
    d = parent / name
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, mode)
    chown(d, owner, group)
    return d


def install_cert(cert: CertFiles, directory: Path, owner: str | None = None, stem: str = "server",
                 key_mode: int = 0o600) -> CertFiles:
    """Copy a certificate and its key where a service user can read them (the lab's own files
    may sit in a directory only the caller can enter)."""
    directory.mkdir(parents=True, exist_ok=True)

    def copy(src: Path, suffix: str, mode: int) -> Path:
        dest = directory / f"{stem}{suffix}"
        shutil.copyfile(src, dest)
        os.chmod(dest, mode)
        chown(dest, owner)
        return dest

    return CertFiles(copy(cert.cert, ".pem", 0o644), copy(cert.key, ".key", key_mode),
                     copy(cert.chain, ".chain.pem", 0o644),
                     copy(cert.issuers, ".issuers.pem", 0o644) if cert.issuers is not None else None, cert.names)


def write_file(path: Path, text: str, owner: str | None = None, mode: int = 0o644) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    chown(path, owner)
    return path


# --- starting on several free ports -----------------------------------------------------------

def all_accept(host: str, ports: Sequence[int]) -> Callable[[], bool]:
    return lambda: all(port_accepts(host, p) for p in ports)


_Service = TypeVar("_Service", bound=LabService)  # what `make` builds


def start_on_free_ports(make: Callable[[dict[str, int]], _Service], names: Sequence[str],
                        host: str = "127.0.0.1", preferred: dict[str, int] | None = None,
                        attempts: int = 4) -> _Service:
    """Like processes.start_on_free_port for a server listening on several ports at once:
    `make({"imap": 40001, ...})` builds it; a port lost to a race means a new set of ports."""
    last: Exception | None = None
    for i in range(attempts):
        ports: dict[str, int] = {}
        for n in names:
            want = (preferred or {}).get(n) if i == 0 else None
            port = want or free_port(host)
            while port in ports.values():
                port = free_port(host)
            ports[n] = port
        server = make(ports)
        try:
            return server.start()
        except ServerStartError as exc:
            last = exc
            if "in use" not in str(exc).lower():
                raise
    raise ServerStartError(f"no free ports found after {attempts} attempts: {last}")


def launch(make: Callable[[dict[str, int]], _Service], names: Sequence[str], workdir: Path, *,
           host: str = "127.0.0.1", preferred: dict[str, int] | None = None, remove: bool = False) -> _Service:
    """start_on_free_ports, removing `workdir` when the server never started and `remove` says
    the launcher made it."""
    try:
        return start_on_free_ports(make, names, host, preferred)
    except BaseException:
        if remove:
            shutil.rmtree(workdir, ignore_errors=True)
        raise

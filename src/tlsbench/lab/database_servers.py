"""Real database servers whose protocols upgrade to TLS in-band: PostgreSQL (SSLRequest) and
MariaDB (the SSL capability flag). The TLS variant answers with a given certificate, the plain
one refuses TLS (`ssl = off`, `--skip-ssl`).

Each gets a fresh data directory in a private directory (initdb / mariadb-install-db run once
per process, then copied), and runs as its service user (`postgres`, `mysql`) when started as
root.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Callable

from tlsbench.lab.certs import CertFiles
from tlsbench.lab.processes import ServerStartError, ServerUnavailable, require_binary
from tlsbench.lab.service import (LabService, install_cert, is_root, launch, private_dir, run_as, service_user,
                                  subdir)

POSTGRES_USER = "postgres"
MARIADB_USER = "mysql"


def _owner(user: str, package: str) -> str | None:
    if not is_root():
        return None
    service_user(user, package)
    return user


_TEMPLATES: dict[str, Path] = {}
_TEMPLATES_LOCK = threading.Lock()


def _fresh_data_dir(kind: str, dest: Path, user: str | None, make: Callable[[Path], None]) -> None:
    """Put a new data directory at `dest`: made once per process by `make(path)` (initdb,
    mariadb-install-db: a second or two), then copied with owners and modes (`cp -a`)."""
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(kind)
        if template is None or not template.is_dir():
            base = private_dir(f"{kind}-template", user)
            atexit.register(shutil.rmtree, base, True)
            make(base / "data")
            template = _TEMPLATES[kind] = base / "data"
    done = subprocess.run(["cp", "-a", str(template), str(dest)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ServerStartError(f"could not copy the {kind} data directory: {done.stderr.strip()}")


def _run_setup(argv: list[str], what: str, cwd: Path, log: Path) -> None:
    with open(log, "wb") as out:
        done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              timeout=120)
    if done.returncode != 0:
        tail = " | ".join(log.read_text("utf-8", "replace").strip().splitlines()[-4:])
        raise ServerStartError(f"{what} failed (exit {done.returncode}): {tail}")


# --- PostgreSQL ---------------------------------------------------------------------------------

def postgres_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding a server (Debian's layout)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
    if not found:
        raise ServerUnavailable("postgres", "postgresql")
    return Path(found[-1]).parent


def postgresql(cert: CertFiles | None = None, host: str = "127.0.0.1", port: int | None = None,
               workdir: str | os.PathLike | None = None) -> LabService:
    """initdb a new cluster and start it on `port` (or a free one): `ssl = on` with `cert`, else
    `ssl = off`. Local trust authentication; the superuser is `postgres`."""
    bindir = postgres_bindir()
    user = _owner(POSTGRES_USER, "postgresql")
    made = workdir is None
    d = private_dir("postgres", user) if workdir is None else Path(workdir)
    run = subdir(d, "run", user, 0o700)
    tls = install_cert(cert, d, user, "postgres") if cert else None  # postgres wants its key 0600, its own
    _fresh_data_dir(f"postgres-{bindir.parent.name}", d / "data", user, lambda data: _run_setup(
        [*run_as(user), str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
         "--locale=C", "--no-sync", "--no-instructions"], "initdb", data.parent, data.parent / "initdb.log"))
    version = bindir.parent.name
    description = f"PostgreSQL {version}, " + ("SSL on" if cert else "SSL off")

    def make(ports: dict[str, int]) -> LabService:
        p = ports["postgres"]
        settings = {"listen_addresses": host, "port": str(p), "unix_socket_directories": str(run),
                    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                    "logging_collector": "off", "ssl": "on" if tls else "off"}
        if tls:
            settings.update(ssl_cert_file=str(tls.chain), ssl_key_file=str(tls.key))
        argv = [*run_as(user), str(bindir / "postgres"), "-D", str(d / "data")]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        server = LabService(argv, host=host, port=p, name="postgres", protocol="postgres", tls=cert is not None,
                            description=description, workdir=d, remove_workdir=made, cwd=d)
        # "Immediate" shutdown, no checkpoint: the data directory is thrown away (SIGTERM would
        # wait for every client to leave).
        server.stop_signal = signal.SIGQUIT
        return server

    return launch(make, ["postgres"], d, host=host, preferred={"postgres": port} if port else None,
                  remove=made)


# --- MariaDB ------------------------------------------------------------------------------------

_MARIADB_SMALL = ["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M", "--skip-name-resolve"]


def mariadb(cert: CertFiles | None = None, ca_file: Path | None = None, host: str = "127.0.0.1",
            port: int | None = None, workdir: str | os.PathLike | None = None) -> LabService:
    """mariadb-install-db a new data directory and start mariadbd on `port` (or a free one):
    SSL with `cert` (and `ca_file` for client certificates), else `--skip-ssl`."""
    server_bin = require_binary("mariadbd", "mariadb-server")
    install_db = require_binary("mariadb-install-db", "mariadb-server")
    user = _owner(MARIADB_USER, "mariadb-server")
    made = workdir is None
    d = private_dir("mariadb", user) if workdir is None else Path(workdir)
    tls = install_cert(cert, d, user, "mariadb") if cert else None
    ca = None
    if tls and ca_file:
        ca = install_cert(CertFiles(Path(ca_file), Path(ca_file), Path(ca_file), None, ()), d, user, "client-ca").cert
    _fresh_data_dir("mariadb", d / "data", user, lambda data: _run_setup(
        [*run_as(user), install_db, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
         "--skip-test-db", *_MARIADB_SMALL], "mariadb-install-db", data.parent, data.parent / "install-db.log"))
    description = "MariaDB, " + ("SSL on" if cert else "SSL off (--skip-ssl)")

    def make(ports: dict[str, int]) -> LabService:
        p = ports["mysql"]
        argv = [*run_as(user), server_bin, "--no-defaults", f"--datadir={d / 'data'}", f"--socket={d / 'mysqld.sock'}",
                f"--port={p}", f"--bind-address={host}", f"--pid-file={d / 'mysqld.pid'}",
                f"--log-error={d / 'error.log'}", "--skip-log-bin", "--performance-schema=OFF", *_MARIADB_SMALL]
        if tls:
            argv += [f"--ssl-cert={tls.chain}", f"--ssl-key={tls.key}"]
            if ca:
                argv.append(f"--ssl-ca={ca}")
        else:
            argv.append("--skip-ssl")
        server = LabService(argv, host=host, port=p, name="mariadb", protocol="mysql", tls=cert is not None,
                            description=description, workdir=d, remove_workdir=made, cwd=d,
                            error_log=d / "error.log")
        server.stop_signal = signal.SIGKILL  # its data directory is thrown away: no clean shutdown needed
        return server

    return launch(make, ["mysql"], d, host=host, preferred={"mysql": port} if port else None, remove=made)

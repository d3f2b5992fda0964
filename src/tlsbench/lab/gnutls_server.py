"""`gnutls-serv` as a lab TLS server with a GnuTLS priority string: GnuTLS still speaks suites the
local OpenSSL 3 no longer has at all (RC4, 3DES), which makes it the real server for the weak-cipher
enumeration tests."""

from __future__ import annotations

import os
from typing import Sequence

from tlsbench.lab.certs import CertFiles
from tlsbench.lab.processes import ManagedProcess, require_binary, start_on_free_port


def gnutls_server(cert: CertFiles, priority: str, host: str = "127.0.0.1", port: int | None = None,
                  log_dir: str | os.PathLike | None = None, extra_args: Sequence[str] = ()) -> ManagedProcess:
    """Start gnutls-serv on `port` (or a free one) with `priority` (e.g. "NORMAL:+3DES-CBC:+ARCFOUR-128")."""
    binary = require_binary("gnutls-serv", "gnutls-bin")

    def make(p: int) -> ManagedProcess:
        argv = [binary, "-p", str(p), "--x509certfile", str(cert.chain), "--x509keyfile", str(cert.key),
                "--priority", priority, *extra_args]
        return ManagedProcess(argv, host=host, port=p, name="gnutls-serv", log_dir=log_dir)

    return start_on_free_port(make, host, preferred=port)

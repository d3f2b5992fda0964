"""`openssl s_server` as a lab TLS server: chain choice, SNI, client certificates, versions,
ciphers and ALPN, each mapped to the s_server option of OpenSSL 3.0.

s_server handles one connection at a time but keeps accepting (no `-naccept`), so one server
serves a whole test session; a client that holds a connection open delays the next one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from tlsbench.lab.certs import CertFiles
from tlsbench.lab.processes import ManagedProcess, require_binary, start_on_free_port

Mode = Literal["www", "rev", "plain"]
_VERSION_FLAGS = {"1.2": "-tls1_2", "1.3": "-tls1_3", "1.1": "-tls1_1", "1.0": "-tls1"}


@dataclass(frozen=True)
class TlsServerOptions:
    """What the s_server should do. `send_chain=False` sends the leaf alone (missing intermediate)."""

    cert: CertFiles
    send_chain: bool = True
    # SNI: a second certificate served for `sni_name`; `sni_fatal` aborts on any other name.
    sni_name: str | None = None
    sni_cert: CertFiles | None = None
    sni_fatal: bool = False
    client_ca: Path | None = None  # when set, a client certificate from this CA is required
    tls_version: str | None = None  # "1.2" or "1.3": speak only that version
    no_tls1_3: bool = False
    cipher: str | None = None  # TLS 1.2 and below
    ciphersuites: str | None = None  # TLS 1.3
    alpn: Sequence[str] = ()
    # www: answers "GET /" with a status page; rev: echoes each line reversed; plain: reads, never answers
    mode: Mode = "www"
    extra_args: Sequence[str] = ()


class TlsServer(ManagedProcess):
    """A running `openssl s_server`; `host`, `port` and the `options` it was started with."""

    def __init__(self, argv, *, host: str, port: int, options: TlsServerOptions, **kw) -> None:
        super().__init__(argv, host=host, port=port, name="openssl-s_server", **kw)
        self.options = options

    @property
    def cert(self) -> CertFiles:
        return self.options.cert


def s_server_argv(openssl: str, host: str, port: int, o: TlsServerOptions) -> list[str]:
    accept = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    argv = [openssl, "s_server", "-accept", accept, "-cert", str(o.cert.cert), "-key", str(o.cert.key),
            # No system CA directories: the lab's trust must come only from the files given here.
            "-no-CAfile", "-no-CApath", "-no-CAstore"]
    if o.send_chain and o.cert.issuers:
        argv += ["-cert_chain", str(o.cert.issuers)]
    if o.sni_name:
        argv += ["-servername", o.sni_name]
        if o.sni_cert is not None:
            # s_server has no chain option for -cert2: `certs.alt` is issued by the root for that.
            argv += ["-cert2", str(o.sni_cert.cert), "-key2", str(o.sni_cert.key)]
        if o.sni_fatal:
            argv.append("-servername_fatal")
    if o.client_ca is not None:
        argv += ["-Verify", "1", "-CAfile", str(o.client_ca), "-verify_return_error"]
    if o.tls_version:
        argv.append(_VERSION_FLAGS[o.tls_version])
    elif o.no_tls1_3:
        argv.append("-no_tls1_3")
    if o.cipher:
        argv += ["-cipher", o.cipher]
    if o.ciphersuites:
        argv += ["-ciphersuites", o.ciphersuites]
    if o.alpn:
        argv += ["-alpn", ",".join(o.alpn)]
    if o.mode == "www":
        argv.append("-www")
    elif o.mode == "rev":
        argv += ["-rev", "-ign_eof"]
    else:
        argv.append("-ign_eof")  # stdin is /dev/null: its EOF must not end the connection
    argv += list(o.extra_args)
    return argv


def openssl_server(options: TlsServerOptions, host: str = "127.0.0.1", port: int | None = None,
                   log_dir: str | os.PathLike | None = None) -> TlsServer:
    """Start s_server on `port` (or a free one) and return it once it accepts; use as a context
    manager or call `.stop()`."""
    openssl = require_binary("openssl")

    def make(p: int) -> TlsServer:
        return TlsServer(s_server_argv(openssl, host, p, options), host=host, port=p, options=options,
                         log_dir=log_dir)

    return start_on_free_port(make, host, preferred=port)

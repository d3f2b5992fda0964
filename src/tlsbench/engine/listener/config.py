"""What a listener is asked to do, checked before anything binds; and its TLS server context."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from typing import Literal

from tlsbench.engine.findings.checks import check_alpn, check_input_file, set_alpn
from tlsbench.errors import InputError

ReplyMode = Literal["echo", "text", "http"]
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_TOTAL_TIMEOUT = 60.0
MAX_SECONDS = 86400.0


@dataclass(frozen=True)
class ListenerConfig:
    bind: str = "127.0.0.1"
    port: int = 0
    backlog: int = 16
    tls: bool = False
    cert: str | None = None  # PEM; may hold the key too
    key: str | None = None
    names: tuple[str, ...] = ()  # extra SANs for the self-signed certificate
    alpn: tuple[str, ...] = ()
    require_client_cert: bool = False
    client_ca: str | None = None
    reply_mode: ReplyMode = "echo"
    reply_text: str = ""
    pause_accept: bool = False
    client_timeout: float = 10.0  # the idle deadline: nothing received for this long
    handshake_timeout: float | None = None  # from accept to the end of the TLS handshake (None: 10 s)
    total_timeout: float | None = None  # a connection's whole life (None: max(60 s, 6 x client_timeout))
    max_clients: int | None = None
    read_cap: int = 1 << 20  # bytes read from one client before it is cut off
    first_bytes_cap: int = 4096  # bytes kept in the `data` event

    def is_loopback(self) -> bool:
        return ipaddress.ip_address(self.bind).is_loopback

    def family_is_v6(self) -> bool:
        return ipaddress.ip_address(self.bind).version == 6

    def handshake_limit(self) -> float:
        return self.handshake_timeout if self.handshake_timeout is not None else DEFAULT_HANDSHAKE_TIMEOUT

    def total_limit(self) -> float:
        if self.total_timeout is not None:
            return self.total_timeout
        return max(DEFAULT_TOTAL_TIMEOUT, self.client_timeout * 6)


def checked(config: ListenerConfig) -> ListenerConfig:
    """The config with its address normalised; raises InputError naming the first thing wrong."""
    bind = config.bind.strip()
    if bind == "localhost":
        bind = "127.0.0.1"
    if bind.startswith("[") and bind.endswith("]"):
        bind = bind[1:-1]
    try:
        bind = str(ipaddress.ip_address(bind))
    except ValueError:
        raise InputError(f"bind address {config.bind!r} is not an IP address (e.g. 127.0.0.1 or ::1)",
                         field="bind") from None
    if not 0 <= config.port <= 65535:
        raise InputError(f"port {config.port} is out of range (0-65535; 0 picks a free port)", field="port")
    if not 1 <= config.backlog <= 65535:
        raise InputError(f"backlog {config.backlog} is out of range (1-65535)", field="backlog")
    if not 0 < config.client_timeout <= 3600:
        raise InputError(f"client timeout {config.client_timeout} is out of range (0-3600 seconds)",
                         field="client_timeout")
    for name, value in (("handshake_timeout", config.handshake_timeout), ("total_timeout", config.total_timeout)):
        if value is not None and not 0 < value <= MAX_SECONDS:
            raise InputError(f"{name.replace('_', ' ')} {value} is out of range (0-{MAX_SECONDS:g} seconds)",
                             field=name)
    if config.max_clients is not None and config.max_clients < 1:
        raise InputError(f"max clients {config.max_clients} must be at least 1", field="max_clients")
    if config.key and not config.cert:
        raise InputError("--key needs --cert", field="key")
    if config.require_client_cert and not config.client_ca:
        raise InputError("--require-client-cert needs --client-ca FILE (the CA that signs client certificates)",
                         field="client_ca")
    check_alpn(config.alpn, "ALPN")
    for label, path in (("certificate", config.cert), ("key", config.key), ("client CA", config.client_ca)):
        if path:
            check_input_file(path, label, f"{label} file")
    from dataclasses import replace

    return replace(config, bind=bind)


def server_context(config: ListenerConfig, cert_path: str, key_path: str | None) -> ssl.SSLContext:
    """A TLS server context for the listener; InputError when the files do not load."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        reason = str(getattr(exc, "reason", "") or exc)
        if "KEY_VALUES_MISMATCH" in reason.upper():
            raise InputError(f"the key {key_path} does not match the certificate {cert_path}", field="key") from None
        raise InputError(f"cannot load the certificate/key ({cert_path}): {reason}", field="cert") from None
    except OSError as exc:
        raise InputError(f"cannot read the certificate/key ({cert_path}): {exc.strerror or exc}",
                         field="cert") from None
    if config.alpn:
        set_alpn(ctx, config.alpn)
    if config.require_client_cert and config.client_ca:
        try:
            ctx.load_verify_locations(cafile=config.client_ca)
        except (ssl.SSLError, OSError) as exc:
            raise InputError(f"cannot load the client CA {config.client_ca}: {exc}", field="client_ca") from None
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx

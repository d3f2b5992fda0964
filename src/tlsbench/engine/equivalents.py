""""Copy as command": the same connection as `tlsbench probe`, `curl` and `openssl s_client` command lines.

Each command comes with what it cannot express, so nobody mistakes a near miss for the same test.
Command lines are for a POSIX shell: every argument goes through shlex.quote, and a proxy password
is never written out — it is referenced as "${VAR}" so the shell fills it in.

curl 7.88 facts checked on loopback: `--resolve` works behind --socks4/--socks5 (curl resolves the
name) but is ignored behind --socks4a/--socks5-hostname; `--connect-to` works with every proxy type,
so it carries the pin there. curl has no SNI option: an SNI override is emulated by putting the SNI
name in the URL and `--connect-to` it onto the real host.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from tlsbench.engine.spec import PROXY_PASSWORD_ENV, ConnectionSpec, format_hostport, is_ip

_CURL_PROXY = {"socks4": "--socks4", "socks4a": "--socks4a", "socks5": "--socks5", "socks5h": "--socks5-hostname"}
_OPENSSL_VERSION = {"1.0": "TLSv1", "1.1": "TLSv1.1", "1.2": "TLSv1.2", "1.3": "TLSv1.3"}
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Equivalent:
    """One tool's command line. `words` are shell words, already quoted; empty when not possible."""

    tool: str
    words: tuple[str, ...]
    cannot: tuple[str, ...] = ()  # what this command line cannot express (differences that matter)
    notes: tuple[str, ...] = ()  # how an option was translated, or what to run first

    @property
    def available(self) -> bool:
        return bool(self.words)

    @property
    def command(self) -> str:
        return " ".join(self.words)

    def as_text(self) -> str:
        lines = [self.command] if self.available else [f"# {self.tool}: no equivalent command line"]
        lines += [f"# note: {n}" for n in self.notes]
        lines += [f"# cannot express: {c}" for c in self.cannot]
        return "\n".join(lines)


@dataclass(frozen=True)
class Equivalents:
    tlsbench: Equivalent
    curl: Equivalent
    openssl: Equivalent

    def all(self) -> tuple[Equivalent, Equivalent, Equivalent]:
        return (self.tlsbench, self.curl, self.openssl)

    def as_text(self) -> str:
        """All three, ready for the clipboard: commands first, their limits as shell comments."""
        return "\n\n".join(e.as_text() for e in self.all()) + "\n"


def equivalent_commands(spec: ConnectionSpec) -> Equivalents:
    return Equivalents(tlsbench_command(spec), curl_command(spec), openssl_command(spec))


# --- helpers -----------------------------------------------------------------------------------

def _q(text: str | int | float) -> str:
    return shlex.quote(str(text))


def _password_ref(spec: ConnectionSpec) -> tuple[str, str | None]:
    """The variable holding the proxy password, and a note when the user must set it first."""
    proxy = spec.proxy
    assert proxy is not None
    if proxy.password_env:
        return proxy.password_env, None
    return PROXY_PASSWORD_ENV, f"set {PROXY_PASSWORD_ENV} to the proxy password first (it is not copied)"


def _user_with_password(user: str, var: str) -> str:
    # 'user:' quoted, then "${VAR}" in double quotes so the shell expands it without word splitting.
    return shlex.quote(f"{user}:") + f'"${{{var}}}"'


def _printf_words(text: str) -> list[str]:
    """`printf 'FORMAT'` that prints exactly `text` (control characters as escapes, % doubled)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "%":
            out.append("%%")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03o}")
        else:
            out.append(ch)
    return ["printf", _q("".join(out))]


def _verification_name(spec: ConnectionSpec) -> str:
    """The name tlsbench checks the certificate against (as engine.stages.tls does): the host,
    or the SNI override when the host is an IP address."""
    tls = spec.tls
    if tls.sni_mode == "override" and tls.sni_name and is_ip(spec.host):
        return tls.sni_name.rstrip(".")
    return spec.host.rstrip(".")


def _host_header(spec: ConnectionSpec) -> str:
    default = 443 if spec.tls.enabled else 80
    return _url_host(spec.host) if spec.port == default else format_hostport(spec.host, spec.port)


def _http_request(spec: ConnectionSpec) -> str:
    return f"GET {spec.app.path} HTTP/1.1\r\nHost: {_host_header(spec)}\r\nConnection: close\r\n\r\n"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --- tlsbench probe ------------------------------------------------------------------------------

def tlsbench_command(spec: ConnectionSpec) -> Equivalent:
    words = ["tlsbench", "probe", _q(spec.target)]
    cannot: list[str] = []
    notes: list[str] = []
    if spec.proxy is not None:
        words += [f"--{spec.proxy.kind}", _q(format_hostport(spec.proxy.host, spec.proxy.port))]
        if spec.proxy.username:
            words += ["--proxy-user", _q(spec.proxy.username)]
            var, note = _password_ref(spec)
            if var != PROXY_PASSWORD_ENV:
                words += ["--proxy-password-env", _q(var)]
            if note:
                notes.append(note)
    if spec.pin:
        words += ["--pin", _q(spec.pin)]
    tls = spec.tls
    if not tls.enabled:
        words.append("--no-tls")
    else:
        if tls.sni_mode == "override" and tls.sni_name:
            words += ["--sni", _q(tls.sni_name)]
        elif tls.sni_mode == "none":
            words.append("--no-sni")
        for flag, value in (("--tls-min", tls.min_version), ("--tls-max", tls.max_version),
                            ("--ciphers", tls.ciphers)):
            if value:
                words += [flag, _q(value)]
        if tls.alpn:
            words += ["--alpn", _q(",".join(tls.alpn))]
        if tls.verify == "off":
            words.append("--insecure")
        elif tls.verify == "cafile" and tls.cafile:
            words += ["--cafile", _q(tls.cafile)]
        if tls.cert:
            words += ["--cert", _q(tls.cert)]
        if tls.key:
            words += ["--key", _q(tls.key)]
    if spec.timeout != DEFAULT_TIMEOUT:
        words += ["--timeout", _q(f"{spec.timeout:g}")]
    if spec.app.http:
        words.append("--http")
        if spec.app.path != "/":
            cannot.append(f"the HTTP path {spec.app.path!r}: probe --http always asks for /")
    elif spec.app.send is not None:
        from tlsbench.engine.checks import escape_text

        words += ["--send", _q(escape_text(spec.app.send))]
    return Equivalent("tlsbench", tuple(words), tuple(cannot), tuple(notes))


# --- curl ----------------------------------------------------------------------------------------

def curl_command(spec: ConnectionSpec) -> Equivalent:
    words = ["curl", "-v"]
    cannot: list[str] = []
    notes: list[str] = []
    prefix: list[str] = []
    tls = spec.tls
    url_host = spec.host
    port = spec.port

    if spec.proxy is not None:
        words += [_CURL_PROXY[spec.proxy.kind], _q(format_hostport(spec.proxy.host, spec.proxy.port))]
        if spec.proxy.username:
            var, note = _password_ref(spec)
            words += ["--proxy-user", _user_with_password(spec.proxy.username, var)]
            if note:
                notes.append(note)

    # Where the TCP connection (or the proxy request) really goes, when not to the URL's host.
    connect_to = spec.pin
    if tls.enabled and tls.sni_mode == "override" and tls.sni_name:
        url_host = tls.sni_name
        connect_to = connect_to or spec.host
        notes.append(f"curl has no SNI option: the URL names {tls.sni_name} (sent as SNI and verified in the "
                     f"certificate) and --connect-to sends the connection to {connect_to}")
        if tls.verify != "off" and _verification_name(spec) != tls.sni_name.rstrip("."):
            cannot.append(f"checking the certificate against {_verification_name(spec)} while sending SNI "
                          f"{tls.sni_name}: with this trick curl checks it against {tls.sni_name}")
    if connect_to and spec.proxy is None and url_host == spec.host:
        words += ["--resolve", _q(f"{_url_host(spec.host)}:{port}:{_url_host(connect_to)}")]
    elif connect_to:
        words += ["--connect-to", _q(f"{_url_host(url_host)}:{port}:{_url_host(connect_to)}:{port}")]
        if spec.pin and spec.proxy is not None:
            notes.append("curl ignores --resolve behind --socks4a/--socks5-hostname, so the pin is given with "
                         "--connect-to: the proxy is asked for the pinned address")

    if tls.enabled:
        scheme = "https"
        if tls.sni_mode == "none" and not is_ip(spec.host):
            cannot.append("sending no SNI: curl always sends the URL's host name as SNI")
        if tls.verify == "off":
            words.append("-k")
        elif tls.verify == "cafile" and tls.cafile:
            words += ["--cacert", _q(tls.cafile), "--capath", "/dev/null"]
            notes.append("--capath /dev/null keeps curl from also trusting the system CA directory")
        if tls.cert:
            words += ["--cert", _q(tls.cert)]
        if tls.key:
            words += ["--key", _q(tls.key)]
        if tls.min_version:
            words.append(f"--tlsv{tls.min_version}")
        if tls.max_version:
            words += ["--tls-max", tls.max_version]
        if tls.ciphers:
            words += ["--ciphers", _q(tls.ciphers)]
            if tls.max_version != "1.2":
                notes.append("--ciphers applies to TLS 1.2 and below, as in tlsbench")
        words += _curl_alpn(tls.alpn, cannot)
        if spec.app.send is not None:
            cannot.append("sending arbitrary text over TLS: curl speaks HTTP here (use openssl s_client)")
        elif not spec.app.http:
            cannot.append("a bare TLS handshake: curl always sends an HTTP request once connected")
    else:
        scheme = "http" if spec.app.http else "telnet"
        if spec.app.send is not None:
            prefix = _printf_words(spec.app.send) + ["|"]
        elif not spec.app.http:
            notes.append("telnet:// connects and relays the terminal: type to send, Ctrl-C to quit")
    words += ["--connect-timeout", _q(f"{spec.timeout:g}")]
    cannot.append(f"a per-stage timeout: --connect-timeout {spec.timeout:g} covers TCP, proxy and TLS together")
    if url_host != spec.host and spec.app.http:
        words += ["-H", _q(f"Host: {_host_header(spec)}")]
    path = "" if scheme == "telnet" else spec.app.path
    words.append(_q(f"{scheme}://{_url_host(url_host)}:{port}{path}"))
    return Equivalent("curl", tuple(prefix + words), tuple(cannot), tuple(notes))


def _curl_alpn(alpn: tuple[str, ...], cannot: list[str]) -> list[str]:
    """curl has no --alpn; its HTTP version options decide what it offers."""
    if not alpn:
        return ["--no-alpn"]
    if alpn == ("http/1.1",):
        return ["--http1.1"]
    if alpn == ("h2", "http/1.1"):
        return ["--http2"]
    cannot.append(f"ALPN {','.join(alpn)}: curl has no --alpn option; it offers only what --http1.1 "
                  "(http/1.1) or --http2 (h2,http/1.1) select")
    return []


# --- openssl s_client ----------------------------------------------------------------------------

def openssl_command(spec: ConnectionSpec) -> Equivalent:
    tls = spec.tls
    if not tls.enabled:
        return Equivalent("openssl", (), ("plain TCP: openssl s_client always starts a TLS handshake; "
                                          "use curl telnet://, nc or socat instead",))
    cannot: list[str] = []
    notes: list[str] = []
    connect_host = spec.pin or spec.host
    words = ["openssl", "s_client", "-connect", _q(format_hostport(connect_host, spec.port))]
    if spec.proxy is not None:
        cannot.append(f"the {spec.proxy.kind.upper()} proxy: s_client has no SOCKS support (its -proxy option "
                      "is HTTP CONNECT only)")
        notes.append(_socks_wrapper_note(spec))
    sni = spec.sni
    words += ["-servername", _q(sni)] if sni else ["-noservername"]
    if tls.verify != "off":
        words.append("-verify_return_error")
        name = _verification_name(spec)
        if is_ip(name):
            words += ["-verify_ip", _q(name)]
        else:
            words += ["-verify_hostname", _q(name.rstrip("."))]
        if tls.verify == "cafile" and tls.cafile:
            words += ["-CAfile", _q(tls.cafile), "-no-CApath", "-no-CAstore"]
    else:
        notes.append("without -verify_return_error s_client reports verification errors but goes on, like --insecure")
    if tls.cert:
        words += ["-cert", _q(tls.cert)]
    if tls.key:
        words += ["-key", _q(tls.key)]
    if tls.min_version:
        words += ["-min_protocol", _OPENSSL_VERSION[tls.min_version]]
    if tls.max_version:
        words += ["-max_protocol", _OPENSSL_VERSION[tls.max_version]]
    if tls.ciphers:
        words += ["-cipher", _q(tls.ciphers)]
    if tls.alpn:
        words += ["-alpn", _q(",".join(tls.alpn))]
    words.append("-showcerts")
    prefix: list[str] = []
    if spec.app.http or spec.app.send is not None:
        text = _http_request(spec) if spec.app.http else spec.app.send or ""
        prefix = _printf_words(text) + ["|"]
        words.append("-ign_eof")
        if spec.app.http and "h2" in tls.alpn:
            notes.append("the request is HTTP/1.1 text: if the server picks h2 through ALPN it will not answer it")
        notes.append("-ign_eof keeps the connection open after the text is sent, until the server closes it")
    cannot.append(f"the per-stage timeout ({spec.timeout:g} s): s_client has no connect timeout")
    return Equivalent("openssl", tuple(prefix + words), tuple(cannot), tuple(notes))


def _socks_wrapper_note(spec: ConnectionSpec) -> str:
    proxy = spec.proxy
    assert proxy is not None
    dest = format_hostport(spec.pin or spec.host, spec.port)
    if proxy.kind in ("socks4", "socks4a"):
        relay = (f"socat TCP-LISTEN:9443,bind=127.0.0.1,reuseaddr,fork "
                 f"{proxy.kind.upper()}:{_url_host(proxy.host)}:{dest},socksport={proxy.port}")
    else:
        auth = f" --proxy-auth {proxy.username}:PASSWORD" if proxy.username else ""
        dns = " --proxy-dns remote" if proxy.remote_dns else ""
        relay = (f"ncat -l 127.0.0.1 9443 --keep-open --sh-exec "
                 f"'ncat --proxy {format_hostport(proxy.host, proxy.port)} --proxy-type socks5{auth}{dns} "
                 f"{spec.pin or spec.host} {spec.port}'")
    return (f"to go through the proxy, run a local relay first, e.g. `{relay}`, then use "
            f"-connect 127.0.0.1:9443 (keep -servername)")

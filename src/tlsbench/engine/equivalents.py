""""Copy as command": the same connection as `tlsbench probe`, `curl` and `openssl s_client` command lines.

Each command comes with what it cannot express, so nobody mistakes a near miss for the same test.
Command lines are for a POSIX shell: every argument goes through shlex.quote, and a proxy password
is never written out — it is referenced as "${VAR}" so the shell fills it in.

curl 7.88 facts checked on loopback: `--resolve` works behind --socks4/--socks5 (curl resolves the
name) but is ignored behind the SOCKS options that let the proxy resolve it; `--connect-to` works with every proxy type,
so it carries the pin there. curl has no SNI option: an SNI override is emulated by putting the SNI
name in the URL and `--connect-to` it onto the real host.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from tlsbench.engine.hops.starttls.protocols import DIALOGUES
from tlsbench.engine.route.proxykinds import TYPES
from tlsbench.engine.spec import PROXY_PASSWORD_ENV, ConnectionSpec, format_hostport, is_ip

_CURL_PROXY = {k: t.curl for k, t in TYPES.items() if t.curl}
_CURL_REMOTE_DNS = "/".join(t.curl for t in TYPES.values() if t.curl and t.remote_dns)
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
    """The variable holding the (last) proxy's password, and a note when the user must set it first."""
    proxy = spec.proxies[-1]
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
    """The probe command line, from the option declarations: every value that is not a default."""
    from tlsbench.engine.options import command_words, values_of

    values = values_of(spec)
    values["proxies"] = [hop for hop in spec.proxies if hop.source is None]
    words = ["tlsbench", "probe", _q(spec.target)] + [_q(w) for w in command_words(values)]
    notes: list[str] = []
    if any(h.source for h in spec.proxies):
        notes.append("the proxy came from $" + next(h.source for h in spec.proxies if h.source)
                     + "; the command line takes it from there too")
    for hop in spec.proxies:
        if hop.username and hop.password_env in (None, PROXY_PASSWORD_ENV) and not hop.declared.program:
            notes.append(f"set {PROXY_PASSWORD_ENV} to the password of {hop.username}@{hop.address} first "
                         "(it is not copied)")
    cannot = [f"the password variable {h.password_env} of hop {i} (only the last hop's can be given)"
              for i, h in enumerate(spec.proxies[:-1], 1) if h.password_env not in (None, PROXY_PASSWORD_ENV)]
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

    hops = spec.proxies
    if hops and hops[0].declared.program:
        cannot.append(_program_hop_cannot(spec, "curl"))
        notes.append(_program_hop_note(spec, "curl --connect-to NEXT:127.0.0.1:9443 in its place"))
        hops = ()
    if len(hops) > 2 or (len(hops) == 2 and not hops[0].is_socks):
        cannot.append(f"a chain of {len(hops)} proxies: curl takes at most two, the first a SOCKS one "
                      "(--preproxy SOCKS -x PROXY)")
    elif len(hops) == 2:
        first = hops[0]
        if first.username:
            cannot.append("credentials for the --preproxy hop (curl reads them only from its URL)")
        words += ["--preproxy", _q(f"{first.kind}://{first.address}")]
    if hops and (len(hops) <= 2):
        proxy = hops[-1]
        if proxy.kind in _CURL_PROXY:
            words += [_CURL_PROXY[proxy.kind], _q(proxy.address)]
        else:
            words += ["-x", _q(f"{proxy.kind}://{proxy.address}")]
        if proxy.username:
            var, note = _password_ref(spec)
            words += ["--proxy-user", _user_with_password(proxy.username, var)]
            if note:
                notes.append(note)
        if proxy.declared.tls:
            if proxy.insecure:
                words.append("--proxy-insecure")
            elif proxy.cafile:
                words += ["--proxy-cacert", _q(os.path.expanduser(proxy.cafile))]

    words += _curl_dns(spec, cannot, notes)

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
            notes.append(f"curl ignores --resolve behind {_CURL_REMOTE_DNS}, so the pin is given with "
                         "--connect-to: the proxy is asked for the pinned address")

    if tls.enabled:
        scheme = "https"
        if tls.sni_mode == "none" and not is_ip(spec.host):
            cannot.append("sending no SNI: curl always sends the URL's host name as SNI")
        if tls.verify == "off":
            words.append("-k")
        elif tls.verify == "cafile" and tls.cafile:
            words += ["--cacert", _q(os.path.expanduser(tls.cafile)), "--capath", "/dev/null"]
            notes.append("--capath /dev/null keeps curl from also trusting the system CA directory")
        if tls.cert:
            words += ["--cert", _q(os.path.expanduser(tls.cert))]
        if tls.key:
            words += ["--key", _q(os.path.expanduser(tls.key))]
        if tls.min_version:
            words.append(f"--tlsv{tls.min_version}")
        if tls.max_version:
            words += ["--tls-max", tls.max_version]
        if tls.ciphers:
            words += ["--ciphers", _q(tls.ciphers)]
            if tls.max_version != "1.2":
                notes.append("--ciphers applies to TLS 1.2 and below, as in tlsbench")
        if spec.app.http3 != "off":
            # curl --http3 offers h2,http/1.1 on its TCP attempt; tlsbench offers what --alpn says there
            words.append("--http3" if spec.app.http3 == "race" else "--http3-only")
            notes.append("curl --http3 starts TCP when QUIC has not connected after a short time and uses "
                         "whichever connects; tlsbench runs both and says which would have won "
                         "(Debian 12's curl 7.88 has no HTTP/3)")
        else:
            words += _curl_alpn(tls.alpn, cannot)
        if tls.keylog:
            words[:0] = [f"SSLKEYLOGFILE={_q(os.path.expanduser(tls.keylog))}"]  # curl reads it from the environment
        if tls.reconnect:
            cannot.append("--reconnect: curl makes one connection per URL (give the URL twice to reuse a session)")
        if tls.check_revocation:
            cannot.append("--check-revocation: curl checks only a stapled OCSP response (--cert-status)")
        if tls.groups:
            words += ["--curves", _q(":".join(tls.groups))]
            notes.append("--curves sets the groups of curl's own handshake (X25519MLKEM768 needs curl on OpenSSL 3.5 "
                         "or later); tlsbench offers them in a second connection of its own")
        if spec.app.send is not None:
            cannot.append("sending arbitrary text over TLS: curl speaks HTTP here (use openssl s_client)")
        elif not spec.app.http:
            cannot.append("a bare TLS handshake: curl always sends an HTTP request once connected")
        if spec.starttls.protocol:
            cannot.append(f"--starttls {spec.starttls.protocol}: curl upgrades only inside a transfer of its own "
                          "(smtp://, imap://, pop3://, ftp:// with --ssl-reqd), never before another protocol")
    else:
        scheme = "http" if spec.app.http else "telnet"
        if spec.app.send is not None:
            prefix = _printf_words(spec.app.send) + ["|"]
        elif not spec.app.http:
            notes.append("telnet:// connects and relays the terminal: type to send, Ctrl-C to quit")
    words += _switch_words(spec, "curl", cannot)
    words += ["--connect-timeout", _q(f"{spec.timeout:g}")]
    cannot.append(f"a per-stage timeout: --connect-timeout {spec.timeout:g} covers TCP, proxy and TLS together")
    if url_host != spec.host and spec.app.http:
        words += ["-H", _q(f"Host: {_host_header(spec)}")]
    path = "" if scheme == "telnet" else spec.app.path
    words.append(_q(f"{scheme}://{_url_host(url_host)}:{port}{path}"))
    return Equivalent("curl", tuple(prefix + words), tuple(cannot), tuple(notes))


def _curl_dns(spec: ConnectionSpec, cannot: list[str], notes: list[str]) -> list[str]:
    """curl's --doh-url and --dns-servers (curl has no DNS over TLS)."""
    dns = spec.dns
    if dns.doh_url:
        if dns.cafile and not spec.tls.enabled:
            notes.append("curl's --cacert verifies the DoH server too, as tlsbench's --cafile does")
        return ["--doh-url", _q(dns.doh_url)]
    plain = [s for s in dns.servers if not s.startswith("tls://")]
    dot = [s for s in dns.servers if s.startswith("tls://")]
    if dot:
        cannot.append(f"DNS over TLS ({', '.join(dot)}): curl has no DoT client; its encrypted DNS is --doh-url")
    if not plain:
        return []
    notes.append("--dns-servers works only in a curl built with c-ares (curl -V lists AsynchDNS with c-ares)")
    return ["--dns-servers", _q(",".join(plain))]


def _switch_words(spec: ConnectionSpec, tool: str, cannot: list[str]) -> list[str]:
    """The switches the options declare for this tool (options.peer_switches), or what it lacks."""
    from tlsbench.engine.options import peer_switches, values_of

    values = values_of(spec)
    words: list[str] = []
    for option in peer_switches():
        if values.get(option.name) is True:
            spelled = option.curl if tool == "curl" else option.openssl
            if spelled:
                words.append(spelled)
            else:
                cannot.append(f"{option.flags[0].names[0]} ({option.describe or option.name}): {tool} has no "
                              "option for it")
    return words


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
    hops = spec.proxies
    if len(hops) == 1 and hops[0].kind == "http":
        words += ["-proxy", _q(hops[0].address)]
        if hops[0].username:
            var, note = _password_ref(spec)
            words += ["-proxy_user", _q(hops[0].username), "-proxy_pass", _q(f"env:{var}")]
            if note:
                notes.append(note)
    elif len(hops) == 1 and hops[0].is_socks:
        cannot.append(f"the {hops[0].kind.upper()} proxy: s_client has no SOCKS support (its -proxy option "
                      "is HTTP CONNECT only)")
        notes.append(_socks_wrapper_note(spec))
    elif hops and hops[0].declared.program:
        cannot.append(_program_hop_cannot(spec, "s_client"))
        notes.append(_program_hop_note(spec, "-connect 127.0.0.1:9443 in its place (keep -servername)"))
    elif hops:
        what = "an HTTPS proxy" if len(hops) == 1 else f"a chain of {len(hops)} proxies"
        cannot.append(f"{what}: s_client's -proxy speaks plain HTTP CONNECT to one proxy")
    upgrade = spec.starttls
    if upgrade.protocol == "auto":
        cannot.append("--starttls auto: s_client needs the protocol named (-starttls smtp, imap, ...)")
    elif upgrade.protocol:
        words += ["-starttls", upgrade.protocol]
        declared = DIALOGUES.get(upgrade.protocol)
        if declared is not None and declared.says_name and upgrade.name != "mail.example.com":
            words += ["-name", _q(upgrade.name)]
        if declared is not None and declared.says_host:
            words += ["-xmpphost", _q(upgrade.xmpphost or spec.host)]
        if upgrade.protocol == "irc":
            notes.append("s_client sends STARTTLS without asking CAP LS first, and waits up to 8 s for 670 or 691")
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
            words += ["-CAfile", _q(os.path.expanduser(tls.cafile)), "-no-CApath", "-no-CAstore"]
    else:
        notes.append("without -verify_return_error s_client reports verification errors but goes on, like --insecure")
    if tls.cert:
        words += ["-cert", _q(os.path.expanduser(tls.cert))]
    if tls.key:
        words += ["-key", _q(os.path.expanduser(tls.key))]
    if tls.min_version:
        words += ["-min_protocol", _OPENSSL_VERSION[tls.min_version]]
    if tls.max_version:
        words += ["-max_protocol", _OPENSSL_VERSION[tls.max_version]]
    if tls.ciphers:
        words += ["-cipher", _q(tls.ciphers)]
    if tls.alpn:
        words += ["-alpn", _q(",".join(tls.alpn))]
    if spec.app.http3 != "off":
        cannot.append("HTTP/3 over QUIC: s_client speaks TLS over TCP only" + (
            "; this is the TCP attempt" if spec.app.http3 == "race" else ""))
    if tls.keylog:
        words += ["-keylogfile", _q(os.path.expanduser(tls.keylog))]
    if tls.reconnect:
        words.append("-reconnect")
    if tls.groups:
        words += ["-groups", _q(":".join(tls.groups))]
        notes.append("-groups sets the groups of s_client's own handshake (X25519MLKEM768 needs OpenSSL 3.5 or "
                     "later); tlsbench offers them in a second connection of its own")
    if tls.check_revocation:
        cannot.append("--check-revocation: s_client does not ask OCSP responders or CRLs (openssl ocsp -issuer "
                      "ISSUER -cert LEAF -url URL does)")
    words += _switch_words(spec, "openssl", cannot)
    words.append("-showcerts")
    prefix: list[str] = []
    if spec.app.http or spec.app.send is not None:
        text = _http_request(spec) if spec.app.http else spec.app.send or ""
        prefix = _printf_words(text) + ["|"]
        words.append("-ign_eof")
        if spec.app.http and "h2" in tls.alpn:
            notes.append("the request is HTTP/1.1 text: if the server picks h2 through ALPN it will not answer it")
        notes.append("-ign_eof keeps the connection open after the text is sent, until the server closes it")
    if spec.dns.decides:
        cannot.append("--dns-servers/--doh-url: s_client resolves the name with the system resolver "
                      "(give -connect the address tlsbench's lookup found)")
    cannot.append(f"the per-stage timeout ({spec.timeout:g} s): s_client has no connect timeout")
    return Equivalent("openssl", tuple(prefix + words), tuple(cannot), tuple(notes))


def _socks_wrapper_note(spec: ConnectionSpec) -> str:
    proxy = spec.proxies[0]
    dest = format_hostport(spec.pin or spec.host, spec.port)
    if proxy.declared.socks == 4:
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


def _program_hop_cannot(spec: ConnectionSpec, tool: str) -> str:
    hop = spec.proxies[0]
    more = f" (nor the {len(spec.proxies) - 1} hop(s) behind it)" if len(spec.proxies) > 1 else ""
    return f"the {hop.kind}:// hop{more}: {tool} cannot go through {hop.declared.program} -W"


def _program_hop_note(spec: ConnectionSpec, then: str) -> str:
    """A local forward in front of the tool: `ssh -N -L` to the address the hop's -W names."""
    hop = spec.proxies[0]
    nxt = spec.proxies[1].address if len(spec.proxies) > 1 else format_hostport(spec.pin or spec.host, spec.port)
    user = f" -l {_q(hop.username)}" if hop.username else ""
    forward = f"ssh -N -L 127.0.0.1:9443:{nxt} -p {hop.port}{user} {_q(hop.host)}"
    return f"to go through the {hop.kind}:// hop, forward a local port first, e.g. `{forward}`, then use " + \
        then.replace("NEXT", nxt)

"""What people paste, as a value set: `HOST:PORT`, a URL, a `tlsbench probe`, `curl` or `openssl s_client` line.

The inverse of "copy as command". `parse_pasted(text)` returns the option values (engine/options.py)
and, in words, everything the line asked for that tlsbench does not carry over — output options
included — so nothing is dropped silently. `url_values(url)` is what `tlsbench probe URL` uses.
"""

from __future__ import annotations

import shlex
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from tlsbench.engine.argv import UsageError, probe_parser, values_from_args
from tlsbench.errors import InputError
from tlsbench.engine.route.hostport import format_hostport, is_ip, split_hostport
from tlsbench.engine.options import HTTP2_ALPN, finish_flags, peer_switches
from tlsbench.engine.route.proxykinds import TYPES

URL_PORTS = {"https": 443, "http": 80}


# Headers whose value is a credential: a pasted command's note names them without their value.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


class Pasted(NamedTuple):
    source: str  # "hostport" | "url" | "tlsbench" | "curl" | "openssl"
    values: dict[str, Any]  # option values, "target" included
    dropped: tuple[str, ...] = ()  # what was not carried over, one phrase each


def url_values(text: str, what: str = "target") -> dict[str, Any]:
    """`https://host[:port]/path` -> TLS, an HTTP GET of path; `http://...` -> plain TCP and GET."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in URL_PORTS:
        raise InputError(f"{what} {text!r}: tlsbench takes http:// and https:// URLs (or HOST:PORT)", field="target")
    if parts.username or parts.password:
        raise InputError(f"{what}: credentials in the URL are not sent anywhere; remove them", field="target")
    host = parts.hostname
    if not host:
        raise InputError(f"{what} {text!r} has no host", field="target")
    try:
        port = parts.port or URL_PORTS[scheme]
    except ValueError:
        raise InputError(f"{what} {text!r}: the port is not a number in 1-65535", field="target") from None
    path = unquote(parts.path or "/") if not parts.query else f"{unquote(parts.path or '/')}?{parts.query}"
    values: dict[str, Any] = {"target": format_hostport(host, port), "app": "http", "path": path or "/"}
    if scheme == "http":
        values["tls"] = False
    return values


def parse_pasted(text: str) -> Pasted:
    line = " ".join(text.strip().split("\\\n"))  # a command continued over lines
    if not line:
        raise InputError("nothing to read: paste HOST:PORT, a URL, or a curl / openssl s_client / tlsbench line",
                         field="target")
    if "://" in line.split()[0]:
        return Pasted("url", url_values(line.split()[0]))
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise InputError(f"cannot read the pasted line ({exc})", field="target") from None
    head = words[0].rsplit("/", 1)[-1]
    if head == "curl":
        return _curl(words[1:])
    if head == "openssl" and len(words) > 1 and words[1] == "s_client":
        return _s_client(words[2:])
    if head == "tlsbench":
        return _tlsbench(words[1:])
    if head == "s_client":
        return _s_client(words[1:])
    if len(words) == 1:
        host, port = split_hostport(words[0], "target", default_port=443)
        return Pasted("hostport", {"target": format_hostport(host, port)})
    raise InputError(f"cannot read {words[0]!r}: paste HOST:PORT, a URL, or a curl / openssl s_client / "
                     "tlsbench probe line", field="target")


def _tlsbench(words: list[str]) -> Pasted:
    if words and words[0] == "probe":
        words = words[1:]
    try:
        args = probe_parser().parse_args(words)
    except UsageError as exc:
        raise InputError(f"tlsbench probe line: {exc}", field="target") from None
    values, _ = values_from_args(args)
    target = args.target
    if target and "://" in target:
        values = {**url_values(target), **values}
        target = values["target"]
    if not target:
        raise InputError("the tlsbench line names no target", field="target")
    values = finish_flags(values, target=target, tls=values.get("tls", True), environ=None, base={})
    values["target"] = target
    dropped = [f"--{name.replace('_', '-')}" for name in ("json", "profile", "save_profile", "count", "pcap")
               if getattr(args, name, None)]
    return Pasted("tlsbench", values, tuple(f"{d}: an output or run option, not part of the connection"
                                            for d in dropped))


# --- curl -------------------------------------------------------------------------------------------

_CURL_OUTPUT = {"-v", "--verbose", "-s", "--silent", "-S", "--show-error", "-o", "--output", "-O", "-w",
                "--write-out", "-i", "--include", "-L", "--location", "-f", "--fail", "--trace", "--trace-ascii",
                "-D", "--dump-header", "--compressed", "-#", "--progress-bar", "--stderr", "-N", "--no-buffer"}
_CURL_TAKES_VALUE = {"-o", "--output", "-w", "--write-out", "--trace", "--trace-ascii", "-D", "--dump-header",
                     "--stderr", "-m", "--max-time", "-A", "--user-agent", "-e", "--referer", "-b", "--cookie",
                     "-c", "--cookie-jar", "-X", "--request", "-d", "--data", "--data-raw", "--data-binary",
                     "-u", "--user", "--capath", "--tls13-ciphers", "--retry", "--limit-rate", "-r", "--range"}
_CURL_SOCKS = {t.curl: k for k, t in TYPES.items() if t.curl}
_TLS_VERSIONS = {"--tlsv1": "1.0", "--tlsv1.0": "1.0", "--tlsv1.1": "1.1", "--tlsv1.2": "1.2", "--tlsv1.3": "1.3"}


def _curl_switches() -> dict[str, str]:
    """curl's switches that options declare one to one (options.peer_switches): flag -> option name."""
    return {o.curl: o.name for o in peer_switches() if o.curl}


def _s_client_switches() -> dict[str, str]:
    return {o.openssl: o.name for o in peer_switches() if o.openssl}


def _split_option(word: str) -> tuple[str, str | None]:
    if word.startswith("--") and "=" in word:
        name, _, value = word.partition("=")
        return name, value
    return word, None


_CURL_SHORT_VALUES = set("xUEHowDmAebcXdur")


def _curl_words(words: list[str]) -> list[str]:
    """curl's short options as one each: `-sS` is `-s -S`, `-x127.0.0.1:3128` is `-x 127.0.0.1:3128`."""
    out: list[str] = []
    for word in words:
        if word.startswith("-") and not word.startswith("--") and len(word) > 2:
            if word[1] in _CURL_SHORT_VALUES:
                out += [word[:2], word[2:]]
                continue
            out += [f"-{c}" for c in word[1:]]
            continue
        out.append(word)
    return out


def _curl(words: list[str]) -> Pasted:
    words = _curl_words(words)
    values: dict[str, Any] = {}
    dropped: list[str] = []
    hops: list[str] = []
    preproxy = None
    url = None
    host_header = None
    i = 0

    def arg() -> str:
        nonlocal i
        if inline is not None:
            return inline
        i += 1
        if i >= len(words):
            raise InputError(f"curl line: {word} needs a value", field="target")
        return words[i]

    while i < len(words):
        word, inline = _split_option(words[i])
        if word in ("-x", "--proxy"):
            hops.append(arg())
        elif word == "--preproxy":
            preproxy = arg()
        elif word in _CURL_SOCKS:
            hops.append(f"{_CURL_SOCKS[word]}://{arg()}")
        elif word in ("-U", "--proxy-user"):
            values["_proxy_user"] = arg()
        elif word == "--proxy-cacert":
            values["_proxy_cafile"] = arg()
        elif word == "--proxy-insecure":
            values["_proxy_insecure"] = True
        elif word == "--noproxy":
            values["_noproxy"] = arg()
        elif word == "--resolve":
            values["_resolve"] = arg()
        elif word == "--connect-to":
            values["_connect_to"] = arg()
        elif word in ("--cacert",):
            values.update(cafile=arg(), verify="cafile")
        elif word in ("-k", "--insecure"):
            values["verify"] = "off"
        elif word in ("-E", "--cert"):
            cert = arg()
            if ":" in cert:  # curl: certificate[:password]
                cert, _, _ = cert.rpartition(":")
                dropped.append("the certificate's passphrase in --cert (tlsbench takes unencrypted keys)")
            values["cert"] = cert
        elif word == "--key":
            values["key"] = arg()
        elif word in _TLS_VERSIONS:
            values["tls_min"] = _TLS_VERSIONS[word]
        elif word == "--tls-max":
            values["tls_max"] = arg()
        elif word == "--ciphers":
            values["ciphers"] = arg()
        elif word == "--curves":
            values["groups"] = arg()  # offered by tlsbench's own TLS 1.3 hello (the key-exchange stage)
        elif word == "--http1.1":
            values["alpn"] = ["http/1.1"]
        elif word in ("--http2", "--http2-prior-knowledge"):
            values["alpn"] = list(HTTP2_ALPN)  # tlsbench's --http2
            if word != "--http2":
                dropped.append(f"{word}: HTTP/2 without ALPN")
        elif word == "--no-alpn":
            values["alpn"] = []
        elif word in ("--http3", "--http3-only"):
            values.update(http3="race" if word == "--http3" else "only", app="http")
        elif word in ("-H", "--header"):
            header = arg()
            name, _, value = header.partition(":")
            if name.strip().lower() == "host" and value.strip():
                host_header = value.strip()
            else:
                if name.strip().lower() in _CREDENTIAL_HEADERS:  # a credential: named, never repeated
                    header = f"{name.strip()}: ***"
                dropped.append(f"the header {header!r} (tlsbench's GET sends Host, User-Agent, Accept only)")
        elif word == "--connect-timeout":
            values["timeout"] = arg()
        elif word == "--doh-url":
            values["doh_url"] = arg()
        elif word == "--dns-servers":
            values["dns_servers"] = [e.strip() for e in arg().split(",")]
        elif word in ("-4", "--ipv4"):
            values["family"] = 4
        elif word in ("-6", "--ipv6"):
            values["family"] = 6
        elif word == "--interface":
            values["interface"] = arg()
        elif word == "--local-port":
            values["local_port"] = arg()
        elif word in _curl_switches():
            values[_curl_switches()[word]] = True
        elif word in ("-I", "--head"):
            dropped.append(f"{word}: tlsbench's request is a GET")
        elif word in _CURL_OUTPUT or word in _CURL_TAKES_VALUE:
            taken = arg() if word in _CURL_TAKES_VALUE else None
            what = "an output option" if word in _CURL_OUTPUT else "not part of the connection test"
            dropped.append(f"{word}{' ' + taken if taken is not None else ''}: {what}")
        elif word.startswith("-") and word != "-":
            dropped.append(f"{word}: not a curl option tlsbench knows")
        else:
            if url is not None:
                dropped.append(f"the URL {word} (only the first is used)")
            else:
                url = word
        i += 1
    if url is None:
        raise InputError("the curl line has no URL", field="target")
    if "://" not in url:
        url = "http://" + url  # curl's guess for a bare host
    values = {**url_values(url), **values}
    if hops or preproxy:
        values["_proxy"] = hops
        if preproxy:
            values["_preproxy"] = preproxy
    _host_header(values, host_header, dropped)
    _connect_to(values, dropped)
    return Pasted("curl", _finish(values), tuple(dropped))


def _host_header(values: dict, host_header: str | None, dropped: list[str]) -> None:
    """curl -H 'Host: name' with an address in the URL: tlsbench connects by name, pinned to the address
    (its Host header, SNI and verification then all use the name)."""
    if not host_header:
        return
    host, port = split_hostport(values["target"], "target")
    name = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
    if name.lower() == host.lower():
        return
    if is_ip(host) and "pin" not in values:
        values["pin"] = host
        values["target"] = format_hostport(name, port)
        dropped.append(f"-H 'Host: {host_header}' became the target {name} pinned to {host}: tlsbench also "
                       "sends it as SNI and verifies the certificate for it (curl sends no SNI to an address)")
    else:
        dropped.append(f"-H 'Host: {host_header}': tlsbench's Host header is the target's name")


def _connect_to(values: dict, dropped: list[str]) -> None:
    entry = values.pop("_connect_to", None)
    if not entry:
        return
    parts = entry.split(":")
    host, port = split_hostport(values["target"], "target")
    if len(parts) == 4 and parts[0] in ("", host) and parts[1] in ("", str(port)) and parts[3] in ("", str(port)):
        values["pin"] = parts[2]
    else:
        dropped.append(f"--connect-to {entry}: only 'HOST:PORT:ADDRESS:PORT' to the same port maps to a pin")


def _finish(values: dict) -> dict:
    out = finish_flags(values, target=values["target"], tls=values.get("tls", True), environ=None, base={})
    out["target"] = values["target"]
    return out


# --- openssl s_client ---------------------------------------------------------------------------------

_S_CLIENT_VERSIONS = {"-tls1": "1.0", "-tls1_1": "1.1", "-tls1_2": "1.2", "-tls1_3": "1.3"}
_S_CLIENT_OUTPUT = {"-brief", "-showcerts", "-msg", "-state", "-debug", "-quiet", "-prexit", "-ign_eof", "-crlf",
                    "-verify_return_error", "-no-CApath", "-no-CAstore", "-no-CAfile"}
_OPENSSL_VERSION = {"TLSv1": "1.0", "TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}


def _s_client(words: list[str]) -> Pasted:
    values: dict[str, Any] = {}
    dropped: list[str] = []
    connect = "localhost:4433"  # s_client's default
    proxy = None
    i = 0

    def arg() -> str:
        nonlocal i
        i += 1
        if i >= len(words):
            raise InputError(f"s_client line: {word} needs a value", field="target")
        return words[i]

    while i < len(words):
        word = words[i]
        if word == "-connect":
            connect = arg()
        elif word == "-servername":
            values.update(sni=arg(), sni_mode="override")
        elif word == "-noservername":
            values["sni_mode"] = "none"
        elif word == "-CAfile":
            values.update(cafile=arg(), verify="cafile")
        elif word in ("-CApath", "-CAstore"):
            dropped.append(f"{word} {arg()}: tlsbench trusts a CA file or the system store")
        elif word == "-cert":
            values["cert"] = arg()
        elif word == "-key":
            values["key"] = arg()
        elif word in _S_CLIENT_VERSIONS:
            values["tls_min"] = values["tls_max"] = _S_CLIENT_VERSIONS[word]
        elif word == "-no_tls1_3":
            values["tls_max"] = "1.2"
        elif word in ("-min_protocol", "-max_protocol"):
            version = arg()
            if version not in _OPENSSL_VERSION:
                raise InputError(f"s_client line: {word} {version!r} is not TLSv1 ... TLSv1.3", field="tls_min")
            values["tls_min" if word == "-min_protocol" else "tls_max"] = _OPENSSL_VERSION[version]
        elif word == "-cipher":
            values["ciphers"] = arg()
        elif word == "-ciphersuites":
            dropped.append(f"-ciphersuites {arg()}: tlsbench offers OpenSSL's TLS 1.3 suites")
        elif word == "-alpn":
            values["alpn"] = arg().split(",")
        elif word in ("-groups", "-curves"):
            values["groups"] = arg()  # offered by tlsbench's own TLS 1.3 hello (the key-exchange stage)
        elif word == "-proxy":
            proxy = arg()
        elif word == "-proxy_user":
            values["_proxy_user"] = arg()
        elif word == "-proxy_pass":
            dropped.append("-proxy_pass: give the password through $TLSBENCH_PROXY_PASSWORD or when asked")
            arg()
        elif word == "-verify_hostname":
            name = arg()
            dropped.append(f"-verify_hostname {name}: tlsbench verifies the target's name (or the SNI name "
                           "when the target is an address)")
        elif word == "-starttls":
            values["starttls"] = arg()
        elif word == "-name":
            values["starttls_name"] = arg()
        elif word == "-xmpphost":
            values["xmpphost"] = arg()
        elif word in ("-4", "-6"):
            values["family"] = int(word[1])
        elif word in _s_client_switches():
            values[_s_client_switches()[word]] = True
        elif word in _S_CLIENT_OUTPUT:
            dropped.append(f"{word}: an output option")
        elif word.startswith("-"):
            dropped.append(f"{word}: not an s_client option tlsbench knows")
        else:
            dropped.append(f"{word}: not an s_client option tlsbench knows")
        i += 1
    host, port = split_hostport(connect, "-connect", default_port=4433)
    values["target"] = format_hostport(host, port)
    if proxy:
        values["_proxy"] = [f"http://{proxy}"]
    return Pasted("openssl", _finish(values), tuple(dropped))

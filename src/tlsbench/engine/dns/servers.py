"""Where DNS questions go, as people and system files write it: server lists, resolv.conf, hosts.

    parse_server("[::1]:5353")            -> DnsServer("udp", "::1", 5353)
    parse_server("tls://dns.lab.test")    -> DnsServer("tls", "dns.lab.test", 853)
    parse_server_list("127.0.0.1,tls://h") -> ("127.0.0.1:53", "tls://h:853")   (canonical spellings)
    check_doh_url("https://h/dns-query")  -> the URL, or InputError

and the three files the C library's resolver reads: /etc/resolv.conf (`nameserver`, `search`,
`options`), /etc/hosts and the `hosts:` line of /etc/nsswitch.conf. Parsers of outside text: they
never raise on odd content, they skip what they cannot read. Light: no dnspython, no sockets.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from tlsbench.engine.route.hostport import check_host, format_hostport, is_ip, split_hostport
from tlsbench.errors import InputError

DNS_PORT, DOT_PORT = 53, 853
MAX_SERVERS = 8  # --dns-servers entries (glibc reads 3 from resolv.conf)
MAX_NAMESERVERS = 3  # glibc's MAXNS: the nameservers resolv.conf may name that are used
MAX_FILE = 1 << 20  # resolv.conf, hosts, nsswitch.conf: more than this is not read
MAX_URL = 2048


class DnsServer(NamedTuple):
    scheme: str  # "udp" (UDP, TCP when truncated) | "tls" (RFC 7858) | "https" (RFC 8484)
    host: str  # an address for udp; a name or an address for tls (its SNI and certificate name)
    port: int
    url: str = ""  # https only

    @property
    def text(self) -> str:
        """The canonical spelling, as shown and in JSON: 127.0.0.1:53, [::1]:53, tls://h:853, the URL."""
        if self.scheme == "https":
            return self.url
        where = format_hostport(self.host, self.port)
        return f"tls://{where}" if self.scheme == "tls" else where


def parse_server(text: str, what: str = "--dns-servers") -> DnsServer:
    """One entry of a server list: ADDR[:PORT] (IPv6 as [::1]:53, or bare), tls://HOST[:PORT],
    or an https:// URL (DNS over HTTPS); InputError (one line) otherwise."""
    entry = text.strip()
    shown = repr(entry[:80])
    if not entry:
        raise InputError(f"{what}: an entry is empty (a list is ADDR[:PORT],...)", field="dns_servers")
    scheme, sep, rest = entry.partition("://")
    if not sep:
        if is_ip(entry):  # a bare address, IPv6 included
            return DnsServer("udp", entry, DNS_PORT)
        try:
            host, port = split_hostport(entry, what, default_port=DNS_PORT)
        except InputError as exc:
            raise InputError(f"{what} {shown}: {_reason(exc)}", field="dns_servers") from None
        if not is_ip(host):
            raise InputError(f"{what} {shown}: a plain DNS server is an address (ADDR[:PORT]); a name would "
                             "need DNS itself (tls://NAME takes one)", field="dns_servers")
        return DnsServer("udp", host, port)
    scheme = scheme.lower()
    if scheme == "https":
        return DnsServer("https", "", 443, check_doh_url(entry, what))
    if scheme not in ("tls", "udp"):
        raise InputError(f"{what} {shown}: scheme {scheme[:20]!r} is not tls:// (DNS over TLS) or an address",
                         field="dns_servers")
    if "/" in rest or "@" in rest or "?" in rest or "#" in rest:
        raise InputError(f"{what} {shown}: expected {scheme}://HOST[:PORT] and nothing after it", field="dns_servers")
    try:
        host, port = split_hostport(rest, what, default_port=DOT_PORT if scheme == "tls" else DNS_PORT)
        check_host(host, what)
    except InputError as exc:
        raise InputError(f"{what} {shown}: {_reason(exc)}", field="dns_servers") from None
    if scheme == "udp" and not is_ip(host):
        raise InputError(f"{what} {shown}: a plain DNS server is an address", field="dns_servers")
    return DnsServer(scheme, host, port)


def _reason(exc: InputError) -> str:
    """An InputError's words without the option name it starts with."""
    text = str(exc)
    for what in ("--dns-servers ", "--doh-url "):
        text = text.removeprefix(what)
    return text


def parse_server_list(text: str | Sequence[str], what: str = "--dns-servers") -> tuple[str, ...]:
    """A comma-separated list (or a list of entries) as canonical spellings, duplicates kept once."""
    entries = text.split(",") if isinstance(text, str) else [e for item in text for e in str(item).split(",")]
    if not any(e.strip() for e in entries):
        raise InputError(f"{what} is empty: give ADDR[:PORT] or tls://HOST[:PORT], comma-separated",
                         field="dns_servers")
    servers = tuple(dict.fromkeys(parse_server(e, what).text for e in entries))
    if len(servers) > MAX_SERVERS:
        raise InputError(f"{what}: {len(servers)} servers; at most {MAX_SERVERS}", field="dns_servers")
    if any(s.startswith("https://") for s in servers):
        raise InputError(f"{what}: give a DNS-over-HTTPS server with --doh-url", field="dns_servers")
    return servers


def check_doh_url(url: str, what: str = "--doh-url") -> str:
    """An https:// URL with a host (curl's --doh-url); InputError naming what is wrong."""
    from urllib.parse import urlsplit

    text = url.strip()
    shown = repr(text[:80])
    if not text:
        raise InputError(f"{what} is empty: give https://HOST[:PORT]/PATH", field="doh_url")
    if len(text) > MAX_URL:
        raise InputError(f"{what} is {len(text)} characters long; at most {MAX_URL}", field="doh_url")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        raise InputError(f"{what} {shown} holds spaces or control characters", field="doh_url")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InputError(f"{what} {shown}: the port is not a number in 1-65535", field="doh_url") from None
    if parts.scheme.lower() != "https":
        raise InputError(f"{what} {shown}: DNS over HTTPS needs an https:// URL", field="doh_url")
    if parts.username or parts.password:
        raise InputError(f"{what}: credentials in the URL are not sent anywhere; remove them", field="doh_url")
    if not parts.hostname:
        raise InputError(f"{what} {shown} has no host", field="doh_url")
    try:
        check_host(parts.hostname, what)
    except InputError as exc:
        raise InputError(f"{what} {shown}: {_reason(exc)}", field="doh_url") from None
    if port == 0:
        raise InputError(f"{what} {shown}: the port is not a number in 1-65535", field="doh_url")
    return text


# --- the C library's files -------------------------------------------------------------------------

class ResolvConf(NamedTuple):
    nameservers: tuple[str, ...] = ()  # addresses, in order (at most MAX_NAMESERVERS)
    search: tuple[str, ...] = ()
    ndots: int = 1
    timeout: float = 5.0  # seconds per try (options timeout:N)
    attempts: int = 2


def parse_resolv_conf(text: str) -> ResolvConf:
    """resolv.conf(5) as glibc reads it: the last `search`/`domain` wins, `nameserver` lines that
    are not an address are skipped, `options` ndots/timeout/attempts with their bounds."""
    servers: list[str] = []
    search: tuple[str, ...] = ()
    ndots, timeout, attempts = 1, 5.0, 2
    for raw in text[:MAX_FILE].splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        words = line.split()
        if len(words) < 2:
            continue
        key, args = words[0], words[1:]
        if key == "nameserver":
            # fe80::1%eth0: the scope names the interface (and the address is kept with it)
            if is_ip(args[0]) and len(servers) < MAX_NAMESERVERS:
                servers.append(args[0])
        elif key in ("search", "domain"):
            search = tuple(args[:6]) if key == "search" else (args[0],)
        elif key == "options":
            for opt in args:
                name, _, value = opt.partition(":")
                if value.isdigit() and len(value) <= 4:
                    if name == "ndots":
                        ndots = min(int(value), 15)
                    elif name == "timeout":
                        timeout = float(min(max(int(value), 1), 30))
                    elif name == "attempts":
                        attempts = min(max(int(value), 1), 5)
    return ResolvConf(tuple(servers), search, ndots, timeout, attempts)


def hosts_addresses(text: str, name: str) -> tuple[str, ...]:
    """The addresses /etc/hosts gives `name` (case-insensitive, a trailing dot ignored), in order."""
    wanted = name.rstrip(".").lower()
    if not wanted:
        return ()
    found: list[str] = []
    for raw in text[:MAX_FILE].splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) < 2 or not is_ip(words[0].split("%", 1)[0]):
            continue
        if any(w.rstrip(".").lower() == wanted for w in words[1:]) and words[0] not in found:
            found.append(words[0])
    return tuple(found)


def hosts_sources(text: str) -> tuple[str, ...]:
    """The sources of nsswitch.conf's `hosts:` line, in order ("files", "dns", "mdns4_minimal", ...),
    actions ([NOTFOUND=return]) left out; glibc's default ("dns", "files") when there is no line."""
    for raw in text[:MAX_FILE].splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, rest = line.partition(":")
        if sep and key.strip() == "hosts":
            sources, depth = [], 0
            for word in rest.replace("[", " [ ").replace("]", " ] ").split():
                depth += word == "["
                if depth == 0 and word not in ("[", "]"):
                    sources.append(word.lower())
                depth -= word == "]" and depth > 0
            return tuple(sources)
    return ("dns", "files")

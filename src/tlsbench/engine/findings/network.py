"""Findings for the network stages: DNS, TCP connect and the SOCKS proxy handshake.

Each function turns evidence (an errno, a resolver code, the proxy's reply bytes) into a
Finding. The classification uses errno values and reply codes, never the wording of messages.
"""

from __future__ import annotations

import errno
import socket

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.route.proxykinds import TYPES, reply_title, socks_schemes
from tlsbench.engine.suggestions import Change, Peer, Suggestion, quote_word

_EAI_NAMES = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}

REFUSED = {errno.ECONNREFUSED}
TIMED_OUT = {errno.ETIMEDOUT}
UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN, errno.EHOSTDOWN}
RESET = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}



def errno_name(exc: BaseException) -> str | None:
    if isinstance(exc, TimeoutError) and not getattr(exc, "errno", None):
        return "ETIMEDOUT"
    code = getattr(exc, "errno", None)
    if isinstance(exc, socket.gaierror):
        return _EAI_NAMES.get(code)
    return errno.errorcode.get(code) if isinstance(code, int) else None


def classify(exc: BaseException) -> str:
    """'refused' | 'timeout' | 'unreachable' | 'reset' | 'other', from the errno."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    code = getattr(exc, "errno", None)
    for kind, codes in (("refused", REFUSED), ("timeout", TIMED_OUT), ("unreachable", UNREACHABLE),
                        ("reset", RESET)):
        if code in codes:
            return kind
    return "other"


def os_words(exc: BaseException) -> str:
    """The OS's own words for an error, without Python's '[Errno N]' prefix."""
    if isinstance(exc, TimeoutError) and not getattr(exc, "strerror", None):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# --- resolve ----------------------------------------------------------------------------------

def dns_failed(name: str, role: str, exc: BaseException) -> Finding:
    code_name = errno_name(exc) or type(exc).__name__
    words = os_words(exc)
    what = "the proxy's name" if role == "proxy" else "the target name"
    pin = (Change.of(pin="ADDR", placeholders=("ADDR",)),) if role != "proxy" else ()
    if code_name in ("EAI_NONAME", "EAI_NODATA"):
        why = f"The resolver says {name} does not exist or has no address ({words})."
        hint = ("Check the spelling of the proxy's name in the route." if role == "proxy" else
                "Check the spelling, or connect to a known address without DNS: {0}.")
    elif code_name in ("EAI_AGAIN", "EAI_FAIL"):
        why = f"The resolver could not answer for {name} right now ({words}): the DNS server failed or is unreachable."
        hint = "Check /etc/resolv.conf and that a DNS server is reachable" + (
            ", or give the proxy by its address." if role == "proxy" else
            ", or connect to a known address without DNS: {0}.")
    else:
        why = f"Looking up {name} failed: {words}."
        hint = "Check the name and the resolver configuration" + (
            "." if role == "proxy" else ", or connect to a known address without DNS: {0}.")
    return finding("dns-failed", f"DNS lookup of {what} {name} failed", why,
                   Suggestion(hint, pin, (Peer("getent", f"getent ahosts {quote_word(name)}"),)),
                   (Evidence("name", name), Evidence("resolver error", f"{code_name}: {words}")))


def dns_no_ipv4(name: str, addresses: list[str]) -> Finding:
    return finding(
        "dns-failed", f"{name} has no IPv4 address, and SOCKS4 carries only IPv4",
        f"SOCKS4 sends the target as a 4-byte IPv4 address; {name} resolved only to {', '.join(addresses)}.",
        "Use the proxy as SOCKS5 (socks5://, which carries IPv6), or let the proxy resolve the name "
        f"({' or '.join(k + '://' for k, t in TYPES.items() if t.socks and t.remote_dns)}).", (Evidence("addresses", ", ".join(addresses)),))


def dns_timeout(name: str, seconds: float, role: str = "target") -> Finding:
    pin = (Change.of(pin="ADDR", placeholders=("ADDR",)),) if role != "proxy" else ()
    return finding(
        "dns-timeout", f"DNS lookup of {name} did not finish within {seconds:g} s",
        "The resolver gave no answer in time; a DNS server may be unreachable or very slow.",
        Suggestion("Check the resolver configuration (/etc/resolv.conf) or raise {timeout}" + (
            "." if role == "proxy" else "; or connect to a known address without DNS: {0}."), pin,
            (Peer("getent", f"getent ahosts {quote_word(name)}"),)),
        (Evidence("name", name),))


# --- tcp --------------------------------------------------------------------------------------

def tcp_failed(role: str, where: str, exc: BaseException, seconds: float, attempts: tuple[str, ...]) -> Finding:
    """One finding for a connect that failed on every address; `exc` is the last error."""
    kind = classify(exc)
    ev = (Evidence("error", f"{errno_name(exc) or type(exc).__name__}: {os_words(exc)}"),
          Evidence("attempts", "; ".join(attempts)))
    if role == "proxy":
        reason = {"refused": "refused the connection (nothing listens on that port)",
                  "timeout": f"did not answer within {seconds:g} s",
                  "unreachable": "is unreachable from here (no route)"}.get(kind, f"could not be reached ({os_words(exc)})")
        return finding("proxy-unreachable", f"The proxy {where} {reason.split(' (')[0]}",
                       f"tlsbench could not open a TCP connection to the proxy itself: it {reason}. "
                       "The target was never contacted.",
                       "Check the proxy's address and port in the route, and that the proxy is running.",
                       ev, origin="network")
    if kind == "refused":
        return finding("tcp-refused", f"Connection to {where} refused",
                       "The host answered the SYN with a reset: it is up, but nothing listens on that port "
                       "(or a firewall rejects it).",
                       "Check the port number, and that the service is running and listening on that address "
                       "(on the server, ss -ltn lists the listening ports).", ev)
    if kind == "timeout":
        return finding("tcp-timeout", f"Connection to {where} timed out after {seconds:g} s",
                       "No answer to the connection request: the SYN was dropped on the way, by a firewall, "
                       "or by a server whose accept queue is full.",
                       Suggestion("Check firewalls and the address; if the path is only slow, raise {timeout}."),
                       ev)
    if kind == "unreachable":
        tried = [a.split(": ", 1)[0] for a in attempts if ": " in a]
        peers = (Peer("ip", f"ip route get {quote_word(tried[0])}"),) if tried else ()
        if tried and all(":" in a for a in tried):
            hint = Suggestion("Only IPv6 addresses were tried, and this host has no route to them: try IPv4 "
                              "({0}), or check this host's IPv6 routes.", (Change.of(family=4),), peers)
        else:
            hint = Suggestion("Check the address and this host's routes and interfaces.", (), peers)
        return finding("tcp-unreachable", f"{where} is unreachable",
                       f"The OS has no route to that address ({os_words(exc)}), so no packet was sent "
                       "or a router reported the destination unreachable.", hint, ev)
    return finding("tcp-failed", f"Connection to {where} failed",
                   f"The connect call failed: {os_words(exc)}.", "Check the address and the local network.", ev)


def local_bind_failed(exc: OSError, tried: list[int], what: str) -> Finding:
    """--local-port / --interface could not be bound: say why, TIME_WAIT included."""
    name = errno_name(exc) or type(exc).__name__
    ev = [Evidence("error", f"{name}: {os_words(exc)}"), Evidence("asked for", what)]
    if exc.errno == errno.EADDRINUSE and tried:
        held = [line for port in tried[:64] for line in port_holders(port)]
        if held:
            ev.append(Evidence("held by", "; ".join(held[:6])))
        waiting = any(state in h for h in held for state in ("TIME_WAIT", "FIN_WAIT", "CLOSING", "LAST_ACK"))
        why = (f"Every port tried ({_ports_text(tried)}) is taken on this host. "
               + ("A connection that this side closed first stays in TIME_WAIT (after FIN_WAIT while the peer "
                  "closes) for about 60 s on Linux, and its "
                  "local port cannot be bound again until then: running the same command twice with a fixed "
                  "local port hits it. This is why clients normally let the OS pick an ephemeral port, and "
                  "why it changes every run." if waiting else
                  "Another socket (a listener, or an open connection) holds it."))
        return finding("local-port-in-use", f"The local port is in use ({_ports_text(tried)})", why,
                       Suggestion("Let the OS pick a free ephemeral port ({0}), or give another {local_port} "
                                  "or a range of them (e.g. 40000-40100).", (Change.of(local_port=None),),
                                  (Peer("ss", f"ss -tan 'sport = :{tried[0]}'"),)), ev)
    option = "local_port" if what.startswith("local port") else "interface"
    if exc.errno == errno.EPERM or exc.errno == errno.EACCES:
        why = (f"Binding to {what} needs privileges tlsbench does not have here ({os_words(exc)}): binding to a "
               "network interface by name needs CAP_NET_RAW, and ports below 1024 need CAP_NET_BIND_SERVICE.")
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"The address asked for ({what}) is not one of this host's addresses."
    elif exc.errno == errno.ENODEV:
        why = f"There is no network interface named as asked ({what})."
    else:
        why = f"Binding the client socket to {what} failed: {os_words(exc)}."
    return finding("local-bind-failed", f"Cannot bind the client to {what}", why,
                   Suggestion(f"Check {{{option}}} (ip addr lists this host's addresses and interfaces), or let "
                              "the OS choose: {0}.", (Change.from_values({option: None}),),
                              (Peer("ip", "ip -brief addr"),)), ev)


def _ports_text(ports: list[int]) -> str:
    return str(ports[0]) if len(ports) == 1 else f"{ports[0]}-{ports[-1]}"


_TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
               "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
               "0B": "CLOSING"}


def port_holders(port: int, files: tuple[str, ...] = ("/proc/net/tcp", "/proc/net/tcp6")) -> list[str]:
    """Sockets of this host bound to a local port, as 'TIME_WAIT to 127.0.0.1:443' (Linux)."""
    out = []
    for path in files:
        try:
            with open(path, encoding="ascii") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 4:
                continue
            local, remote, state = parts[1], parts[2], parts[3]
            try:
                if int(local.rsplit(":", 1)[1], 16) != port:
                    continue
                peer = _proc_address(remote)
            except ValueError:
                continue
            out.append(f"{_TCP_STATES.get(state, state)} to {peer}" if state != "0A" else "LISTEN")
    return out


def _proc_address(text: str) -> str:
    import ipaddress

    addr, port = text.rsplit(":", 1)
    raw = bytes.fromhex(addr)
    if len(raw) == 4:
        ip = str(ipaddress.IPv4Address(raw[::-1]))
    else:
        words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        ip = str(ipaddress.IPv6Address(words))
    port_n = int(port, 16)
    return f"[{ip}]:{port_n}" if ":" in ip else f"{ip}:{port_n}"


# --- proxy ------------------------------------------------------------------------------------

def _proxy_ev(proxy: str, received: bytes | None = None, reply: str | None = None) -> tuple[Evidence, ...]:
    ev = [Evidence("proxy", proxy)]
    if reply:
        ev.append(Evidence("proxy reply", reply))
    if received:
        ev.append(Evidence("bytes received", received[:64].hex(" ")))
    return tuple(ev)


def looks_like(data: bytes) -> str:
    """A few words on what a non-SOCKS answer resembles."""
    if not data:
        return "nothing (no bytes)"
    if data[:1] == b"\x05" and len(data) <= 2:
        return "a SOCKS5 proxy (it answered in SOCKS5)"
    if data[:1] == b"\x00" and len(data) >= 2 and 0x5A <= data[1] <= 0x5D:
        return "a SOCKS4 proxy (it answered in SOCKS4)"
    if data.startswith(b"HTTP/") or data[:8].upper().startswith(b"GET "):
        return "an HTTP server"
    if data.lstrip()[:9].upper().startswith((b"<HTML", b"<!DOCTYPE", b"<HEAD", b"<BODY")):
        return "an HTML page with no HTTP status line before it (an HTTP/0.9-style answer)"
    if len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03:
        return "a TLS server (a TLS record)"
    if data.startswith((b"220", b"+OK", b"* OK", b"SSH-", b"421", b"554")):
        return "a text banner (mail, FTP or SSH server)"
    if all(0x20 <= b < 0x7F or b in (9, 10, 13) for b in data):
        return "text"
    return "binary data that is not SOCKS"


def _protocol(kind: str) -> str:
    return reply_title(kind)


def _methods_words(offered: bytes, names: dict[int, str] | None = None) -> str:
    names = names or {0x00: "no authentication", 0x02: "username/password"}
    return ", ".join(f"0x{m:02x} ({names.get(m, 'unknown')})" for m in offered) or "none"


def proxy_kind_hint(data: bytes) -> str | None:
    """The proxy type the answer says the port speaks, as advice; None when it says none."""
    like = looks_like(data)
    for version in (5, 4):
        if like.startswith(f"a SOCKS{version}"):
            remote = socks_schemes(version, remote_dns=True)[0]
            local = socks_schemes(version, remote_dns=False)[0]
            return (f"It answers in SOCKS{version}: use it as a {remote}:// proxy (or {local}:// to resolve "
                    "names here).")
    if data.startswith(b"HTTP/"):
        return "It answers in HTTP: it may be an HTTP proxy (http://), or a web server rather than a proxy."
    if like.startswith("a TLS server"):
        return "It answers in TLS: it may be an HTTPS proxy (https://), or a TLS server rather than a proxy."
    return None


def proxy_protocol_error(kind: str, proxy: str, data: bytes) -> Finding:
    like = looks_like(data)
    return finding("proxy-protocol-error", f"The proxy at {proxy} did not answer in {kind.upper()}", f"tlsbench sent a {kind.upper()} request and got back something else; it looks like {like}. "
        "The port is probably not a SOCKS proxy, or speaks another SOCKS version.",
        proxy_kind_hint(data) or f"Check the proxy's port, and its type in the route ({', '.join(TYPES)}).",
        _proxy_ev(proxy, data))


def proxy_reply_malformed(kind: str, proxy: str, problem: str, data: bytes) -> Finding:
    """The proxy speaks the protocol, but its answer breaks a rule of it (`problem` says which, from its bytes)."""
    proto = _protocol(kind)
    return finding("proxy-protocol-error", f"The proxy answered in {proto}, but its answer breaks the protocol", f"The proxy at {proxy} speaks {proto}, but {problem}. A client cannot go on from an answer it cannot "
        "read, so no tunnel was opened.", "The proxy (or something in front of it) is broken or non-standard: check its software, version and logs.", _proxy_ev(proxy, data))


def proxy_closed(kind: str, proxy: str, exc: BaseException | None, *, after: str | None = None,
                 waiting_for: str = "reply", received: bytes = b"") -> Finding:
    how = "reset the connection" if exc is not None and classify(exc) == "reset" else "closed the connection"
    proto = _protocol(kind)
    if after:
        return finding("proxy-closed", f"The proxy {how} after {after}, before its {waiting_for}", f"The proxy answered in {proto} ({after}), then {how} instead of sending its {waiting_for}. It may "
            "refuse this client, these credentials or this destination by its rules without saying so.", "Check the proxy's client and destination rules and its logs.", _proxy_ev(proxy, received))
    return finding("proxy-closed", f"The proxy {how} without a {kind.upper()} reply", f"The proxy {how} before answering the {kind.upper()} request. It may not speak this SOCKS version, "
        "or it refuses this client by its rules.", "Check the proxy type and the proxy's client rules and logs.", _proxy_ev(proxy, received))


def _of(have: int, need: int | None) -> str:
    return f"{have} of {need}" if need else f"{have}"


def proxy_reply_cut_short(kind: str, proxy: str, what: str, have: int, need: int | None, how: str,
                          received: bytes, began: str | None = None) -> Finding:
    """The proxy began an answer and the connection ended before its last byte."""
    ended = "was reset" if how == "reset" else "closed"
    proto = _protocol(kind)
    said = f" It had begun with {began}, but" if began else " So"
    return finding("proxy-reply-cut-short", f"The proxy's {proto} {what} was cut short ({_of(have, need)} bytes, then the connection {ended})", f"The proxy began its {what} and the connection {ended} after {_of(have, need)} bytes, before the "
        f"answer's end.{said} an incomplete answer grants nothing: no tunnel was opened.", "Check the proxy's logs: it may have crashed or been stopped mid-answer, or something between cut the "
        "connection.", _proxy_ev(proxy, received))


def proxy_timeout(kind: str, proxy: str, seconds: float, received: bytes, *, waiting_for: str = "reply",
                  have: int = 0, need: int | None = None, chose: str | None = None) -> Finding:
    proto = _protocol(kind)
    if have:
        return finding("proxy-timeout", f"The proxy's {proto} {waiting_for} stopped after {_of(have, need)} bytes, unfinished after {seconds:g} s", f"The proxy began its {waiting_for} and sent {_of(have, need)} bytes of it, but not the rest before "
            f"the stage's deadline ({seconds:g} s): it is stuck, or sends its answer far too slowly.", Suggestion("Check the proxy's load and logs; raise {timeout} only if it is known to be that slow."), _proxy_ev(proxy, received))
    if chose is not None:
        return finding("proxy-timeout", f"The proxy did not send its {waiting_for} within {seconds:g} s", f"The proxy answered in {proto} (it chose {chose}), then sent nothing of its {waiting_for} before "
            f"the stage's deadline ({seconds:g} s): it may still be trying to reach the target, or be stuck.", Suggestion("If the target is slow to reach from the proxy, raise {timeout}; check the proxy's logs."), _proxy_ev(proxy, received))
    return finding("proxy-timeout", f"The proxy did not answer the {kind.upper()} request within {seconds:g} s", "The TCP connection to the proxy was made, but the proxy stayed silent: it may not be a SOCKS proxy, "
        "or it is still trying to reach the target.", Suggestion("Check that the port is a SOCKS proxy; if the target is slow to reach, raise {timeout}."), _proxy_ev(proxy, received))


def proxy_auth_required(proxy: str, user: str | None, method: int = 0xFF, offered: bytes = b"\x00") -> Finding:
    offered_words = _methods_words(offered)
    if method == 0x02:
        why = (f"The proxy chose username/password authentication (method 0x02), which tlsbench did not offer "
               f"(it offered {offered_words}): the proxy wants a user name and password. ")
        reply = "method 0x02: username/password (not offered)"
    else:
        why = (f"The proxy rejected every authentication method offered ({offered_words}) with method "
               f"0x{method:02x}, 'no acceptable methods'. ")
        reply = f"method 0x{method:02x}: no acceptable methods"
    if 0x02 in offered:
        why += ("A user name and password were offered too, so the proxy wants another method "
                "(GSSAPI, or one of its own) or refuses this client.")
        hint: Suggestion | str = "Check which authentication the proxy requires and whether this client may use it."
    else:
        why += ("A user was given but no password, so only 'no authentication' was offered." if user else
                "No credentials were given, so only 'no authentication' was offered.")
        hint = Suggestion("Give the proxy's user with {proxy_user} and its password (asked for, or read "
                    "from $TLSBENCH_PROXY_PASSWORD; never saved).")
    return finding("proxy-auth-required", "The proxy requires authentication", why, hint, _proxy_ev(proxy, reply=reply))


def proxy_method_unsupported(proxy: str, method: int, name: str, offered: bytes, received: bytes) -> Finding:
    """A SOCKS5 method the proxy chose that tlsbench did not offer and does not speak (GSSAPI, private...)."""
    gss = " GSSAPI (RFC 1961) is Kerberos authentication." if method == 0x01 else ""
    return finding("proxy-auth-unsupported", f"The proxy chose authentication method 0x{method:02x} ({name}), which tlsbench did not offer", f"tlsbench offered {_methods_words(offered)}; the proxy answered with method 0x{method:02x} ({name}), "
        "which was not among them (RFC 1928 lets a proxy choose only from the methods offered). tlsbench speaks "
        f"'no authentication' and username/password only.{gss}", f"Allow username/password or no authentication for this client on the proxy, or use a client that "
        f"speaks {name}.", _proxy_ev(proxy, received, reply=f"method 0x{method:02x}: {name}"))


def proxy_auth_failed(proxy: str, user: str | None, status: int | None) -> Finding:
    shown = f"0x{status:02x}" if status is not None else "none"
    return finding("proxy-auth-failed", "The proxy rejected the user name or password", f"The SOCKS5 username/password check failed (status {shown}) for user {user!r}.", "Check the user name and password the proxy expects.", _proxy_ev(proxy, reply=f"username/password status {shown}") + (Evidence("user", user or ""),))


def proxy_reply_failed(kind: str, proxy: str, requested: str, code: int, meaning: str,
                       remote_name: bool, behind: str = "the target") -> Finding:
    reply = meaning if meaning.startswith("0x") else f"0x{code:02x}: {meaning}"
    ev = _proxy_ev(proxy, reply=reply) + (Evidence("requested", requested),)
    if kind.startswith("socks4"):
        if code == 0x5B:
            return finding("proxy-target-refused", f"The SOCKS4 proxy rejected or failed the request for {requested}", "SOCKS4 has one code (0x5B) for every failure: the target refused the connection, was "
                "unreachable, the name did not resolve, or the proxy's rules denied it. It is ambiguous.", f"Check that {requested} is open; if the proxy also speaks SOCKS5, use it as socks5h:// for a precise reason.", ev)
        verb = "rejected" if code in (0x5C, 0x5D) else "did not grant"
        return finding("proxy-request-failed", f"The SOCKS4 proxy {verb} the request ({meaning})", f"The proxy answered {reply}.", "Check the proxy's identd and user-id rules.", ev)
    if code == 5:
        return finding("proxy-target-refused", f"{behind[0].upper()}{behind[1:]} ({requested}) refused the proxy's connection", f"The proxy works and reached the host of {behind}, but nothing listens on that port (SOCKS5 reply 5).", "Check the target port and that the service runs; the proxy itself works.", ev)
    if code in (3, 4, 6) or (code == 1 and remote_name):
        extra = (" With remote DNS this is also what a proxy answers when it cannot resolve the name."
                 if remote_name else "")
        return finding("proxy-target-unreachable", f"The proxy could not reach {requested}", f"The proxy answered {reply}: it found no way to {behind}.{extra}", "Check the target name and address from the proxy's side (its DNS and routes).", ev)
    if code == 2:
        return finding("proxy-denied", f"The proxy's rules do not allow {requested}", "The proxy refused the request by its rule set (SOCKS5 reply 2).", "Ask the proxy's operator, or check its client and destination rules.", ev)
    return finding("proxy-request-failed", f"The proxy failed the request ({meaning})", f"The proxy answered {reply}.", "Check the proxy's logs; the request may be unsupported.", ev)


def socks4_password_ignored() -> Finding:
    return finding("proxy-password-ignored", "SOCKS4 has no passwords: only the user id was sent", "SOCKS4 carries a user id but no password; the password given was not sent.", "If the proxy needs a password, use it as a SOCKS5 proxy (socks5:// or socks5h://).", (), severity="info", origin="local")

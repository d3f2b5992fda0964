"""Findings for the network stages: DNS, TCP connect and the SOCKS proxy handshake.

Each function turns evidence (an errno, a resolver code, the proxy's reply bytes) into a
Finding. The classification uses errno values and reply codes, never the wording of messages.
"""

from __future__ import annotations

import errno
import socket

from tlsbench.engine.findings import Evidence, Finding

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
    if code_name in ("EAI_NONAME", "EAI_NODATA"):
        why = f"The resolver says {name} does not exist or has no address ({words})."
        hint = "Check the spelling, or use --pin ADDR to connect to a known address without DNS."
    elif code_name in ("EAI_AGAIN", "EAI_FAIL"):
        why = f"The resolver could not answer for {name} right now ({words}): the DNS server failed or is unreachable."
        hint = "Check /etc/resolv.conf and that a DNS server is reachable, or use --pin ADDR."
    else:
        why = f"Looking up {name} failed: {words}."
        hint = "Check the name and the resolver configuration, or use --pin ADDR."
    return Finding("dns-failed", "error", f"DNS lookup of {what} {name} failed", why, hint, stage="resolve",
                   origin="network", evidence=(Evidence("name", name), Evidence("resolver error", f"{code_name}: {words}")))


def dns_no_ipv4(name: str, addresses: list[str]) -> Finding:
    return Finding(
        "dns-failed", "error", f"{name} has no IPv4 address, and SOCKS4 carries only IPv4",
        f"SOCKS4 sends the target as a 4-byte IPv4 address; {name} resolved only to {', '.join(addresses)}.",
        "Use --socks5 (which carries IPv6) or --socks4a/--socks5h to let the proxy resolve the name.",
        stage="resolve", origin="network", evidence=(Evidence("addresses", ", ".join(addresses)),))


def dns_timeout(name: str, seconds: float) -> Finding:
    return Finding(
        "dns-timeout", "error", f"DNS lookup of {name} did not finish within {seconds:g} s",
        "The resolver gave no answer in time; a DNS server may be unreachable or very slow.",
        "Check the resolver configuration, raise --timeout, or use --pin ADDR to skip DNS.",
        stage="resolve", origin="network", evidence=(Evidence("name", name),))


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
        return Finding("proxy-unreachable", "error", f"The proxy {where} {reason.split(' (')[0]}",
                       f"tlsbench could not open a TCP connection to the proxy itself: it {reason}. "
                       "The target was never contacted.",
                       "Check the proxy address and port, and that the proxy is running.",
                       stage="tcp", origin="network", evidence=ev)
    if kind == "refused":
        return Finding("tcp-refused", "error", f"Connection to {where} refused",
                       "The host answered the SYN with a reset: it is up, but nothing listens on that port "
                       "(or a firewall rejects it).",
                       "Check the port number and that the service is running and listening on that address.",
                       stage="tcp", origin="peer", evidence=ev)
    if kind == "timeout":
        return Finding("tcp-timeout", "error", f"Connection to {where} timed out after {seconds:g} s",
                       "No answer to the connection request: the SYN was dropped on the way, by a firewall, "
                       "or by a server whose accept queue is full.",
                       "Check firewalls and the address; try a longer --timeout if the path is slow.",
                       stage="tcp", origin="network", evidence=ev)
    if kind == "unreachable":
        return Finding("tcp-unreachable", "error", f"{where} is unreachable",
                       f"The OS has no route to that address ({os_words(exc)}), so no packet was sent "
                       "or a router reported the destination unreachable.",
                       "Check the address and the routing table (ip route), or the IPv4/IPv6 choice.",
                       stage="tcp", origin="network", evidence=ev)
    return Finding("tcp-failed", "error", f"Connection to {where} failed",
                   f"The connect call failed: {os_words(exc)}.", "Check the address and the local network.",
                   stage="tcp", origin="network", evidence=ev)


def local_bind_failed(exc: OSError, tried: list[int], what: str) -> Finding:
    """--local-port / --interface could not be bound: say why, TIME_WAIT included."""
    name = errno_name(exc) or type(exc).__name__
    ev = [Evidence("error", f"{name}: {os_words(exc)}"), Evidence("asked for", what)]
    if exc.errno == errno.EADDRINUSE and tried:
        held = [line for port in tried[:64] for line in port_holders(port)]
        if held:
            ev.append(Evidence("held by", "; ".join(held[:6])))
        waiting = any("TIME_WAIT" in h for h in held)
        why = (f"Every port tried ({_ports_text(tried)}) is taken on this host. "
               + ("A connection that this side closed first stays in TIME_WAIT for about 60 s (Linux), and its "
                  "local port cannot be bound again until then: running the same command twice with a fixed "
                  "--local-port hits it. This is why clients normally let the OS pick an ephemeral port, and "
                  "why it changes every run." if waiting else
                  "Another socket (a listener, or an open connection) holds it."))
        return Finding("local-port-in-use", "error", f"The local port is in use ({_ports_text(tried)})", why,
                       "Use another --local-port, a range (--local-port 40000-40100), or none (the OS picks a free "
                       "ephemeral port).", stage="tcp", origin="local", evidence=tuple(ev))
    if exc.errno == errno.EPERM or exc.errno == errno.EACCES:
        why = (f"Binding to {what} needs privileges tlsbench does not have here ({os_words(exc)}): binding to a "
               "network interface by name needs CAP_NET_RAW, and ports below 1024 need CAP_NET_BIND_SERVICE.")
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"The address asked for ({what}) is not one of this host's addresses."
    elif exc.errno == errno.ENODEV:
        why = f"There is no network interface named as asked ({what})."
    else:
        why = f"Binding the client socket to {what} failed: {os_words(exc)}."
    return Finding("local-bind-failed", "error", f"Cannot bind the client to {what}", why,
                   "Check --interface and --local-port (ip addr shows this host's addresses and interfaces).",
                   stage="tcp", origin="local", evidence=tuple(ev))


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
    if data[:1] == b"\x05" and len(data) <= 2:
        return "a SOCKS5 proxy (it answered in SOCKS5: use --socks5 or --socks5h)"
    if data[:1] == b"\x00" and len(data) >= 2 and 0x5A <= data[1] <= 0x5D:
        return "a SOCKS4 proxy (it answered in SOCKS4: use --socks4 or --socks4a)"
    if data.startswith(b"HTTP/") or data[:8].upper().startswith((b"GET ", b"<HTML", b"<!DOC")):
        return "an HTTP server"
    if len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03:
        return "a TLS server (a TLS record)"
    if data.startswith((b"220", b"+OK", b"* OK", b"SSH-", b"421", b"554")):
        return "a text banner (mail, FTP or SSH server)"
    if data and all(0x20 <= b < 0x7F or b in (9, 10, 13) for b in data):
        return "text"
    return "binary data that is not SOCKS"


def proxy_protocol_error(kind: str, proxy: str, data: bytes) -> Finding:
    like = looks_like(data)
    return Finding(
        "proxy-protocol-error", "error", f"The proxy at {proxy} did not answer in {kind.upper()}",
        f"tlsbench sent a {kind.upper()} request and got back something else; it looks like {like}. "
        "The port is probably not a SOCKS proxy, or speaks another SOCKS version.",
        "Check the proxy port, and the proxy type (--socks4/--socks4a/--socks5/--socks5h).",
        stage="proxy", origin="proxy", evidence=_proxy_ev(proxy, data))


def proxy_closed(kind: str, proxy: str, exc: BaseException | None) -> Finding:
    how = "reset the connection" if exc is not None and classify(exc) == "reset" else "closed the connection"
    return Finding(
        "proxy-closed", "error", f"The proxy {how} without a {kind.upper()} reply",
        f"The proxy {how} before answering the {kind.upper()} request. It may not speak this SOCKS version, "
        "or it refuses this client by its rules.",
        "Check the proxy type and the proxy's client rules and logs.",
        stage="proxy", origin="proxy", evidence=_proxy_ev(proxy))


def proxy_timeout(kind: str, proxy: str, seconds: float, received: bytes) -> Finding:
    return Finding(
        "proxy-timeout", "error", f"The proxy did not answer the {kind.upper()} request within {seconds:g} s",
        "The TCP connection to the proxy was made, but the proxy stayed silent: it may not be a SOCKS proxy, "
        "or it is still trying to reach the target.",
        "Check that the port is a SOCKS proxy; raise --timeout if the target is slow to reach.",
        stage="proxy", origin="proxy", evidence=_proxy_ev(proxy, received))


def proxy_auth_required(proxy: str, user: str | None) -> Finding:
    why = ("The proxy rejected every authentication method offered (reply method 0xFF). "
           + ("A user was given but no password, so only 'no authentication' was offered."
              if user else "No credentials were given, so only 'no authentication' was offered."))
    return Finding("proxy-auth-required", "error", "The proxy requires authentication", why,
                   "Give --proxy-user USER:PASS (or USER with the password in $TLSBENCH_PROXY_PASSWORD).",
                   stage="proxy", origin="proxy", evidence=_proxy_ev(proxy, reply="method 0xff: no acceptable methods"))


def proxy_auth_failed(proxy: str, user: str | None, status: int | None) -> Finding:
    shown = f"0x{status:02x}" if status is not None else "none"
    return Finding(
        "proxy-auth-failed", "error", "The proxy rejected the user name or password",
        f"The SOCKS5 username/password check failed (status {shown}) for user {user!r}.",
        "Check the user name and password the proxy expects.",
        stage="proxy", origin="proxy",
        evidence=_proxy_ev(proxy, reply=f"username/password status {shown}") + (Evidence("user", user or ""),))


def proxy_reply_failed(kind: str, proxy: str, requested: str, code: int, meaning: str,
                       remote_name: bool, behind: str = "the target") -> Finding:
    reply = f"0x{code:02x}: {meaning}"
    ev = _proxy_ev(proxy, reply=reply) + (Evidence("requested", requested),)
    if kind.startswith("socks4"):
        if code == 0x5B:
            return Finding(
                "proxy-target-refused", "error", f"The SOCKS4 proxy rejected or failed the request for {requested}",
                "SOCKS4 has one code (0x5B) for every failure: the target refused the connection, was "
                "unreachable, the name did not resolve, or the proxy's rules denied it. It is ambiguous.",
                "Check that the target port is open; use --socks5 for a precise reason.",
                stage="proxy", origin="proxy", evidence=ev)
        return Finding("proxy-request-failed", "error", f"The SOCKS4 proxy rejected the request ({meaning})",
                       f"The proxy answered {reply}.", "Check the proxy's identd and user-id rules.",
                       stage="proxy", origin="proxy", evidence=ev)
    if code == 5:
        return Finding(
            "proxy-target-refused", "error", f"{behind[0].upper()}{behind[1:]} ({requested}) refused the proxy's connection",
            f"The proxy works and reached the host of {behind}, but nothing listens on that port (SOCKS5 reply 5).",
            "Check the target port and that the service runs; the proxy itself works.",
            stage="proxy", origin="proxy", evidence=ev)
    if code in (3, 4, 6) or (code == 1 and remote_name):
        extra = (" With remote DNS this is also what a proxy answers when it cannot resolve the name."
                 if remote_name else "")
        return Finding(
            "proxy-target-unreachable", "error", f"The proxy could not reach {requested}",
            f"The proxy answered {reply}: it found no way to {behind}.{extra}",
            "Check the target name and address from the proxy's side (its DNS and routes).",
            stage="proxy", origin="proxy", evidence=ev)
    if code == 2:
        return Finding("proxy-denied", "error", f"The proxy's rules do not allow {requested}",
                       "The proxy refused the request by its rule set (SOCKS5 reply 2).",
                       "Ask the proxy's operator, or check its client and destination rules.",
                       stage="proxy", origin="proxy", evidence=ev)
    return Finding("proxy-request-failed", "error", f"The proxy failed the request ({meaning})",
                   f"The proxy answered {reply}.", "Check the proxy's logs; the request may be unsupported.",
                   stage="proxy", origin="proxy", evidence=ev)


def socks4_password_ignored() -> Finding:
    return Finding(
        "proxy-password-ignored", "info", "SOCKS4 has no passwords: only the user id was sent",
        "SOCKS4 carries a user id but no password; the password given was not sent.",
        "Use --socks5 if the proxy needs a password.", stage="proxy", origin="local")

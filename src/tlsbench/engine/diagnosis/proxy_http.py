"""Findings for an HTTP CONNECT hop, made from the proxy's answer: status, headers, body.

Which side refused is told from the status (407 and 403: the proxy itself; 502, 503, 504: what
lies behind it), and the proxy's own explanation is quoted (squid's X-Squid-Error header, the
text of its error page), bounded and kept literal.
"""

from __future__ import annotations

import html
import re

from tlsbench.engine.diagnosis.network import classify, errno_name, looks_like, os_words
from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.hops.http_reply import ReplyHead, auth_schemes
from tlsbench.engine.proxies import ProxySpec

QUOTE = 300  # characters of the proxy's explanation quoted in the finding


def explanation(head: ReplyHead, body: bytes) -> str:
    """The proxy's own words for a refusal: its error page as text, bounded."""
    text = body.decode("utf-8", "replace")
    if "<" in text and ">" in text:
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
        title = re.search(r"(?is)<title>(.*?)</title>", text)
        text = re.sub(r"(?s)<[^>]*>", " ", text)
        text = html.unescape(text)
        if title:
            heading = " ".join(html.unescape(title.group(1)).split())
            text = text.replace(title.group(1), " ", 1)
            text = f"{heading}: {text}"
    words = " ".join(text.split())
    return words[:QUOTE] + ("..." if len(words) > QUOTE else "")


def _evidence(hop: ProxySpec, head: ReplyHead | None, body: bytes = b"", rx: bytes = b"") -> list[Evidence]:
    ev = [Evidence("proxy", hop.url)]
    if head is not None:
        ev.append(Evidence("status line", head.status_line))
        for name in ("Proxy-Authenticate", "X-Squid-Error", "Server", "Via"):
            for value in head.all(name):
                ev.append(Evidence(name, value))
        said = explanation(head, body)
        if said:
            ev.append(Evidence("the proxy says", said))
    elif rx:
        ev.append(Evidence("bytes received", rx[:64].hex(" ")))
        ev.append(Evidence("as text", rx[:200].decode("latin-1")))
    return ev


def _f(code: str, title: str, why: str, hint: str, ev: list[Evidence], origin: str = "proxy") -> Finding:
    return Finding(code, "error", title, why, hint, stage="proxy", origin=origin, evidence=tuple(ev))  # type: ignore[arg-type]


def refusal(hop: ProxySpec, requested: str, head: ReplyHead, body: bytes, *, behind: str = "the target") -> Finding:
    status = head.status
    ev = _evidence(hop, head, body) + [Evidence("requested", f"CONNECT {requested}")]
    said = explanation(head, body).lower()
    squid = (head.header("X-Squid-Error") or "").upper()
    if status == 407 or (status == 401 and hop.username):
        # 401 is for origin servers; tinyproxy answers wrong proxy credentials with it all the same.
        schemes = auth_schemes(head)
        if schemes and not any(s.lower() == "basic" for s in schemes):
            named = " or ".join(schemes)
            return _f("proxy-auth-unsupported", f"The proxy wants {named} authentication, which tlsbench does not speak",
                      f"The proxy answered 407 and offers only {named} (Proxy-Authenticate). tlsbench (like curl "
                      "without GSS-API/NTLM support) authenticates to HTTP proxies with Basic only.",
                      "Use a client that speaks that scheme, or ask for Basic authentication or an exception.", ev)
        if hop.username:
            return _f("proxy-auth-failed", "The proxy rejected the user name or password",
                      f"The proxy answered 407 to CONNECT with Basic credentials for user {hop.username!r}: "
                      "the user or the password is wrong, or the user may not use this proxy.",
                      "Check the user name and password the proxy expects.", ev + [Evidence("user", hop.username)])
        return _f("proxy-auth-required", "The proxy requires authentication",
                  "The proxy answered 407 (Proxy Authentication Required) and no credentials were given.",
                  "Give the proxy's user and password (user in the proxy URL or --proxy-user USER; the password "
                  "from $TLSBENCH_PROXY_PASSWORD, or asked for).", ev)
    if status == 403:
        return _f("proxy-denied", f"The proxy's rules do not allow CONNECT to {requested}",
                  f"The proxy refused the tunnel by its own rules (403 Forbidden): {behind} was never contacted. "
                  "Proxies commonly allow CONNECT to port 443 only, or to listed destinations.",
                  "Ask the proxy's operator, or check its access rules (squid: http_access, SSL_ports; "
                  "tinyproxy: ConnectPort).", ev)
    if status in (502, 503, 504) or "unable to connect" in said or "connection refused" in said or any(
            err in squid for err in ("ERR_CONNECT_FAIL", "ERR_DNS_FAIL", "ERR_CANNOT_FORWARD")):
        refused = "ERR_CONNECT_FAIL 111" in squid or "connection refused" in said or "refused" in head.reason.lower()
        dns = "ERR_DNS_FAIL" in squid or "unable to determine ip address" in said or "name resolution" in said
        if "ERR_CANNOT_FORWARD" in squid:
            return _f("proxy-target-unreachable", f"The proxy could not forward to {requested}",
                      f"The proxy answered {head.status_line} (squid: ERR_CANNOT_FORWARD): it found no way to "
                      f"{behind} — its DNS could not resolve the name, or no route or parent proxy leads there.",
                      f"Check the name and that {behind} is reachable from the proxy (its DNS and routes).", ev,
                      origin="network")
        timed = status == 504 or "ERR_CONNECT_FAIL 110" in squid or "timed out" in said
        if refused:
            return _f("proxy-target-refused", f"{behind[0].upper()}{behind[1:]} ({requested}) refused the proxy's connection",
                      f"The proxy works, and tried to connect to {behind}; nothing listens on that port, or a "
                      f"firewall there rejects it (HTTP {status} from the proxy).",
                      f"Check that {behind} is up and listening on that port.", ev, origin="peer")
        if dns:
            return _f("proxy-target-unreachable", f"The proxy could not resolve the name in {requested}",
                      f"The proxy answered {status}: its DNS found no address for the name it was asked for.",
                      "Check the name, or the proxy's DNS.", ev)
        if timed:
            return _f("proxy-target-unreachable", f"The proxy's connection to {requested} timed out",
                      f"The proxy answered {status}: {behind} did not answer it in time.",
                      f"Check that {behind} is reachable from the proxy (routes, firewalls).", ev, origin="network")
        return _f("proxy-target-unreachable", f"The proxy could not reach {requested}",
                  f"The proxy answered {head.status_line}: it could not open a connection to {behind}.",
                  f"Check that {behind} is reachable from the proxy; the proxy's message below says more.", ev,
                  origin="network")
    return _f("proxy-request-failed", f"The proxy refused the CONNECT request ({head.status_line})",
              f"The proxy answered {head.status_line} instead of opening a tunnel.",
              "Check that this is a forward proxy that allows CONNECT; see the proxy's words below.", ev)


def not_http(hop: ProxySpec, rx: bytes, why: str) -> Finding:
    like = looks_like(rx)
    return _f("proxy-protocol-error", f"The proxy at {hop.address} did not answer in HTTP",
              f"tlsbench sent an HTTP CONNECT request and got {why}; it looks like {like}. The port is probably "
              "not an HTTP proxy.", "Check the proxy port and its scheme (http://, https://, socks5h://, ...).",
              _evidence(hop, None, rx=rx))


def timeout(hop: ProxySpec, seconds: float, rx: bytes) -> Finding:
    return _f("proxy-timeout", f"The proxy did not answer the CONNECT request within {seconds:g} s",
              "The connection to the proxy was made, but its answer did not come (or not completely): it may be "
              "still trying to reach the target, or not be an HTTP proxy.",
              "Raise the timeout if the target is slow to reach; check the proxy's logs.", _evidence(hop, None, rx=rx))


def closed(hop: ProxySpec, exc: BaseException | None, rx: bytes) -> Finding:
    how = "reset the connection" if exc is not None and classify(exc) == "reset" else "closed the connection"
    ev = _evidence(hop, None, rx=rx)
    if exc is not None:
        ev.append(Evidence("error", f"{errno_name(exc) or type(exc).__name__}: {os_words(exc)}"))
    return _f("proxy-closed", f"The proxy {how} without answering the CONNECT request",
              f"The proxy {how} {'after part of an answer' if rx else 'before answering'}: it may not speak HTTP, "
              "or it refuses this client by its rules.", "Check the proxy's scheme, client rules and logs.", ev)

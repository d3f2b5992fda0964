"""Findings for an HTTP CONNECT hop, made from the proxy's answer: status, headers, body.

Which side refused is told from the status (407 and 403: the proxy itself; 502, 503, 504: what
lies behind it), and the proxy's own explanation is quoted (squid's X-Squid-Error header, the
text of its error page), bounded and kept literal.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Callable

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.network import classify, errno_name, looks_like, os_words, proxy_kind_hint
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.suggestions import Suggestion
from tlsbench.engine.hops.http_reply import MAX_HEAD, ReplyHead, auth_schemes
from tlsbench.engine.tls.peekbytes import looks_like_tls
from tlsbench.engine.route.proxies import ProxySpec

if TYPE_CHECKING:
    from tlsbench.engine.stages.context import StageOutcome

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
            return finding("proxy-auth-unsupported", f"The proxy wants {named} authentication, which tlsbench does not speak",
                      f"The proxy answered {head.status_line} and offers only {named} (Proxy-Authenticate). tlsbench (like curl "
                      "without GSS-API/NTLM support) authenticates to HTTP proxies with Basic only.",
                      "Use a client that speaks that scheme, or ask for Basic authentication or an exception.", ev)
        if hop.username:
            return finding("proxy-auth-failed", "The proxy rejected the user name or password",
                      f"The proxy answered {head.status_line} to CONNECT with Basic credentials for user {hop.username!r}: "
                      "the user or the password is wrong, or the user may not use this proxy.",
                      "Check the user name and password the proxy expects.", ev + [Evidence("user", hop.username)])
        return finding("proxy-auth-required", "The proxy requires authentication",
                  f"The proxy answered {head.status_line} and no credentials were given.",
                  Suggestion("Give the proxy's user with {proxy_user} (or in the proxy URL, user@host) and its "
                             "password (asked for, or read from $TLSBENCH_PROXY_PASSWORD; never saved)."), ev)
    if status == 403:
        return finding("proxy-denied", f"The proxy's rules do not allow CONNECT to {requested}",
                  f"The proxy refused the tunnel by its own rules ({head.status_line}): {behind} was never contacted. "
                  "Proxies commonly allow CONNECT to port 443 only, or to listed destinations.",
                  "Ask the proxy's operator, or check its access rules (squid: http_access, SSL_ports; "
                  "tinyproxy: ConnectPort).", ev)
    if status in (502, 503, 504) or "unable to connect" in said or "connection refused" in said or any(
            err in squid for err in ("ERR_CONNECT_FAIL", "ERR_DNS_FAIL", "ERR_CANNOT_FORWARD")):
        refused = "ERR_CONNECT_FAIL 111" in squid or "connection refused" in said or "refused" in head.reason.lower()
        dns = "ERR_DNS_FAIL" in squid or "unable to determine ip address" in said or "name resolution" in said
        if "ERR_CANNOT_FORWARD" in squid:
            return finding("proxy-target-unreachable", f"The proxy could not forward to {requested}",
                      f"The proxy answered {head.status_line} (squid: ERR_CANNOT_FORWARD): it found no way to "
                      f"{behind} — its DNS could not resolve the name, or no route or parent proxy leads there.",
                      f"Check the name and that {behind} is reachable from the proxy (its DNS and routes).", ev,
                      origin="network")
        timed = status == 504 or "ERR_CONNECT_FAIL 110" in squid or "timed out" in said
        if refused:
            return finding("proxy-target-refused", f"{behind[0].upper()}{behind[1:]} ({requested}) refused the proxy's connection",
                      f"The proxy works, and tried to connect to {behind}; nothing listens on that port, or a "
                      f"firewall there rejects it (HTTP {status} from the proxy).",
                      f"Check that {behind} is up and listening on that port.", ev, origin="peer")
        if dns:
            return finding("proxy-target-unreachable", f"The proxy could not resolve the name in {requested}",
                      f"The proxy answered {status}: its DNS found no address for the name it was asked for.",
                      "Check the name, or the proxy's DNS.", ev)
        if timed:
            return finding("proxy-target-unreachable", f"The proxy's connection to {requested} timed out",
                      f"The proxy answered {status}: {behind} did not answer it in time.",
                      f"Check that {behind} is reachable from the proxy (routes, firewalls).", ev, origin="network")
        return finding("proxy-target-unreachable", f"The proxy could not reach {requested}",
                  f"The proxy answered {head.status_line}: it could not open a connection to {behind}.",
                  f"Check that {behind} is reachable from the proxy; the proxy's message below says more.", ev,
                  origin="network")
    if status == 101:
        upgrade = head.header("Upgrade")
        return finding("proxy-protocol-error", "The proxy answered CONNECT with 101 Switching Protocols, not a tunnel",
                  f"A proxy opens a tunnel with a 2xx answer; {head.status_line} switches the connection to another "
                  f"protocol{f' ({upgrade[:80]})' if upgrade else ''}, which is no answer to CONNECT. No tunnel was "
                  "opened.", "Check that this is a forward proxy that allows CONNECT (not a WebSocket or "
                  "HTTP/2 upgrade endpoint).", ev)
    if 100 <= status < 200:
        return finding("proxy-protocol-error", f"The proxy sent only interim answers ({head.status_line}), no final one",
                  f"The proxy kept answering {head.status_line} (an interim 1xx answer) and tlsbench stopped "
                  "waiting for the final answer after several of them. No tunnel was opened.",
                  "Check the proxy's software and logs.", ev)
    if 300 <= status < 400:
        location = head.header("Location")
        where = f" to {location[:200]}" if location else ""
        return finding("proxy-request-failed", f"The proxy redirected the CONNECT request ({head.status_line})",
                  f"The proxy answered {head.status_line}{where} instead of opening a tunnel. A redirect is no "
                  "answer to CONNECT: clients do not follow it, and no tunnel was opened.",
                  "Check the proxy address: this may be a web server or a captive portal rather than a forward "
                  "proxy.", ev + ([Evidence("Location", location)] if location else []))
    return finding("proxy-request-failed", f"The proxy refused the CONNECT request ({head.status_line})",
              f"The proxy answered {head.status_line} instead of opening a tunnel.",
              "Check that this is a forward proxy that allows CONNECT; see the proxy's words below.", ev)


def connect_body(hop: ProxySpec, head: ReplyHead, early: bytes) -> tuple[Finding, ...]:
    """A warning when a 2xx answer to CONNECT declares a body: its bytes go into the tunnel."""
    length = head.header("Content-Length")
    coding = head.header("Transfer-Encoding")
    declared = (f"Content-Length: {length}" if length is not None and length.strip() not in ("", "0") else
                f"Transfer-Encoding: {coding}" if coding is not None else None)
    if declared is None:
        return ()
    ev = [Evidence("proxy", hop.url), Evidence("status line", head.status_line), Evidence("header", declared)]
    if early:
        ev += [Evidence("bytes after the head (hex)", early[:64].hex(" ")),
               Evidence("bytes after the head (text)", early[:200].decode("latin-1"))]
    return (finding("proxy-connect-body", f"The proxy's {head.status_line} to CONNECT declares a body",
                    f"The proxy opened the tunnel but its answer carries '{declared}', which a 2xx answer to CONNECT "
                    "must not (RFC 9110 9.3.6). A client ignores it: every byte after the answer's head belongs "
                    "to the tunnel, so " + (f"the {len(early)} byte(s) that came with the head reach the next "
                                            "stage as if the target had sent them." if early else
                                            "any body the proxy sends reaches the next stage as if the target "
                                            "had sent it."),
                    "Fix the proxy (or what sits in front of it); a later stage's 'not TLS' may be this body.",
                    ev),)


def head_too_long(hop: ProxySpec, requested: str, partial: ReplyHead | None, rx: bytes, *,
                  behind: str = "the target") -> Finding:
    """A head that did not end within MAX_HEAD bytes: a refusal still says what its status says."""
    limit = Evidence("answer head", f"longer than {MAX_HEAD} bytes; tlsbench read no further")
    if partial is not None and not (100 <= partial.status < 300):
        found = refusal(hop, requested, partial, b"", behind=behind)
        return found._replace(evidence=found.evidence + (limit,))
    said = f"answered {partial.status_line} and then sent" if partial is not None else "sent"
    ev = _evidence(hop, partial, rx=b"" if partial is not None else rx) + [limit]
    return finding("proxy-protocol-error", f"The proxy's answer head did not end within {MAX_HEAD} bytes",
              f"The proxy {said} more than {MAX_HEAD} bytes of header lines without the blank line that ends an "
              "HTTP head. tlsbench stops reading there; no tunnel was opened.",
              "Check the proxy (or what sits in front of it): it sends headers without end.", ev)


def not_http(hop: ProxySpec, rx: bytes, why: str) -> Finding:
    if rx.startswith(b"HTTP/"):
        return finding("proxy-protocol-error", "The proxy's answer to CONNECT is not valid HTTP/1.x",
                  f"The proxy at {hop.address} answered in HTTP, but with {why}. A client cannot go on from an answer "
                  "it cannot read, so no tunnel was opened.",
                  "Check the proxy's software (or what sits in front of it); it may speak another HTTP version.",
                  _evidence(hop, None, rx=rx))
    like = looks_like(rx)
    if "HTTP/0.9" in like:
        return finding("proxy-protocol-error", f"The proxy at {hop.address} answered without an HTTP status line",
                  f"tlsbench sent an HTTP CONNECT request and got {like}. An answer to CONNECT starts with a status "
                  "line ('HTTP/1.1 200 ...'); this is a web server's page (or a very old one's), not a proxy's "
                  "answer.", "Check the proxy port and its scheme (http://, https://, socks5h://, ...).",
                  _evidence(hop, None, rx=rx))
    return finding("proxy-protocol-error", f"The proxy at {hop.address} did not answer in HTTP",
              f"tlsbench sent an HTTP CONNECT request and got {why}; it looks like {like}. The port is probably "
              "not an HTTP proxy.", "Check the proxy port and its scheme (http://, https://, socks5h://, ...).",
              _evidence(hop, None, rx=rx))


def _so_far(rx: bytes, interim: list[str] | tuple[str, ...]) -> str:
    parts = [f"after {', '.join(interim)}"] if interim else []
    if rx:
        line = rx.split(b"\n", 1)[0].rstrip(b"\r")
        complete = b"\n" in rx
        parts.append(f"{len(rx)} byte(s) of it, {'starting' if complete else 'all of them'} "
                     f"{line[:80].decode('latin-1')!r}")
    return "; ".join(parts)


def timeout(hop: ProxySpec, seconds: float, rx: bytes, interim: list[str] | tuple[str, ...] = ()) -> Finding:
    so_far = _so_far(rx, interim)
    if so_far:
        return finding("proxy-timeout", f"The proxy's answer to CONNECT did not end within {seconds:g} s",
                  f"The proxy began answering ({so_far}) but the end of its head (a blank line) did not come "
                  f"before the stage's deadline ({seconds:g} s): it is stuck, or sends its answer far too slowly.",
                  "Check the proxy's load and logs.", _evidence(hop, None, rx=rx))
    return finding("proxy-timeout", f"The proxy did not answer the CONNECT request within {seconds:g} s",
              "The connection to the proxy was made, but no answer came: it may be still trying to reach the "
              "target, or not be an HTTP proxy.",
              Suggestion("If the target is slow to reach, raise {timeout}; check the proxy's logs."),
              _evidence(hop, None, rx=rx))


def closed(hop: ProxySpec, exc: BaseException | None, rx: bytes, interim: list[str] | tuple[str, ...] = ()) -> Finding:
    how = "reset the connection" if exc is not None and classify(exc) == "reset" else "closed the connection"
    ev = _evidence(hop, None, rx=rx)
    if exc is not None:
        ev.append(Evidence("error", f"{errno_name(exc) or type(exc).__name__}: {os_words(exc)}"))
    if rx:
        ended = "was reset" if "reset" in how else "closed"
        return finding("proxy-reply-cut-short", f"The proxy's answer to CONNECT was cut short ({len(rx)} bytes, then the "
                  f"connection {ended})",
                  f"The proxy began its answer ({_so_far(rx, interim)}) and the connection {ended} before the end "
                  "of its head (a blank line). An incomplete answer opens no tunnel.",
                  "Check the proxy's logs: it may have crashed or been stopped mid-answer, or something between "
                  "cut the connection.", ev)
    so_far = f" (after {', '.join(interim)})" if interim else ""
    return finding("proxy-closed", f"The proxy {how} without answering the CONNECT request",
              f"The proxy {how} before answering{so_far}: it may not speak HTTP, or it refuses this client by its "
              "rules.", "Check the proxy's scheme, client rules and logs.", ev)


def tls_record_at(data: bytes) -> int | None:
    """The offset (> 0) of the first plausible TLS handshake or alert record after other bytes, or None."""
    from tlsbench.engine.tls.peekbytes import MAX_RECORD

    for at in range(1, max(0, len(data) - 4)):
        if data[at] in (0x15, 0x16) and data[at + 1] == 0x03 and data[at + 2] <= 0x04 \
                and 0 < int.from_bytes(data[at + 3:at + 5], "big") <= MAX_RECORD:
            return at
    return None


def bytes_after_200(hop: ProxySpec, status_line: str,
                    declared: int | None = None) -> Callable[[StageOutcome], StageOutcome]:
    """For the tls stage: a handshake answered with other bytes and then a TLS record (`16 03 0x`) is
    the proxy's doing (a body after its 2xx), not a target that does not speak TLS (`not-tls`); so are
    bytes that are exactly the body its 2xx declared (Content-Length: `declared`)."""

    def review(outcome: StageOutcome) -> StageOutcome:
        if outcome.ok or not any(f.code == "not-tls" for f in outcome.findings):
            return outcome
        data = bytes.fromhex(getattr(outcome.detail, "first_bytes_hex", None) or "")
        at = tls_record_at(data)
        if at is None and declared and len(data) >= declared and not looks_like_tls(data[:3]):
            at = declared  # the body the proxy announced: whatever follows it, these bytes are the proxy's
        if at is None:
            return outcome
        extra = data[:at]
        follows = (f"then a TLS record ({data[at:at + 3].hex(' ')} at offset {at}): the target answered the "
                   "ClientHello in TLS, behind bytes the proxy put in the tunnel" if tls_record_at(data) == at else
                   f"exactly the {at}-byte body its answer declared (Content-Length: {at}): the proxy put them in "
                   "the tunnel")
        replaced = finding(
            "proxy-protocol-error", f"The proxy sent {at} byte(s) after its {status_line}",
            f"After the proxy's '{status_line}' the tunnel carried {at} byte(s) that are not TLS, {follows} (a "
            "body with its 2xx, which an answer to CONNECT must not have, RFC 9110 9.3.6). The target is not at "
            "fault.",
            "Fix the proxy (or what sits in front of it): its answer to CONNECT must end at the blank line.",
            (Evidence("proxy", hop.url), Evidence("status line", status_line),
             Evidence("bytes after the 2xx (hex)", extra[:64].hex(" ")),
             Evidence("bytes after the 2xx (text)", extra[:200].decode("latin-1")),
             Evidence("TLS record at offset", f"{at}: {data[at:at + 5].hex(' ')}") if tls_record_at(data) == at
             else Evidence("declared body", f"Content-Length: {at}")), stage="tls")
        findings = tuple(replaced if f.code == "not-tls" else f for f in outcome.findings)
        return outcome._replace(findings=findings, summary=replaced.title)

    return review

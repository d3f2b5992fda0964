"""The findings catalogue: every finding code, once, with its stage, severity, short title and origin.

Every finding is made through `finding()`, which takes the stage, severity and origin from here;
a finding whose severity or origin legitimately varies passes its own, and the catalogue lists
which ones are possible. docs/findings.md is generated from this table (scripts/docs; a test fails
when it is not current), and another test fails if the sources make a finding whose code is not here.
A new code is one row here, then scripts/docs.

Stages are the plan's stage kinds (engine/plan.py KINDS); "any" is a code any stage can raise
(the stage is given when it is made); "listener" codes are raised by `tlsbench serve`.
"""


from collections.abc import Iterable
from typing import NamedTuple

from tlsbench.engine.findings import weakening
from tlsbench.engine.findings.model import Evidence, Finding, Origin, Severity
from tlsbench.engine.suggestions import Suggestion, literal


class Entry(NamedTuple):
    code: str
    stage: str
    severity: Severity  # the usual one
    title: str  # what it means, in a few words
    origin: Origin  # whose doing it usually is
    severities: tuple[Severity, ...] = ()  # every possible one, when it varies
    origins: tuple[Origin, ...] = ()  # every possible one, when it varies
    also: tuple[str, ...] = ()  # other stages that raise it (the listener's code, seen from the client)
    # Its suggestion may advise weakening TLS (a lower --tls-min, -k, ...): only with the evidence
    # engine/findings/weakening.py names; without it, finding() gives the neutral suggestion instead.
    weakens: bool = False

    @property
    def allowed_severities(self) -> tuple[Severity, ...]:
        return self.severities or (self.severity,)

    @property
    def allowed_origins(self) -> tuple[Origin, ...]:
        own = self.origins or (self.origin,)
        # An HTTPS proxy's own handshake and certificate are diagnosed with the tls and chain codes:
        # what its bytes show is the proxy's doing.
        return own + ("proxy",) if self.stage in ("tls", "chain") and "proxy" not in own else own


_E = Entry
ENTRIES: tuple[Entry, ...] = (
    # --- resolve --------------------------------------------------------------------------------
    _E("dns-failed", "resolve", "error", "DNS lookup failed", "network"),
    _E("dns-timeout", "resolve", "error", "DNS lookup timed out", "network"),
    # tlsbench's own DNS queries (--dns-servers, --doh-url, and the resolv.conf detail beside getaddrinfo)
    _E("dns-nxdomain", "resolve", "error", "The DNS server says the name does not exist", "peer"),
    _E("dns-server-error", "resolve", "error", "The DNS server answered with an error code", "peer",
       severities=("error", "warning")),
    _E("dns-no-address", "resolve", "error", "The name has no address record", "peer"),
    _E("dns-server-timeout", "resolve", "error", "The DNS server did not answer", "network",
       severities=("error", "warning")),
    _E("dns-server-unreachable", "resolve", "error", "The DNS server cannot be reached", "network",
       severities=("error", "warning")),
    _E("dns-server-cert-failed", "resolve", "error", "The DNS-over-TLS server's certificate did not verify", "peer"),
    _E("dns-server-tls-failed", "resolve", "error", "The TLS handshake with the DNS server failed", "peer"),
    _E("dns-answer-malformed", "resolve", "error", "The DNS server's answer does not parse", "peer",
       severities=("error", "warning")),
    _E("dns-cname-chain", "resolve", "error", "A CNAME chain loops or is too long", "peer"),
    _E("dns-resolvers-disagree", "resolve", "warning", "The system resolver and the DNS server disagree", "network"),
    _E("dns-https-h3", "resolve", "info", "The name's HTTPS record offers HTTP/3", "peer"),
    # --- tcp ------------------------------------------------------------------------------------
    _E("tcp-refused", "tcp", "error", "Connection refused", "peer"),
    _E("tcp-timeout", "tcp", "error", "Connection timed out", "network"),
    _E("tcp-unreachable", "tcp", "error", "Address unreachable", "network"),
    _E("tcp-failed", "tcp", "error", "Connection failed", "network"),
    _E("proxy-unreachable", "tcp", "error", "The proxy cannot be reached", "network",
       also=("proxy",)),  # an ssh:// hop: ssh makes that connection inside the proxy stage
    _E("local-port-in-use", "tcp", "error", "The local port is in use", "local"),
    _E("local-bind-failed", "tcp", "error", "The client cannot bind as asked", "local"),
    _E("tcp-syn-retransmitted", "tcp", "warning", "The SYN had to be sent again (accept queue full?)", "peer",
       origins=("peer", "network")),
    # --- proxy ----------------------------------------------------------------------------------
    _E("proxy-auth-failed", "proxy", "error", "The proxy rejected the credentials", "proxy"),
    _E("proxy-auth-required", "proxy", "error", "The proxy requires authentication", "proxy"),
    _E("proxy-auth-unsupported", "proxy", "error", "The proxy's authentication scheme is not supported", "proxy"),
    _E("proxy-target-refused", "proxy", "error", "The target refused the proxy's connection", "proxy",
       origins=("proxy", "peer")),
    _E("proxy-target-unreachable", "proxy", "error", "The proxy could not reach the target", "proxy",
       origins=("proxy", "network")),
    _E("proxy-protocol-error", "proxy", "error", "The proxy answered in another protocol", "proxy", also=("tls",)),
    _E("proxy-reply-cut-short", "proxy", "error", "The proxy's answer was cut short", "proxy"),
    _E("proxy-connect-body", "proxy", "warning", "The proxy's 2xx to CONNECT declares a body", "proxy"),
    _E("proxy-timeout", "proxy", "error", "The proxy did not answer in time", "proxy"),
    _E("proxy-closed", "proxy", "error", "The proxy closed the connection", "proxy"),
    _E("proxy-denied", "proxy", "error", "The proxy's rules refused the request", "proxy"),
    _E("proxy-request-failed", "proxy", "error", "The proxy failed the request", "proxy"),
    _E("proxy-host-key-unverified", "proxy", "error", "The SSH server's host key is not the one known_hosts holds",
       "local", origins=("local", "proxy")),
    _E("proxy-password-ignored", "proxy", "info", "SOCKS4 sends no password", "local"),
    # --- starttls -------------------------------------------------------------------------------
    _E("starttls-not-offered", "starttls", "error", "The server does not offer STARTTLS", "peer",
       severities=("error", "warning")),
    _E("starttls-refused", "starttls", "error", "The server refused STARTTLS", "peer"),
    _E("starttls-unexpected-reply", "starttls", "error", "The peer does not speak the protocol asked for", "peer"),
    _E("starttls-reply-too-long", "starttls", "error", "A reply or line of the server's is too long", "peer"),
    _E("auth-before-tls", "starttls", "warning", "Password login offered before TLS", "peer"),
    _E("starttls-implicit-tls", "starttls", "warning", "The port speaks TLS at once", "local",
       severities=("info", "warning", "error")),
    _E("starttls-timeout", "starttls", "error", "The server went silent during STARTTLS", "peer"),
    _E("starttls-closed", "starttls", "error", "The server closed the connection during STARTTLS", "peer",
       origins=("peer", "network")),
    # --- tls ------------------------------------------------------------------------------------
    _E("not-tls", "tls", "error", "The peer does not speak TLS", "peer"),
    _E("plaintext-after-starttls", "tls", "error", "The server answered in clear after agreeing to STARTTLS", "peer"),
    _E("tls-timeout", "tls", "error", "The handshake timed out", "peer"),
    _E("connection-reset", "tls", "error", "The peer closed the connection during the handshake", "peer"),
    _E("tls-alert", "tls", "error", "The handshake ended with an alert", "peer", origins=("peer", "local")),
    _E("sni-required", "tls", "error", "The server needs the right SNI", "peer"),
    _E("tls-version-mismatch", "tls", "error", "No TLS version both sides accept", "peer",
       origins=("peer", "local"), weakens=True),
    _E("no-shared-cipher", "tls", "error", "No cipher suite both sides accept", "peer"),
    _E("client-cert-required", "tls", "error", "The server requires a client certificate", "peer",
       also=("app",)),
    _E("tls-handshake-failed", "tls", "error", "The TLS handshake failed", "peer"),
    _E("tls-malformed", "tls", "error", "The peer sent a malformed TLS message", "peer", also=("app",)),
    _E("verify-disabled", "tls", "warning", "Certificate verification is off", "local"),
    _E("no-sni", "tls", "warning", "No SNI was sent", "local", severities=("warning", "info")),
    _E("weak-tls-version", "tls", "warning", "An old TLS version was negotiated (or is accepted)", "peer",
       severities=("warning", "error"), also=("enumerate",)),
    _E("keylog-enabled", "tls", "warning", "The TLS session secrets are written to a key log", "local"),
    _E("accept-queue-wait", "tls", "warning", "A fast connect, then a long wait for the server's first byte", "peer"),
    _E("relay-delayed-ack", "tls", "info", "A relay's Nagle against the client's delayed ACK", "proxy"),
    # --- chain (the certificates; raised by the tls stage when verification fails) ---------------
    _E("cert-expired", "chain", "error", "A certificate has expired", "peer", weakens=True),
    _E("cert-not-yet-valid", "chain", "error", "A certificate is not valid yet", "peer", weakens=True),
    _E("cert-hostname-mismatch", "chain", "error", "The certificate is for another name", "peer",
       severities=("error", "warning"), weakens=True),
    _E("cert-self-signed", "chain", "error", "A self-signed certificate is not trusted", "peer", weakens=True),
    _E("cert-untrusted", "chain", "error", "The chain leads to an untrusted CA", "peer", weakens=True),
    _E("cert-incomplete-chain", "chain", "error", "The server did not send its intermediate CA", "peer", weakens=True),
    _E("cert-expiring-soon", "chain", "warning", "A certificate expires soon", "peer"),
    _E("tls-intercepted", "chain", "warning", "Another leaf through the proxy than direct (interception)", "proxy"),
    _E("no-sct", "chain", "warning", "A publicly trusted leaf carries no certificate transparency timestamps", "peer"),
    _E("cert-unparsable", "chain", "warning", "A certificate could not be parsed", "peer",
       severities=("warning", "error")),
    _E("cert-extension-unparsable", "chain", "warning", "A certificate extension does not parse", "peer",
       severities=("warning", "error")),
    _E("cert-negative-serial", "chain", "warning", "A certificate's serial number is not positive", "peer",
       origins=("peer", "proxy")),
    _E("cert-varies", "chain", "warning", "The address answered with different certificates", "peer"),
    # --- app ------------------------------------------------------------------------------------
    _E("app-no-response", "app", "error", "No answer to the request", "peer"),
    _E("http-error-status", "app", "warning", "The server answered with an HTTP error", "peer",
       severities=("warning", "info")),
    _E("http-0.9-response", "app", "warning", "The answer has no HTTP status line", "peer"),
    _E("h2-protocol-error", "app", "error", "The server's HTTP/2 frames break the protocol", "peer"),
    _E("h2-limit-exceeded", "app", "error", "The server's HTTP/2 answer passed a bound", "peer"),
    _E("h2-goaway", "app", "error", "The server closed the HTTP/2 connection (GOAWAY)", "peer",
       severities=("error", "warning")),
    _E("h2-stream-reset", "app", "error", "The server reset the request's stream (RST_STREAM)", "peer"),
    _E("alpn-not-offered", "app", "error", "The server chose a protocol tlsbench did not offer", "peer"),
    _E("authority-mismatch", "app", "warning", "The names of the request, SNI and CONNECT disagree", "local"),
    # --- doh (inside the resolve stage: a DNS-over-HTTPS lookup's own connection) -----------------
    _E("doh-not-h2", "doh", "error", "The DoH server did not choose HTTP/2", "peer"),
    _E("doh-http-status", "doh", "error", "The DoH server answered a query with an HTTP error", "peer"),
    _E("doh-content-type", "doh", "error", "The DoH server's answer is not a DNS message", "peer"),
    _E("doh-no-answer", "doh", "error", "A DNS query over HTTPS got no answer", "peer",
       origins=("peer", "network")),
    # --- quic (--http3, --http3-only) ---------------------------------------------------------------
    _E("quic-no-answer", "quic", "error", "QUIC got no answer over UDP", "network", severities=("error", "warning")),
    _E("quic-handshake-timeout", "quic", "error", "The QUIC handshake did not complete in time", "network",
       severities=("error", "warning")),
    _E("quic-port-unreachable", "quic", "error", "Nothing serves QUIC on that UDP port (ICMP)", "peer",
       severities=("error", "warning")),
    _E("quic-version-negotiation", "quic", "error", "The server speaks no QUIC version tlsbench offers", "peer",
       severities=("error", "warning")),
    _E("quic-handshake-failed", "quic", "error", "The QUIC handshake was closed with an error", "peer",
       severities=("error", "warning")),
    _E("quic-failed", "quic", "error", "The QUIC attempt failed", "network", severities=("error", "warning"),
       origins=("network", "local")),
    _E("h3-request-failed", "app", "error", "The HTTP/3 request got no complete answer", "peer"),
    _E("http3-advertised-but-failed", "app", "warning", "The server advertises HTTP/3, and QUIC failed", "network",
       origins=("network", "peer")),
    _E("http3-not-advertised", "app", "info", "The server does not advertise HTTP/3 (no Alt-Svc h3)", "peer"),
    # --- revocation (--check-revocation) ---------------------------------------------------------
    # --- key-exchange (--groups, --pq: tlsbench's own TLS 1.3 hello) ---------------------------
    _E("pq-hybrid-selected", "key-exchange", "info", "The server chose the post-quantum hybrid group", "peer"),
    _E("pq-fallback", "key-exchange", "info", "The server chose a classical group over the hybrid offered", "peer"),
    _E("key-share-retry", "key-exchange", "info", "The server asked for another key share (HelloRetryRequest)", "peer"),
    _E("groups-refused", "key-exchange", "error", "The server accepts none of the groups offered", "peer"),
    _E("tls13-not-spoken", "key-exchange", "warning", "The server does not speak TLS 1.3", "peer"),
    _E("tls13-flight-invalid", "key-exchange", "error", "The server's TLS 1.3 first flight is not valid", "peer"),
    _E("large-hello-dropped", "key-exchange", "error", "The path drops large ClientHellos", "network",
       also=("tls",)),
    _E("tls13-no-answer", "key-exchange", "warning", "No answer to tlsbench's own TLS 1.3 hello", "network"),
    _E("cert-revoked", "revocation", "error", "The certificate was revoked", "peer"),
    _E("revocation-unknown", "revocation", "warning", "The revocation status is unknown", "peer"),
    _E("revocation-unreachable", "revocation", "warning", "No revocation source could be reached", "network"),
    _E("revocation-no-source", "revocation", "info", "The certificate names no revocation source", "peer"),
    # --- reconnect (--reconnect) -------------------------------------------------------------------
    _E("resumption-unavailable", "reconnect", "info", "The server offers no session resumption", "peer"),
    _E("resumption-refused", "reconnect", "warning", "The server issues tickets but never resumes", "peer"),
    # --- any --------------------------------------------------------------------------------------
    _E("internal-error", "any", "error", "A bug in tlsbench", "local"),
    # --- listener (tlsbench serve: what a client did) ----------------------------------------------
    _E("http-on-tls-port", "listener", "error", "Plain HTTP arrived on a TLS port", "peer", origins=("peer", "local"),
       also=("app",)),
    _E("tls-on-plain-port", "listener", "error", "TLS arrived on a plain port", "peer"),
    _E("client-aborted-handshake", "listener", "error", "The client gave up the handshake", "peer"),
    _E("no-sni-from-client", "listener", "warning", "The client sent no SNI", "peer"),
    _E("client-hello-cut-short", "listener", "error", "The client's ClientHello was cut short", "peer"),
    _E("client-hello-malformed", "listener", "error", "The client's ClientHello breaks the TLS rules", "peer"),
    _E("not-tls-from-client", "listener", "error", "The client did not start TLS", "peer"),
    _E("client-timeout", "listener", "warning", "A listener deadline ended the client", "peer"),
    # --- enumerate (probe --enumerate: what the server accepts) ------------------------------------
    _E("weak-cipher", "enumerate", "warning", "The server accepts weak cipher suites", "peer",
       severities=("warning", "error")),
    _E("no-forward-secrecy", "enumerate", "warning", "The server accepts suites without forward secrecy", "peer"),
)

CATALOGUE: dict[str, Entry] = {e.code: e for e in ENTRIES}
STAGES: tuple[str, ...] = tuple(dict.fromkeys(e.stage for e in ENTRIES))


def by_stage() -> dict[str, list[str]]:
    """{stage: [codes]} in the catalogue's order."""
    out: dict[str, list[str]] = {}
    for entry in ENTRIES:
        out.setdefault(entry.stage, []).append(entry.code)
    return out


def finding(code: str, title: str | None = None, explanation: str = "",
            suggestion: Suggestion | str | None = None, evidence: Iterable[Evidence] = (), *, severity: Severity | None = None,
            origin: Origin | None = None, stage: str | None = None) -> Finding:
    """A Finding for a catalogued code; stage, severity and origin come from the catalogue.

    `severity` and `origin` may be given when the catalogue allows more than one; `stage` only for
    an "any" code (the stage that raised it). A plain-string suggestion is text without changes.
    """
    entry = CATALOGUE.get(code)
    if entry is None:
        raise ValueError(f"finding code {code!r} is not in the findings catalogue (engine/findings/catalogue.py)")
    severity = severity or entry.severity
    if severity not in entry.allowed_severities:
        raise ValueError(f"{code}: severity {severity!r} is not one the catalogue allows")
    origin = origin or entry.origin
    if origin not in entry.allowed_origins:
        raise ValueError(f"{code}: origin {origin!r} is not one the catalogue allows")
    if stage is not None and entry.stage != "any" and stage != entry.stage and stage not in entry.also:
        raise ValueError(f"{code}: its stage is {entry.stage!r} (catalogue)")
    if suggestion is None:
        suggestion = Suggestion()
    elif isinstance(suggestion, str):
        suggestion = Suggestion(literal(suggestion))
    evidence = tuple(evidence)
    if weakening.weakens(suggestion):
        if not entry.weakens:
            raise ValueError(f"{code}: its suggestion weakens TLS, and the catalogue does not flag it (weakens=True)")
        if not weakening.positive_evidence(evidence):
            suggestion = weakening.honest(suggestion)  # no message from the peer shows weakening would help
    return Finding(code=code, severity=severity, title=title or entry.title, explanation=explanation,
                   suggestion=suggestion, stage=stage if stage is not None else entry.stage, origin=origin,
                   evidence=tuple(evidence))


__all__ = ["CATALOGUE", "ENTRIES", "Entry", "Evidence", "Finding", "STAGES", "by_stage", "finding"]

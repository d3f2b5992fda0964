"""Findings for the TLS handshake, made from evidence: the peer's bytes, alerts, messages seen.

OpenSSL's error wording changes between versions, so the error text is only kept as a
reference; the diagnosis reads what was on the wire (`HandshakeFacts`).
"""


from typing import NamedTuple


from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.peekbytes import MAX_RECORD, classify, looks_like_tls, server_hello_version, walk_records
from tlsbench.engine.spec import ConnectionSpec, is_ip
from tlsbench.engine.tlsmsg import ALERT_MEANINGS, WireMessage, version_name


class HandshakeFacts(NamedTuple):
    """What happened in a failed handshake."""

    kind: str  # ssl-error | timeout | reset | eof | os-error
    first_bytes: bytes = b""
    messages: tuple[WireMessage, ...] = ()
    error_reason: str | None = None  # OpenSSL's reason code, for reference
    error_text: str | None = None
    errno_name: str | None = None
    offered_versions: str = ""  # "TLS 1.2 to TLS 1.3"
    offered_ciphers: int = 0  # TLS 1.2-and-below cipher suites offered
    verify_name: str | None = None
    quiet_ms: float | None = None  # at a timeout: how long the peer had been silent (None: it never spoke)
    bytes_received: int = 0  # all the peer sent during the handshake (first_bytes keeps the start)
    via: str | None = None  # the proxy whose tunnel the handshake ran through

    def alert(self, direction: str) -> WireMessage | None:
        """The last fatal alert in a direction (or the last alert of any level)."""
        alerts = [m for m in self.messages if m.content_type == "alert" and m.direction == direction]
        fatal = [m for m in alerts if m.alert_level == "fatal"]
        return (fatal or alerts or [None])[-1]

    def saw(self, name: str, direction: str | None = None) -> bool:
        return any(m.name == name and (direction is None or m.direction == direction) for m in self.messages)

    @property
    def client_hello_sent(self) -> bool:
        return self.saw("ClientHello", "sent")


def _f(code, severity, title, explanation, suggestion, evidence=(), origin="peer") -> Finding:
    return Finding(code=code, severity=severity, title=title, explanation=explanation, suggestion=suggestion,
                   stage="tls", origin=origin, evidence=tuple(evidence))


def bytes_evidence(data: bytes) -> list[Evidence]:
    head = data[:64]
    return [Evidence("first bytes (hex)", " ".join(f"{b:02x}" for b in head)),
            Evidence("first bytes (text)", data[:200].decode("latin-1"))]


def _alert_evidence(alert: WireMessage) -> Evidence:
    return Evidence(f"alert {alert.direction}", f"{alert.alert} ({alert.alert_code}, {alert.alert_level})")


def _sni_words(spec: ConnectionSpec) -> str:
    if spec.sni is None:
        if spec.tls.sni_mode == "none":
            return "no SNI was sent because you asked for --no-sni"
        return f"you connected to an IP address ({spec.host}), so no SNI was sent"
    return f"the SNI sent was {spec.sni!r}"


def _not_tls(spec: ConnectionSpec, facts: HandshakeFacts) -> Finding:
    guess = classify(facts.first_bytes)
    port = spec.port
    explanation = (f"Instead of a TLS record (which starts with bytes 16 03 0x) the peer sent {guess.description}. "
                   f"Port {port} is not serving TLS directly.")
    if guess.kind == "http":
        explanation += (" A plaintext HTTP server that receives a ClientHello usually answers '400 Bad Request'."
                        if guess.http_status == 400 else "")
        suggestion = ("This looks like plain HTTP: use --no-tls (with --http), or the TLS port (usually 443). "
                      "curl equivalent: curl http://HOST:PORT/")
    elif guess.starttls:
        proto = guess.starttls
        suggestion = (f"This is {_ARTICLE.get(proto, 'a')} {proto.upper()} server that starts in plain text. Use --no-tls to talk to it, "
                      f"the implicit-TLS port ({_IMPLICIT_PORTS.get(proto, 'see the protocol')}), or STARTTLS: "
                      f"openssl s_client -connect {spec.target} -starttls {proto}")
    elif guess.kind == "ssh":
        suggestion = "This is an SSH server: use an SSH client, or the right port for the TLS service."
    else:
        suggestion = "Check the port: use --no-tls if the service is plain TCP, or the port that serves TLS."
    return _f("not-tls", "error", f"The peer did not answer in TLS: it sent {guess.description}",
              explanation, suggestion, bytes_evidence(facts.first_bytes))


_ARTICLE = {"smtp": "an", "imap": "an", "ftp": "an", "pop3": "a"}
_IMPLICIT_PORTS = {"smtp": "465", "imap": "993", "pop3": "995", "ftp": "990"}


def chosen_version(facts: HandshakeFacts) -> str | None:
    """The version the server's ServerHello chose, read from its bytes ("TLS 1.2", "0x0305 (no such
    version)"); None when no ServerHello was read."""
    value = server_hello_version(facts.first_bytes)
    if value is None:
        return None
    name = version_name(value)
    return name if name.startswith(("TLS", "SSL")) else f"{name} (no such TLS version exists)"


def _version_mismatch(spec, facts, alert, origin="peer") -> Finding:
    evidence = [Evidence("offered", facts.offered_versions)]
    chose = chosen_version(facts)
    hello = None if chose is None else WireMessage("received", "handshake", "ServerHello", chose, 0)
    if hello is not None:
        evidence.append(Evidence("server chose", hello.version))
    if alert is not None:
        evidence.append(_alert_evidence(alert))
    if facts.error_reason:
        evidence.append(Evidence("OpenSSL reason", facts.error_reason))
    if not facts.client_hello_sent:
        return _f("tls-version-mismatch", "error", "No TLS version could be offered",
                  f"The TLS versions you allowed ({facts.offered_versions}) cannot be used by this OpenSSL "
                  "(too old for its security level, or an empty range); no ClientHello was sent.",
                  "Widen --tls-min/--tls-max (e.g. --tls-min 1.2).", evidence, origin="local")
    who = "The server" if origin == "peer" else "tlsbench"
    return _f("tls-version-mismatch", "error", "No TLS version both sides accept",
              f"{who} refused the handshake because the TLS versions do not overlap: you offered "
              f"{facts.offered_versions}" + (f", the server chose {hello.version}." if hello else "."),
              "Allow the server's version with --tls-min/--tls-max (openssl s_client -tls1_2 / -tls1_3; "
              "curl --tlsv1.2 --tls-max 1.3).", evidence, origin=origin)


def _sslv2(spec: ConnectionSpec, facts: HandshakeFacts) -> Finding:
    return _f("tls-version-mismatch", "error", "The server answered in SSL 2.0",
              "The server answered the ClientHello with an SSL 2.0 ServerHello (a 2-byte record header, message "
              "type 4, server version 0x0002). SSL 2.0 is broken and prohibited (RFC 6176, 2011); no current "
              f"client speaks it, and tlsbench offered {facts.offered_versions}.",
              "Upgrade or reconfigure the server to TLS 1.2 or 1.3; check that this port is the service you meant.",
              [Evidence("offered", facts.offered_versions)] + bytes_evidence(facts.first_bytes))


def _record_words(facts: HandshakeFacts) -> tuple[str, list[Evidence]]:
    """' in the middle of a handshake record (15 of 85 bytes)' when the bytes show one cut short."""
    if facts.bytes_received > len(facts.first_bytes):
        return "", []  # only the start was kept: where the last record ended is not known
    walk = walk_records(facts.first_bytes)
    if walk.partial is None:
        return "", []
    kind, have, need = walk.partial
    return (f", in the middle of a TLS {kind} record ({have} of its {need} bytes)",
            [Evidence("last record", f"{kind}: {have} of {need} bytes received")])


def diagnose_failure(spec: ConnectionSpec, facts: HandshakeFacts) -> list[Finding]:
    """The main finding for a handshake that did not complete (certificate errors excluded)."""
    if facts.first_bytes and not looks_like_tls(facts.first_bytes):
        if classify(facts.first_bytes).kind == "sslv2":
            return [_sslv2(spec, facts)]
        return [_not_tls(spec, facts)]
    received = facts.alert("received")
    sent = facts.alert("sent")
    cert_request = facts.saw("CertificateRequest", "received")
    restricted_ciphers = spec.tls.ciphers is not None
    sni_differs = spec.sni is None or (facts.verify_name is not None and spec.sni != facts.verify_name)
    if received is not None:
        name = received.alert
        ev = [_alert_evidence(received)]
        if name == "unrecognized_name" or (name == "handshake_failure" and sni_differs and not cert_request
                                           and not restricted_ciphers):
            return [_sni_required(spec, received, ev)]
        if name == "certificate_required" or (cert_request and not spec.tls.cert and name in (
                "handshake_failure", "bad_certificate", "certificate_unknown", "unexpected_message")):
            ev.append(Evidence("CertificateRequest", "received" if cert_request else "not seen"))
            return [_f("client-cert-required", "error", "The server requires a client certificate",
                       "The server asked for a client certificate (CertificateRequest) and ended the handshake "
                       "because none was given" + (" (alert certificate_required)." if name ==
                                                  "certificate_required" else f" (alert {name})."),
                       "Give your certificate and key: --cert FILE --key FILE "
                       "(openssl s_client -cert FILE -key FILE; curl --cert FILE --key FILE).", ev)]
        if name == "protocol_version":
            return [_version_mismatch(spec, facts, received)]
        if (spec.tls.max_version in ("1.0", "1.1") and not facts.saw("ServerHello", "received")
                and name in ("handshake_failure", "internal_error", "insufficient_security")):
            # Only old versions were offered and the server refused the ClientHello outright: servers
            # that dropped TLS 1.0/1.1 say so with different alerts (OpenSSL 3: internal_error).
            return [_version_mismatch(spec, facts, received)]
        if name in ("handshake_failure", "insufficient_security") and restricted_ciphers:
            ev.append(Evidence("offered cipher suites (TLS 1.2 and below)",
                               f"{facts.offered_ciphers} from --ciphers {spec.tls.ciphers!r}"))
            ev.append(Evidence("offered versions", facts.offered_versions))
            return [_f("no-shared-cipher", "error", "No cipher suite both sides accept",
                       f"You restricted the cipher suites to {spec.tls.ciphers!r} ({facts.offered_ciphers} "
                       f"suite(s) for TLS 1.2 and below) and the server accepts none of them (alert {name}).",
                       "Widen or drop --ciphers (openssl s_client -cipher LIST; curl --ciphers LIST).", ev)]
        if cert_request and spec.tls.cert:
            return [_f("tls-alert", "error", f"The server rejected your client certificate (alert {name})",
                       f"The server asked for a client certificate, got yours and refused it: {name} - "
                       f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                       "Check that --cert is issued by a CA the server trusts and matches --key.", ev)]
        return [_f("tls-alert", "error", f"The server sent TLS alert {name}",
                   f"The peer ended the handshake with a fatal alert: {name} - "
                   f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                   "Compare with openssl s_client -connect HOST:PORT -msg; adjust --tls-min/--tls-max, "
                   "--ciphers, --sni or --alpn to what the server expects.", ev)]
    chosen = server_hello_version(facts.first_bytes)
    if facts.error_reason == "NO_PROTOCOLS_AVAILABLE" or (sent is not None and sent.alert == "protocol_version") or (
            sent is not None and chosen is not None and not 0x0300 <= chosen <= 0x0304):
        return [_version_mismatch(spec, facts, sent, origin="local")]
    walk = walk_records(facts.first_bytes)
    if sent is not None and walk.oversized is not None:
        kind, length, at = walk.oversized
        return [_f("tls-alert", "error", f"The server sent a TLS record of {length} bytes, more than TLS allows",
                   f"The server's {kind} record announces {length} bytes; a TLS record holds at most {MAX_RECORD} "
                   f"(2^14 + 2048). tlsbench ended the handshake with alert {sent.alert}. The server is broken, or "
                   "this is not TLS.", "Check the server's software; compare with openssl s_client -msg.",
                   [_alert_evidence(sent), Evidence("record header (hex)", facts.first_bytes[at:at + 5].hex(" ")),
                    Evidence("record length", f"{length} bytes (at most {MAX_RECORD})")]
                   + ([Evidence("OpenSSL reason", facts.error_reason)] if facts.error_reason else []))]
    if sent is not None and facts.error_reason == "EXCESSIVE_MESSAGE_SIZE":
        return [_f("tls-alert", "error", "The server sent a handshake message too large to accept",
                   f"A handshake message from the server was longer than OpenSSL accepts (its limit for the "
                   f"certificate list is 102,400 bytes by default); the server sent {facts.bytes_received} bytes "
                   f"in all. A certificate or chain that large is broken or hostile. tlsbench ended the handshake "
                   f"with alert {sent.alert}.",
                   "Check the server's certificate and chain (openssl s_client -showcerts).",
                   [_alert_evidence(sent), Evidence("OpenSSL reason", facts.error_reason),
                    Evidence("bytes received", str(facts.bytes_received))])]
    if sent is not None:
        name = sent.alert
        return [_f("tls-alert", "error", f"tlsbench ended the handshake with alert {name}",
                   f"The server's messages were not acceptable here: {name} - "
                   f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                   "Look at the message trace; compare with openssl s_client -msg.",
                   [_alert_evidence(sent)] + ([Evidence("OpenSSL reason", facts.error_reason)]
                                              if facts.error_reason else []), origin="local")]
    if facts.kind == "timeout":
        if facts.first_bytes:
            where, record_ev = _record_words(facts)
            ev = bytes_evidence(facts.first_bytes) + record_ev + [Evidence("bytes received", str(facts.bytes_received))]
            quiet = facts.quiet_ms
            if quiet is not None:
                ev.append(Evidence("last bytes", f"{quiet:.0f} ms before the deadline"))
            if quiet is not None and quiet < spec.timeout * 500.0:  # its last bytes came in the deadline's 2nd half
                return [_f("tls-timeout", "error", f"The handshake did not finish within {spec.timeout:g} s: the "
                           "server was still sending, slowly",
                           f"The peer had sent {facts.bytes_received} byte(s) of TLS, the last of them {quiet:.0f} ms "
                           f"before the stage's deadline ({spec.timeout:g} s){where}: it sends its handshake far "
                           "too slowly (or drips it on purpose).",
                           "Check the server's load, its network path and logs; raise --timeout only if it is "
                           "known to be that slow.", ev)]
            return [_f("tls-timeout", "error", "The server stopped answering during the handshake",
                       f"The peer sent {facts.bytes_received} byte(s) of TLS{where} and then nothing more"
                       + (f" for the last {quiet / 1000:.1f} s" if quiet is not None else "")
                       + f" before the stage's deadline ({spec.timeout:g} s).",
                       "Raise --timeout, or check the server's load and logs.", ev)]
        return [_f("tls-timeout", "error", "The peer did not answer the TLS ClientHello",
                   f"The TCP connection is open but nothing came back within {spec.timeout:g} s after the "
                   "ClientHello. The service may not speak TLS and be waiting for the client to talk first "
                   "(plain protocols do), or the server is stuck.",
                   "Try --no-tls with --send or --http to see whether it is a plaintext service; check the port; "
                   "raise --timeout if the server is just slow.",
                   [Evidence("bytes received", "0"), Evidence("waited", f"{spec.timeout:g} s")])]
    if facts.kind in ("reset", "eof"):
        how = "reset the connection (RST)" if facts.kind == "reset" else "closed the connection"
        when = "right after the ClientHello" if not facts.first_bytes else "during the handshake"
        where, record_ev = _record_words(facts)
        ev = [Evidence("event", f"{facts.errno_name or 'EOF'} {when}"),
              Evidence("bytes received", str(facts.bytes_received or len(facts.first_bytes)))]
        if facts.first_bytes:
            ev += bytes_evidence(facts.first_bytes) + record_ev
        who = "The peer"
        why = ("This usually means the service on this port does not speak TLS, a firewall or middlebox drops TLS "
               "(or this SNI), or the server refused the ClientHello (version, ciphers, SNI) without saying why.")
        if facts.via:
            ev.append(Evidence("through", facts.via))
            who = "The tunnel through the proxy"
            why = ("The proxy had opened the tunnel; either the target closed its side (and the proxy passed the "
                   "close on) or the proxy ended the tunnel itself. " + why)
        if where:
            why = ("The peer had begun a TLS record and the connection ended before the record's last byte: the "
                   "server stopped mid-message (it crashed, or was cut off).")
        said = where.lstrip(",") if where else f" {when}"
        return [_f("connection-reset", "error", f"{who} {how}{said}",
                   f"{who} {how}{said} without a TLS alert. {why}",
                   "Check the port and the SNI (--sni NAME); try --no-tls; compare with "
                   "openssl s_client -connect HOST:PORT -servername NAME.", ev)]
    return [_f("tls-handshake-failed", "error", "The TLS handshake failed",
               f"OpenSSL reported: {facts.error_text or facts.kind}.",
               "Compare with openssl s_client -connect HOST:PORT -msg.",
               [Evidence("OpenSSL reason", facts.error_reason or facts.kind)])]


def _sni_required(spec: ConnectionSpec, alert: WireMessage, ev: list[Evidence]) -> Finding:
    ev.append(Evidence("SNI sent", spec.sni or "none"))
    if spec.sni is None:
        title = "The server requires SNI, and none was sent"
        why = (f"The server ended the handshake (alert {alert.alert}) because {_sni_words(spec)}. "
               "Servers hosting several names need the name to pick a certificate.")
        if is_ip(spec.host):
            hint = (f"Connect by name and keep the address with --pin {spec.host}, or send the name with "
                    "--sni NAME (openssl s_client -servername NAME; curl --resolve NAME:PORT:ADDR).")
        else:
            hint = "Drop --no-sni, or send a name with --sni NAME."
    else:
        title = f"The server does not serve the name {spec.sni!r}"
        why = (f"The server ended the handshake (alert {alert.alert}): {_sni_words(spec)} and it is not "
               "a name this server accepts.")
        hint = "Send a name the server serves with --sni NAME (openssl s_client -servername NAME)."
    return _f("sni-required", "error", title, why, hint, ev)


def session_findings(spec: ConnectionSpec, version: str | None, ok: bool,
                     failure_codes: tuple[str, ...] = ()) -> list[Finding]:
    """Warnings about the session and your own choices: verify-disabled, no-sni, weak-tls-version."""
    out: list[Finding] = []
    if spec.tls.verify == "off":
        out.append(_f("verify-disabled", "warning", "Certificate verification is disabled (--insecure)",
                      "You asked not to verify the server's certificate: anyone on the path could impersonate "
                      "the server and this run would not notice.",
                      "Drop --insecure; use --cafile FILE for a private CA (curl --cacert FILE).",
                      [Evidence("verify", "off")], origin="local"))
    quiet = {"sni-required", "not-tls", "tls-timeout"}  # SNI is beside the point there
    if spec.sni is None and not quiet.intersection(failure_codes):
        if spec.tls.sni_mode == "none":
            out.append(_f("no-sni", "info", "No SNI was sent (--no-sni)",
                          "You asked to send no server name; servers with several names answer with their "
                          "default certificate or refuse.", "Drop --no-sni or use --sni NAME.",
                          [Evidence("SNI sent", "none")], origin="local"))
        else:
            out.append(_f("no-sni", "warning", "No SNI was sent: the target is an IP address",
                          f"You connected to an IP address ({spec.host}), so no server name was sent; a server "
                          "with several names answers with its default certificate (or refuses), which may not "
                          "be the site you meant.",
                          f"Send the name with --sni NAME, or connect by name with --pin {spec.host} "
                          "(curl --resolve NAME:PORT:ADDR).", [Evidence("SNI sent", "none")], origin="local"))
    if ok and version in ("TLSv1", "TLSv1.1", "SSLv3"):
        out.append(_f("weak-tls-version", "warning", f"The server negotiated an old protocol: {version}",
                      f"{version} is deprecated (RFC 8996): weak hashes, no modern ciphers; browsers refuse it.",
                      "Enable TLS 1.2 or 1.3 on the server; check with --tls-min 1.2.",
                      [Evidence("negotiated", version)]))
    return out

"""Findings for the TLS handshake, made from evidence: the peer's bytes, alerts, messages seen.

OpenSSL's error wording changes between versions, so the error text is only kept as a
reference; the diagnosis reads what was on the wire (`HandshakeFacts`).
"""


from typing import NamedTuple


from tlsbench.engine.findings import Evidence, Finding
from tlsbench.engine.peekbytes import classify, looks_like_tls
from tlsbench.engine.spec import ConnectionSpec, is_ip
from tlsbench.engine.tlsmsg import ALERT_MEANINGS, WireMessage


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


def cert_request_evidence(messages) -> list[Evidence]:
    """What the server's CertificateRequest asked for: the CA names it accepts, the signatures."""
    from tlsbench.engine.tlsfacts import cert_request_of

    req = cert_request_of(messages)
    if req is None:
        return []
    names = "; ".join(req.ca_names) if req.ca_names else "none named (any CA the server trusts)"
    out = [Evidence("acceptable client CA names", names)]
    if req.signature_algorithms:
        out.append(Evidence("signature algorithms accepted", ", ".join(req.signature_algorithms)))
    if req.certificate_types:
        out.append(Evidence("certificate types accepted", ", ".join(req.certificate_types)))
    return out


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


def _version_mismatch(spec, facts, alert, origin="peer") -> Finding:
    evidence = [Evidence("offered", facts.offered_versions)]
    hello = next((m for m in facts.messages if m.name == "ServerHello" and m.direction == "received"), None)
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


def diagnose_failure(spec: ConnectionSpec, facts: HandshakeFacts) -> list[Finding]:
    """The main finding for a handshake that did not complete (certificate errors excluded)."""
    if facts.first_bytes and not looks_like_tls(facts.first_bytes):
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
            ev += cert_request_evidence(facts.messages)
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
            ev += cert_request_evidence(facts.messages)
            return [_f("tls-alert", "error", f"The server rejected your client certificate (alert {name})",
                       f"The server asked for a client certificate, got yours and refused it: {name} - "
                       f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                       "Check that --cert is issued by a CA the server trusts and matches --key.", ev)]
        return [_f("tls-alert", "error", f"The server sent TLS alert {name}",
                   f"The peer ended the handshake with a fatal alert: {name} - "
                   f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                   "Compare with openssl s_client -connect HOST:PORT -msg; adjust --tls-min/--tls-max, "
                   "--ciphers, --sni or --alpn to what the server expects.", ev)]
    if facts.error_reason == "NO_PROTOCOLS_AVAILABLE" or (sent is not None and sent.alert == "protocol_version"):
        return [_version_mismatch(spec, facts, sent, origin="local")]
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
            return [_f("tls-timeout", "error", "The server stopped answering during the handshake",
                       f"The peer sent {len(facts.first_bytes)} byte(s) of TLS and then nothing more "
                       f"within {spec.timeout:g} s.", "Raise --timeout, or check the server's load and logs.",
                       bytes_evidence(facts.first_bytes))]
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
        ev = [Evidence("event", f"{facts.errno_name or 'EOF'} {when}"),
              Evidence("bytes received", str(len(facts.first_bytes)))]
        if facts.first_bytes:
            ev += bytes_evidence(facts.first_bytes)
        return [_f("connection-reset", "error", f"The peer {how} {when}",
                   f"The peer {how} {when} without a TLS alert. This usually means the service on this port "
                   "does not speak TLS, a firewall or middlebox drops TLS (or this SNI), or the server refused "
                   "the ClientHello (version, ciphers, SNI) without saying why.",
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
    if getattr(spec, "role", "target") == "target" and spec.tls.keylog:
        where = f"$SSLKEYLOGFILE ({spec.tls.keylog})" if spec.tls.keylog_from_env else spec.tls.keylog
        out.append(_f("keylog-enabled", "warning", "The TLS session secrets are written to a key log",
                      f"The secrets of this run's TLS sessions were appended to {where}: anyone who can read that "
                      "file can decrypt a capture of the traffic (Wireshark does, with the file).",
                      "Delete the file when you are done; unset SSLKEYLOGFILE or drop --keylog for normal use.",
                      [Evidence("key log", spec.tls.keylog),
                       Evidence("from", "$SSLKEYLOGFILE" if spec.tls.keylog_from_env else "--keylog")],
                      origin="local"))
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

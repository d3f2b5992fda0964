"""Findings for the TLS handshake, made from evidence: the peer's bytes, alerts, messages seen.

OpenSSL's error wording changes between versions, so the error text is only kept as a
reference; the diagnosis reads what was on the wire (`HandshakeFacts`).
"""


import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding, Origin
from tlsbench.engine.tls.peekbytes import MAX_RECORD, classify, looks_like_tls, server_hello_version, walk_records
from tlsbench.engine.spec import ConnectionSpec, is_ip
from tlsbench.engine.suggestions import Change, Peer, Suggestion, curl, literal, s_client, quote_word
from tlsbench.engine.tls.tlsmsg import ALERT_MEANINGS, WireMessage, version_name

if TYPE_CHECKING:
    from tlsbench.engine.stages.shared import HandshakeWith  # the target, or an HTTPS proxy


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
        chosen = fatal or alerts
        return chosen[-1] if chosen else None

    def saw(self, name: str, direction: str | None = None) -> bool:
        return any(m.name == name and (direction is None or m.direction == direction) for m in self.messages)

    @property
    def client_hello_sent(self) -> bool:
        return self.saw("ClientHello", "sent")


def bytes_evidence(data: bytes) -> list[Evidence]:
    head = data[:64]
    return [Evidence("first bytes (hex)", " ".join(f"{b:02x}" for b in head)),
            Evidence("first bytes (text)", data[:200].decode("latin-1"))]


def _alert_evidence(alert: WireMessage) -> Evidence:
    return Evidence(f"alert {alert.direction}", f"{alert.alert} ({alert.alert_code}, {alert.alert_level})")


# --- who the handshake was with, for suggestions and peers --------------------------------------
# `spec` is a ConnectionSpec or a stages.tls.TlsTarget (the target, or an HTTPS proxy).

def is_proxy(spec: "HandshakeWith") -> bool:
    return getattr(spec, "role", "target") == "proxy"


def address(spec: "HandshakeWith") -> str:
    """Where the connection went: the pinned address, or the host."""
    return getattr(spec, "pin", None) or spec.host


def openssl_peer(spec: "HandshakeWith", *words: str, sni: str | None | bool = True) -> Peer:
    """s_client to the same place with the same SNI (or `sni` instead), then `words`."""
    return s_client(address(spec), spec.port, *words, sni=spec.sni if sni is True else (sni or None))


def curl_peer(spec: "HandshakeWith", *words: str, host: str | None = None, scheme: str = "https") -> Peer:
    """curl to the same place (pinned with --resolve), naming `host` (default: the host asked for)."""
    return curl(host or spec.host, spec.port, *words, scheme=scheme, address=address(spec))


def cert_request_evidence(messages: Sequence[WireMessage]) -> list[Evidence]:
    """What the server's CertificateRequest asked for: the CA names it accepts, the signatures."""
    from tlsbench.engine.tls.tlsfacts import cert_request_of

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


def _sni_words(spec: "HandshakeWith") -> str:
    if spec.sni is None:
        if spec.tls.sni_mode == "none":
            return "no SNI was sent because you asked for none"
        return f"you connected to an IP address ({spec.host}), so no SNI was sent"
    return f"the SNI sent was {spec.sni!r}"




def _not_tls(spec: "HandshakeWith", facts: HandshakeFacts) -> Finding:
    guess = classify(facts.first_bytes)
    port = spec.port
    if facts.via:
        # Through a tunnel the bytes may be the target's or the proxy's own: the bytes do not say which.
        explanation = (f"Instead of a TLS record (which starts with bytes 16 03 0x) the tunnel through {facts.via} "
                       f"carried {guess.description}: either the target's port {port} does not serve TLS, or the "
                       "proxy answered inside the tunnel itself.")
    else:
        explanation = (f"Instead of a TLS record (which starts with bytes 16 03 0x) the peer sent "
                       f"{guess.description}. Port {port} is not serving TLS directly.")
    if guess.kind == "http":
        explanation += (" A plaintext HTTP server that receives a ClientHello usually answers '400 Bad Request'."
                        if guess.http_status == 400 else "")
    if is_proxy(spec):
        hint = Suggestion("The proxy does not speak TLS on this port: if it is a plain HTTP proxy, use it as http:// "
                          "instead of https://; otherwise check the proxy's port.")
    elif guess.kind == "http":
        hint = Suggestion("This is plain HTTP: talk to it without TLS ({0}), or use the port that serves TLS "
                          "(usually 443).", (Change.of(tls=False, app="http"),),
                          (curl_peer(spec, scheme="http"),))
    elif guess.starttls:
        from tlsbench.engine.hops.starttls.ports import IMPLICIT_PORT, TITLES

        proto = guess.starttls
        title = TITLES.get(proto, proto.upper())
        implicit = IMPLICIT_PORT.get(proto)
        peers = [openssl_peer(spec, "-starttls", proto)]
        if implicit:
            peers.append(s_client(address(spec), implicit, sni=spec.sni))
        article = "an" if title[0] in "AEFHILMNORSX" else "a"
        hint = Suggestion(literal(f"This is {article} {title} server that starts in plain text: upgrade it with "
                                  "STARTTLS (") + "{0}" + literal(")" + (
                                      f", or use its implicit-TLS port ({implicit})" if implicit else "")
                                  + "; without TLS, it talks in clear."),
                          (Change.of(starttls=proto),), tuple(peers))
    elif guess.kind == "ssh":
        hint = Suggestion("This is an SSH server: use an SSH client, or the port of the TLS service.", (),
                          (Peer("ssh", f"ssh -p {port} {quote_word(address(spec))}"),))
    else:
        hint = Suggestion("If the service is plain TCP, connect without TLS ({0}); otherwise use the port that "
                          "serves TLS.", (Change.of(tls=False),))
    return finding("not-tls", f"The peer did not answer in TLS: it sent {guess.description}",
                   explanation, hint, bytes_evidence(facts.first_bytes))


_OPTION_VERSION = {"TLS 1.0": "1.0", "TLS 1.1": "1.1", "TLS 1.2": "1.2", "TLS 1.3": "1.3"}
_OPENSSL_VERSION = {"1.0": "TLSv1", "1.1": "TLSv1.1", "1.2": "TLSv1.2", "1.3": "TLSv1.3"}


def _version_peers(spec: "HandshakeWith", low: str | None, high: str | None) -> tuple[Peer, ...]:
    words: list[str] = []
    curl_words: list[str] = []
    if low:
        words += ["-min_protocol", _OPENSSL_VERSION[low]]
        curl_words.append(f"--tlsv{low}")
    if high:
        words += ["-max_protocol", _OPENSSL_VERSION[high]]
        curl_words += ["--tls-max", high]
    return (openssl_peer(spec, *words), curl_peer(spec, *curl_words))


def chosen_version(facts: HandshakeFacts) -> str | None:
    """The version the server's ServerHello chose, read from its bytes ("TLS 1.2", "0x0305 (no such
    version)"); None when no ServerHello was read."""
    value = server_hello_version(facts.first_bytes)
    if value is None:
        return None
    name = version_name(value)
    return name if name.startswith(("TLS", "SSL")) else f"{name} (no such TLS version exists)"


def _version_mismatch(spec: "HandshakeWith", facts: HandshakeFacts, alert: WireMessage | None,
                      origin: Origin = "peer") -> Finding:
    evidence = [Evidence("offered", facts.offered_versions)]
    chose = chosen_version(facts)
    hello = None if chose is None else WireMessage("received", "handshake", "ServerHello", chose, 0)
    if hello is not None:
        evidence.append(Evidence("server chose", hello.version))
    if alert is not None:
        evidence.append(_alert_evidence(alert))
    if facts.error_reason:
        evidence.append(Evidence("OpenSSL reason", facts.error_reason))
    tls = spec.tls
    low, high = tls.min_version, tls.max_version
    if not facts.client_hello_sent:
        widen = {name: None for name, value in (("tls_min", low), ("tls_max", high)) if value}
        hint = (Suggestion("Allow the versions this OpenSSL can use: {0} (TLS 1.2 and 1.3 are the default).",
                           (Change.from_values(widen, was=spec),), _version_peers(spec, None, None))
                if widen and not is_proxy(spec) else
                Suggestion("Check {tls_min}, {tls_max} and {ciphers}: together they leave no version to offer."))
        return finding("tls-version-mismatch", "No TLS version could be offered",
                       f"The TLS versions you allowed ({facts.offered_versions}) cannot be used by this OpenSSL "
                       "(too old for its security level, or an empty range); no ClientHello was sent.",
                       hint, evidence, origin="local")
    who = "The server" if origin == "peer" else "tlsbench"
    chose = _OPTION_VERSION.get(hello.version) if hello is not None else None
    if is_proxy(spec):
        hint = Suggestion("The proxy accepts none of the TLS versions offered; it may need TLS 1.0/1.1, which "
                          "tlsbench does not offer to a proxy.", (), (openssl_peer(spec, "-msg"),))
    elif high is not None and (chose is None or chose > high):
        hint = Suggestion("The server refused the versions up to the highest you allowed: allow newer ones ({0}).",
                          (Change.of(tls_max=None, was=spec),), _version_peers(spec, low, None))
    elif chose is not None and chose < (low or "1.2"):  # no --tls-min: the default floor is TLS 1.2
        hint = Suggestion(literal(f"The server chose TLS {chose}: allow it to look further ") + "({0}), "
                          "and have the server upgrade.", (Change.of(tls_min=chose),),
                          _version_peers(spec, chose, high))
    elif hello is not None and chose is None:
        hint = Suggestion(literal(f"The server chose {hello.version}: no TLS version tlsbench (or any client) can "
                                  "speak, so no setting here helps. Check which software answers on this port."),
                          (), (openssl_peer(spec, "-msg"),))
    elif low == "1.3":
        hint = Suggestion("The server does not speak TLS 1.3, which you required: allow TLS 1.2 too ({0}).",
                          (Change.of(tls_min=None, was=spec),), _version_peers(spec, None, high))
    else:
        hint = Suggestion("The server refused TLS 1.2 and 1.3: it may speak only TLS 1.0/1.1, which are off by "
                          "default; allow them to see ({0}), and have the server upgrade.",
                          (Change.of(tls_min="1.0"),), _version_peers(spec, "1.0", high))
    return finding("tls-version-mismatch", "No TLS version both sides accept",
                   f"{who} refused the handshake because the TLS versions do not overlap: you offered "
                   f"{facts.offered_versions}" + (f", the server chose {hello.version}." if hello else "."),
                   hint, evidence, origin=origin)


def _sslv2(spec: "HandshakeWith", facts: HandshakeFacts) -> Finding:
    return finding("tls-version-mismatch", "The server answered in SSL 2.0", "The server answered the ClientHello with an SSL 2.0 ServerHello (a 2-byte record header, message "
              "type 4, server version 0x0002). SSL 2.0 is broken and prohibited (RFC 6176, 2011); no current "
              f"client speaks it, and tlsbench offered {facts.offered_versions}.", "Upgrade or reconfigure the server to TLS 1.2 or 1.3; check that this port is the service you meant.", [Evidence("offered", facts.offered_versions)] + bytes_evidence(facts.first_bytes))


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


def diagnose_failure(spec: "HandshakeWith", facts: HandshakeFacts) -> list[Finding]:
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
    trace = openssl_peer(spec, "-msg")
    if received is not None:
        name = received.alert or "unknown"
        ev = [_alert_evidence(received)]
        if name == "unrecognized_name" or (name == "handshake_failure" and sni_differs and not cert_request
                                           and not restricted_ciphers):
            return [_sni_required(spec, received, ev)]
        if name == "certificate_required" or (cert_request and not spec.tls.cert and name in (
                "handshake_failure", "bad_certificate", "certificate_unknown", "unexpected_message")):
            ev.append(Evidence("CertificateRequest", "received" if cert_request else "not seen"))
            ev += cert_request_evidence(facts.messages)
            if is_proxy(spec):
                hint = Suggestion("The proxy wants a client certificate, which tlsbench cannot give a proxy.")
            else:
                hint = Suggestion("Give your client certificate and its key: {0}.",
                                  (Change.of(cert="FILE", key="FILE", placeholders=("FILE",)),),
                                  (openssl_peer(spec, "-cert", "FILE", "-key", "FILE"),
                                   curl_peer(spec, "--cert", "FILE", "--key", "FILE")))
            return [finding("client-cert-required", "The server requires a client certificate",
                            "The server asked for a client certificate (CertificateRequest) and ended the handshake "
                            "because none was given" + (" (alert certificate_required)." if name ==
                                                       "certificate_required" else f" (alert {name})."),
                            hint, ev)]
        if name == "protocol_version":
            return [_version_mismatch(spec, facts, received)]
        if (spec.tls.max_version in ("1.0", "1.1") and not facts.saw("ServerHello", "received")
                and name in ("handshake_failure", "internal_error", "insufficient_security")):
            # Only old versions were offered and the server refused the ClientHello outright: servers
            # that dropped TLS 1.0/1.1 say so with different alerts (OpenSSL 3: internal_error).
            return [_version_mismatch(spec, facts, received)]
        if name in ("handshake_failure", "insufficient_security") and restricted_ciphers:
            ev.append(Evidence("offered cipher suites (TLS 1.2 and below)",
                               f"{facts.offered_ciphers} from the cipher list {spec.tls.ciphers!r}"))
            ev.append(Evidence("offered versions", facts.offered_versions))
            return [finding("no-shared-cipher", "No cipher suite both sides accept",
                            f"You restricted the cipher suites to {spec.tls.ciphers!r} ({facts.offered_ciphers} "
                            f"suite(s) for TLS 1.2 and below) and the server accepts none of them (alert {name}).",
                            Suggestion("Widen the cipher list, or drop it to offer OpenSSL's defaults ({0}).",
                                       (Change.of(ciphers=None, was=spec),),
                                       (Peer("openssl", f"openssl ciphers -v {quote_word(spec.tls.ciphers or '')}"),
                                        openssl_peer(spec))), ev)]
        if cert_request and spec.tls.cert:
            ev += cert_request_evidence(facts.messages)
            return [finding("tls-alert", f"The server rejected your client certificate (alert {name})",
                            f"The server asked for a client certificate, got yours and refused it: {name} - "
                            f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                            Suggestion("Check that {cert} is issued by a CA the server trusts and matches {key}.",
                                       (), (Peer("openssl", "openssl x509 -noout -issuer -subject -in "
                                                 + quote_word(os.path.expanduser(spec.tls.cert))),)), ev)]
        return [finding("tls-alert", f"The server sent TLS alert {name}",
                        f"The peer ended the handshake with a fatal alert: {name} - "
                        f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                        # The alert does not say which setting the server objects to: no advice to
                        # weaken versions or ciphers on its strength.
                        Suggestion("Compare with openssl's message trace; check {sni} and {alpn} against what the "
                                   "server expects, or run the diagnosis, which tries variants.", (), (trace,))
                        if not is_proxy(spec) else
                        Suggestion("Compare with openssl's message trace to the proxy.", (), (trace,)), ev)]
    from tlsbench.engine.findings.malformed import malformed_hello

    malformed = malformed_hello(spec, facts, sent)
    if malformed is not None:
        return [malformed]
    chosen = server_hello_version(facts.first_bytes)
    if facts.error_reason == "NO_PROTOCOLS_AVAILABLE" or (sent is not None and sent.alert == "protocol_version") or (
            sent is not None and chosen is not None and not 0x0300 <= chosen <= 0x0304):
        return [_version_mismatch(spec, facts, sent, origin="local")]
    walk = walk_records(facts.first_bytes)
    if sent is not None and walk.oversized is not None:
        kind, length, at = walk.oversized
        return [finding("tls-alert", f"The server sent a TLS record of {length} bytes, more than TLS allows", f"The server's {kind} record announces {length} bytes; a TLS record holds at most {MAX_RECORD} "
                   f"(2^14 + 2048). tlsbench ended the handshake with alert {sent.alert}. The server is broken, or "
                   "this is not TLS.", "Check the server's software; compare with openssl s_client -msg.", [_alert_evidence(sent), Evidence("record header (hex)", facts.first_bytes[at:at + 5].hex(" ")),
                    Evidence("record length", f"{length} bytes (at most {MAX_RECORD})")]
                   + ([Evidence("OpenSSL reason", facts.error_reason)] if facts.error_reason else []))]
    if sent is not None and facts.error_reason == "EXCESSIVE_MESSAGE_SIZE":
        return [finding("tls-alert", "The server sent a handshake message too large to accept", f"A handshake message from the server was longer than OpenSSL accepts (its limit for the "
                   f"certificate list is 102,400 bytes by default); the server sent {facts.bytes_received} bytes "
                   f"in all. A certificate or chain that large is broken or hostile. tlsbench ended the handshake "
                   f"with alert {sent.alert}.", "Check the server's certificate and chain (openssl s_client -showcerts).", [_alert_evidence(sent), Evidence("OpenSSL reason", facts.error_reason),
                    Evidence("bytes received", str(facts.bytes_received))])]
    if sent is not None:
        name = sent.alert or "unknown"
        return [finding("tls-alert", f"tlsbench ended the handshake with alert {name}",
                        f"The server's messages were not acceptable here: {name} - "
                        f"{ALERT_MEANINGS.get(name, 'see RFC 8446 section 6')}.",
                        Suggestion("Look at the message trace; compare with openssl's.", (), (trace,)),
                        [_alert_evidence(sent)] + ([Evidence("OpenSSL reason", facts.error_reason)]
                                                   if facts.error_reason else []), origin="local")]
    if facts.kind == "timeout":
        longer = Change.of(timeout=_longer(spec.timeout))
        if facts.first_bytes:
            where, record_ev = _record_words(facts)
            ev = bytes_evidence(facts.first_bytes) + record_ev + [Evidence("bytes received", str(facts.bytes_received))]
            quiet = facts.quiet_ms
            if quiet is not None:
                ev.append(Evidence("last bytes", f"{quiet:.0f} ms before the deadline"))
            if quiet is not None and quiet < spec.timeout * 500.0:  # its last bytes came in the deadline's 2nd half
                return [finding("tls-timeout", f"The handshake did not finish within {spec.timeout:g} s: the "
                                "server was still sending, slowly",
                                f"The peer had sent {facts.bytes_received} byte(s) of TLS, the last of them "
                                f"{quiet:.0f} ms before the stage's deadline ({spec.timeout:g} s){where}: it sends its "
                                "handshake far too slowly (or drips it on purpose).",
                                Suggestion("Check the server's load, its network path and logs; give it more time "
                                           "({0}) only if it is known to be that slow.", (longer,)), ev)]
            return [finding("tls-timeout", "The server stopped answering during the handshake",
                            f"The peer sent {facts.bytes_received} byte(s) of TLS{where} and then nothing more"
                            + (f" for the last {quiet / 1000:.1f} s" if quiet is not None else "")
                            + f" before the stage's deadline ({spec.timeout:g} s).",
                            Suggestion("Give it more time ({0}), or check the server's load and logs.", (longer,)),
                            ev)]
        plain = () if is_proxy(spec) else (Change.of(tls=False, app="http"),)
        return [finding("tls-timeout", "The peer did not answer the TLS ClientHello",
                        f"The TCP connection is open but nothing came back within {spec.timeout:g} s after the "
                        "ClientHello. The service may not speak TLS and be waiting for the client to talk first "
                        "(plain protocols do), or the server is stuck.",
                        Suggestion("See whether it is a plaintext service: send it an HTTP request without TLS "
                                   "({0}), or text of your own; check the port; give it more time if the server "
                                   "is only slow.", plain) if plain else
                        Suggestion("Check the proxy's port and scheme (http:// or https://)."),
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
        return [finding("connection-reset", f"{who} {how}{said}", f"{who} {how}{said} without a TLS alert. {why}",
                        _reset_hint(spec, trace), ev)]
    return [finding("tls-handshake-failed", "The TLS handshake failed",
                    f"OpenSSL reported: {facts.error_text or facts.kind}.",
                    Suggestion("Compare with openssl's message trace.", (), (trace,)),
                    [Evidence("OpenSSL reason", facts.error_reason or facts.kind)])]


def _longer(seconds: float) -> float:
    """A timeout worth trying after `seconds` ran out: three times as long, at least 30 s."""
    return float(max(30, round(seconds * 3)))


def _reset_hint(spec: "HandshakeWith", trace: Peer) -> Suggestion:
    if is_proxy(spec):
        return Suggestion("Check the proxy's port and scheme (https:// needs a TLS port).", (), (trace,))
    if spec.sni is None and spec.tls.sni_mode == "none" and not is_ip(spec.host):
        return Suggestion("Servers and middleboxes may drop a handshake without SNI: send the name ({0}); "
                          "check the port.", (Change.of(sni_mode="host", sni=None, was=spec),),
                          (openssl_peer(spec, sni=spec.host),))
    return Suggestion("Check the port, and the name sent as SNI ({sni}); compare with openssl.", (), (trace,))


def _sni_required(spec: "HandshakeWith", alert: WireMessage, ev: list[Evidence]) -> Finding:
    ev.append(Evidence("SNI sent", spec.sni or "none"))
    named = not is_ip(spec.host)
    if spec.sni is None:
        title = "The server requires SNI, and none was sent"
        why = (f"The server ended the handshake (alert {alert.alert}) because {_sni_words(spec)}. "
               "Servers hosting several names need the name to pick a certificate.")
    else:
        title = f"The server does not serve the name {spec.sni!r}"
        why = (f"The server ended the handshake (alert {alert.alert}): {_sni_words(spec)} and it is not "
               "a name this server accepts.")
    if is_proxy(spec):
        hint = Suggestion("The proxy wants another name: give the proxy by the name its certificate holds.")
    elif named and spec.sni != spec.host.rstrip("."):
        # The host's own name was not sent (no SNI, or another name): send it.
        hint = Suggestion(literal(f"Send the host's name, {spec.host}, as SNI: ") + "{0}.",
                          (Change.of(sni_mode="host", sni=None, was=spec),),
                          (openssl_peer(spec, sni=spec.host.rstrip(".")), curl_peer(spec)))
    elif named:
        hint = Suggestion("Send a name this server serves ({0}), or check that the address is this site's server.",
                          (Change.of(sni_mode="override", sni="NAME", placeholders=("NAME",)),),
                          (openssl_peer(spec, sni="NAME"),))
    else:
        port = spec.port
        hint = Suggestion("Connect by the site's name and keep the address ({0}), or send the name as SNI ({1}).",
                          (Change.of(target=f"NAME:{port}", pin=address(spec), placeholders=("NAME",)),
                           Change.of(sni_mode="override", sni="NAME", placeholders=("NAME",))),
                          (openssl_peer(spec, sni="NAME"), curl(f"NAME", port, address=address(spec))))
    return finding("sni-required", title, why, hint, ev)


def session_findings(spec: "HandshakeWith", version: str | None, ok: bool,
                     failure_codes: tuple[str, ...] = (), names: tuple[str, ...] = ()) -> list[Finding]:
    """Warnings about the session and your own choices: verify-disabled, no-sni, weak-tls-version.

    `names` are the DNS names the server's certificate holds (for a concrete no-sni suggestion).
    """
    out: list[Finding] = []
    if spec.tls.verify == "off":
        if is_proxy(spec):
            hint = Suggestion("Verify the proxy's certificate: drop {proxy_insecure}; for a private CA, give it "
                              "with {proxy_cacert}.")
        else:
            hint = Suggestion("Verify the certificate ({0}); for a private CA, trust its certificate instead ({1}).",
                              (Change.of(verify="system", was=spec),
                               Change.of(verify="cafile", cafile="FILE", placeholders=("FILE",))),
                              (curl_peer(spec, "--cacert", "FILE"),))
        out.append(finding("verify-disabled", "Certificate verification is disabled",
                           "You asked not to verify the server's certificate: anyone on the path could impersonate "
                           "the server and this run would not notice.", hint, [Evidence("verify", "off")]))
    if not is_proxy(spec) and spec.tls.keylog:
        where = f"$SSLKEYLOGFILE ({spec.tls.keylog})" if spec.tls.keylog_from_env else spec.tls.keylog
        out.append(finding("keylog-enabled", "The TLS session secrets are written to a key log",
                           f"The secrets of this run's TLS sessions were appended to {where}: anyone who can read "
                           "that file can decrypt a capture of the traffic (Wireshark does, with the file).",
                           Suggestion("Delete the file when you are done; for normal use, no key log ({0}), and "
                                      "unset SSLKEYLOGFILE.", (Change.of(keylog=None),)),
                           [Evidence("key log", spec.tls.keylog),
                            Evidence("from", "$SSLKEYLOGFILE" if spec.tls.keylog_from_env else "--keylog")]))
    quiet = {"sni-required", "not-tls", "tls-timeout"}  # SNI is beside the point there
    if spec.sni is None and not quiet.intersection(failure_codes) and not is_proxy(spec):
        named = not is_ip(spec.host)
        if spec.tls.sni_mode == "none" and named:
            out.append(finding("no-sni", "No SNI was sent (you asked for none)",
                               "You asked to send no server name; servers with several names answer with their "
                               "default certificate or refuse.",
                               Suggestion("Send the host's name as SNI: {0}.",
                                          (Change.of(sni_mode="host", sni=None, was=spec),),
                                          (openssl_peer(spec, sni=spec.host.rstrip(".")),)),
                               [Evidence("SNI sent", "none")], severity="info"))
        else:
            out.append(finding("no-sni", "No SNI was sent: the target is an IP address",
                               f"You connected to an IP address ({spec.host}), so no server name was sent; a server "
                               "with several names answers with its default certificate (or refuses), which may not "
                               "be the site you meant.", by_name(spec, names),
                               [Evidence("SNI sent", "none")] + ([Evidence("certificate names", ", ".join(names))]
                                                                 if names else [])))
    if ok and version in ("TLSv1", "TLSv1.1", "SSLv3"):
        out.append(finding("weak-tls-version", f"The server negotiated an old protocol: {version}",
                           f"{version} is deprecated (RFC 8996): weak hashes, no modern ciphers; browsers refuse it.",
                           Suggestion("Enable TLS 1.2 or 1.3 on the server; check that it does ({0}).",
                                      (Change.of(tls_min="1.2"),), _version_peers(spec, "1.2", None))
                           if not is_proxy(spec) else "Enable TLS 1.2 or 1.3 on the proxy.",
                           [Evidence("negotiated", version)]))
    return out


def site_name(names: tuple[str, ...]) -> str | None:
    """The name to connect by, from a certificate's DNS names: the first that is not a wildcard
    (nor localhost, when it holds another)."""
    usable = [n for n in names if n and "*" not in n and not is_ip(n)]
    return next((n for n in usable if n.split(".")[0].lower() != "localhost"), usable[0] if usable else None)


def by_name(spec: "HandshakeWith", names: tuple[str, ...]) -> Suggestion:
    """For a target given by IP address: connect by the site's name and keep the address.

    The name is known when the certificate holds one; otherwise it is a placeholder.
    """
    port = spec.port
    name = site_name(names)
    reset: dict[str, str | None] = {"sni_mode": "host", "sni": None} if spec.tls.sni_mode != "host" else {}
    if name is not None:
        return Suggestion(literal(f"The certificate is for {name}: connect by that name and keep the address ")
                          + "({0}), so that it is sent as SNI and verified; or send it as SNI ({1}).",
                          (Change.from_values({"target": f"{name}:{port}", "pin": address(spec), **reset}, was=spec),
                           Change.of(sni_mode="override", sni=name, was=spec)),
                          (openssl_peer(spec, sni=name), curl(name, port, address=address(spec))))
    return Suggestion("Connect by the site's name and keep the address ({0}), or send the name as SNI ({1}).",
                      (Change.of(target=f"NAME:{port}", pin=address(spec), placeholders=("NAME",)),
                       Change.of(sni_mode="override", sni="NAME", placeholders=("NAME",))),
                      (openssl_peer(spec, sni="NAME"), curl("NAME", port, address=address(spec))))



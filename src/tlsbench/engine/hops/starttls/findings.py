"""Findings of a STARTTLS exchange, made from the dialogue's facts: the server's own words are the
evidence, kept literally (front-ends make control characters visible).

    starttls-not-offered       the capabilities lack STARTTLS (or its protocol's equivalent)
    starttls-refused           the server answered the command (or the session) with a refusal
    starttls-unexpected-reply  the peer does not speak the protocol asked for: what it looks like
                               (an SMTP-like greeting, then EHLO rejected: not an SMTP server)
    plaintext-after-starttls   the server agreed, then answered the ClientHello in clear text
    auth-before-tls            (warning) password login offered before TLS
    starttls-implicit-tls      the port speaks TLS at once: STARTTLS dropped (or: it spoilt the start)
    starttls-timeout           the server went silent while a reply was awaited
    starttls-closed            the server closed the connection while a reply was awaited
"""

from __future__ import annotations

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding, Severity
from tlsbench.engine.suggestions import Change, Suggestion, literal
from tlsbench.engine.hops.starttls.base import Facts
from tlsbench.engine.hops.starttls.ports import IMPLICIT_PORT, TITLES, implicit_tls, plain_port
from tlsbench.engine.hops.starttls.protocols import DIALOGUES
from tlsbench.engine.tls.peekbytes import classify

# What each protocol calls the upgrade and its capability list, and how a server is usually told to
# offer it (from the protocols' declarations).
COMMANDS = {name: d.command for name, d in DIALOGUES.items()}
LISTS = {name: d.listing for name, d in DIALOGUES.items()}
SERVER_HINTS = {name: d.server_hint for name, d in DIALOGUES.items() if d.server_hint}
AUTH_HINTS = {name: d.auth_hint for name, d in DIALOGUES.items() if d.auth_hint}


def _lines(lines: tuple[str, ...] | list[str]) -> str:
    return "\n".join(lines)


def _title(protocol: str) -> str:
    return TITLES.get(protocol, protocol)


def _capabilities_evidence(protocol: str, facts: Facts) -> list[Evidence]:
    if facts.capabilities is not None and protocol not in ("postgres",):
        return [Evidence(LISTS.get(protocol, "capabilities"), ", ".join(facts.capabilities) or "(empty)")]
    if facts.capabilities_reply:
        return [Evidence(LISTS.get(protocol, "capabilities"), _lines(facts.capabilities_reply))]
    return []


def not_offered(protocol: str, facts: Facts) -> Finding:
    title_p, command = _title(protocol), COMMANDS.get(protocol, "STARTTLS")
    evidence = _capabilities_evidence(protocol, facts)
    if protocol == "postgres":
        what = "The PostgreSQL server has no SSL: it answered the SSLRequest with N"
        why = ("A PostgreSQL client asks for SSL with an SSLRequest before anything else; 'N' means this "
               "server is not set up for it, so the connection can only go on in clear text.")
    elif protocol == "mysql":
        what = "The MySQL server does not offer SSL (no CLIENT_SSL in its handshake packet)"
        why = ("A MySQL server says whether it speaks TLS in the capability flags of its first packet; this "
               "one lacks CLIENT_SSL, so a client can only go on in clear text.")
    else:
        listed = (f"the server's {LISTS.get(protocol, 'capabilities')} lists no {command}"
                  if facts.capabilities is not None else "the server lists no capabilities at all")
        what = f"The {title_p} server does not offer {command}"
        why = f"Before TLS, {listed}, so a client that wants TLS cannot upgrade this connection."
    severity: Severity = "error"
    if facts.tried_anyway and facts.reply:
        verdict = "and it agreed" if facts.accepted else "and it refused"
        why += (f" tlsbench sent {facts.command} anyway, as openssl s_client does, {verdict}: "
                f"{_lines(facts.reply)}")
        evidence.append(Evidence(f"reply to {facts.command}", _lines(facts.reply)))
        if facts.accepted:
            severity = "warning"
            what = f"The {title_p} server accepts {command} without listing it"
            why += " Clients that follow the capabilities (most do) will not use TLS here."
    elif facts.reply:  # the answer was the refusal itself (PostgreSQL's N)
        evidence.append(Evidence(f"reply to {facts.command}", _lines(facts.reply)))
    elif facts.not_tried:
        why += f" tlsbench did not send {command}: {facts.not_tried}."
        if protocol == "irc":
            why += " (An IRC server without it may not answer the command at all before registration.)"
    port = IMPLICIT_PORT.get(protocol)
    suggestion = f"Enable it on the server ({SERVER_HINTS.get(protocol, 'a certificate and key')})"
    suggestion += f", or use the implicit-TLS port ({port}) if the server has one." if port else "."
    if severity == "warning":
        suggestion = f"List {command} in the capabilities ({SERVER_HINTS.get(protocol, 'the server settings')})."
    return finding("starttls-not-offered", what, why, suggestion, evidence, severity=severity)


def refused(protocol: str, facts: Facts) -> Finding:
    title_p, command = _title(protocol), facts.command or COMMANDS.get(protocol, "STARTTLS")
    reply = _lines(facts.reply)
    if facts.session_refused:
        return finding("starttls-refused", f"The {title_p} server refused the session: {_first(facts.reply)}", f"Before any STARTTLS the server said it will not serve this connection: {reply}", "Read the server's words: a server busy, a client address refused, or a service turned off. "
                  "Try again later or from an allowed address.", [Evidence("server said", reply)], severity="error")
    evidence = _capabilities_evidence(protocol, facts) + [Evidence(f"reply to {command}", reply)]
    why = f"The server answered {command} with a refusal: {reply}."
    if facts.offered:
        why += (" It listed STARTTLS and then refused it: usually the server has no usable certificate or key "
                "(or a TLS library error), so its own log says more.")
    suggestion = f"Check the server's TLS set-up ({SERVER_HINTS.get(protocol, 'its certificate and key')}) and its log."
    return finding("starttls-refused", f"The {title_p} server refused {command}: {_first(facts.reply)}", why, suggestion, evidence, severity="error")


def _first(lines: tuple[str, ...]) -> str:
    return lines[0][:120] if lines else "(no words)"


def too_long(protocol: str, facts: Facts) -> Finding:
    """A reply or line past the limits: the server's text is too long, whatever protocol it is."""
    data = facts.unexpected or b""
    title_p = _title(protocol)
    step = facts.awaiting or "the reply"
    return finding("starttls-reply-too-long", f"The server's {step.removeprefix('the ')} is too long: {facts.too_long}",
                   f"tlsbench spoke {title_p} and read {step}; {facts.too_long} ({facts.received_bytes:,} bytes "
                   "held), so it stopped reading. No real server's reply is that long: the server is broken or "
                   "hostile (or something in front of it floods the connection).",
                   "Look at the server's configuration and logs (what it answers to "
                   + step + "); compare with openssl s_client -starttls " + protocol + ".",
                   [Evidence("awaiting", step), Evidence("limit", facts.too_long or ""),
                    Evidence("bytes held", str(facts.received_bytes)),
                    Evidence("received (text)", data[:300].decode("latin-1"))])


def unexpected(protocol: str, facts: Facts, port: int) -> Finding:
    if facts.too_long:
        return too_long(protocol, facts)
    data = facts.unexpected or b""
    guess = classify(data)
    title_p = _title(protocol)
    evidence = [Evidence("expected", facts.expected), Evidence("received (hex)", data[:64].hex(" ")),
                Evidence("received (text)", data[:300].decode("latin-1"))]
    if guess.kind == "tls":
        return implicit_spoilt(protocol, port, data, how="answered in TLS")
    why = f"tlsbench spoke {title_p} and waited for {facts.expected}; the peer sent {guess.description} instead."
    if guess.starttls and guess.starttls != protocol:
        suggestion: Suggestion | str = Suggestion(literal(f"This is {_article(guess.starttls)} server: use its protocol (") + "{0}"
                                + literal(f"; openssl s_client -starttls {guess.starttls})."),
                                (Change.of(starttls=guess.starttls),))
    elif guess.kind == "http":
        suggestion = Suggestion("This is an HTTP server: talk plain HTTP to it ({0}), or use its TLS port without "
                                "STARTTLS.", (Change.of(tls=False, app="http"),))
    elif guess.kind == "ssh":
        suggestion = "This is an SSH server: STARTTLS does not apply; check the port."
    else:
        suggestion = (f"Check the port: {title_p} usually listens on {plain_port(protocol) or 'another port'}; "
                      "--starttls auto tells the protocol from the greeting.")
    return finding("starttls-unexpected-reply", f"The peer did not speak {title_p}: it sent {guess.description}", why, suggestion, evidence, severity="error")


def hello_rejected(protocol: str, facts: Facts) -> Finding:
    """The server greeted like SMTP/LMTP, then rejected EHLO/LHLO with a 5xx: whatever it is, it is
    not a server that can offer STARTTLS (an extension announced in the EHLO reply)."""
    title_p, hello = _title(protocol), ("LHLO" if protocol == "lmtp" else "EHLO")
    reply = _lines(facts.capabilities_reply)
    greeting = _lines(facts.greeting)
    evidence = [Evidence("greeting", greeting), Evidence(f"reply to {hello}", reply)]
    why = (f"The server greeted like {title_p} ({_first(facts.greeting)}), then answered {hello} — the first "
           f"command every {title_p} client sends — with {_first(facts.capabilities_reply)}. A server that "
           f"rejects {hello} is not {_article(protocol)} server: STARTTLS is announced in the reply to {hello}, "
           "so it cannot work here.")
    if facts.command and (facts.reply or facts.closed):
        then = f"answered {_first(facts.reply)}" if facts.reply else "closed the connection"
        why += f" tlsbench sent {facts.command} anyway, as openssl s_client does, and the server {then}."
        if facts.reply:
            evidence.append(Evidence(f"reply to {facts.command}", _lines(facts.reply)))
    suggestion = (f"Check the port: this is not {_article(protocol)} server, whatever its greeting says. Find where "
                  f"the mail server really listens ({plain_port(protocol) or 'its own port'}, or the port its "
                  "operator gives), or look at what program answers on this one.")
    return finding("starttls-unexpected-reply", f"Not {_article(protocol)} server: it answered {hello} with "
                   f"{_first(facts.capabilities_reply)}", why, suggestion, evidence, severity="error")


def undecided(because: str, data: bytes) -> Finding:
    guess = classify(data)
    evidence = [Evidence("received (hex)", data[:64].hex(" ")), Evidence("received (text)", data[:300].decode("latin-1"))]
    suggestion: Suggestion | str = ("Give the protocol: --starttls smtp, imap, pop3, ... (openssl s_client -starttls PROTO); "
                  "or drop --starttls if the service is not one STARTTLS upgrades.")
    if guess.kind == "http":
        suggestion = Suggestion("This is an HTTP server: talk plain HTTP to it ({0}), or use its TLS port without "
                                "STARTTLS.", (Change.of(tls=False, app="http"),))
    return finding("starttls-unexpected-reply", f"--starttls auto cannot tell the protocol: {guess.description}", f"auto chooses the protocol from the server's greeting: {because}.", suggestion, evidence, severity="error")


def _article(protocol: str) -> str:
    title = _title(protocol)
    return ("an " if title[0] in "AEFHILMNORSX" else "a ") + title


def plaintext_after(protocol: str, reply: tuple[str, ...], data: bytes) -> Finding:
    title_p = _title(protocol)
    guess = classify(data)
    return finding("plaintext-after-starttls", f"The {title_p} server agreed to STARTTLS, then answered in clear text", f"The server said yes ({_lines(reply) or 'no words'}) and then, where its TLS ServerHello should "
              f"be, sent {guess.description}. It did not switch to TLS: a broken or half-configured server, or "
              "something on the path that answers for it.", "Look at the server's log at the moment of the STARTTLS; compare with openssl s_client "
              f"-starttls {protocol} from another network.", [Evidence("reply to STARTTLS", _lines(reply)), Evidence("then, in clear (hex)", data[:64].hex(" ")),
               Evidence("then, in clear (text)", data[:300].decode("latin-1"))], severity="error")


def auth_before_tls(protocol: str, facts: Facts) -> Finding:
    title_p = _title(protocol)
    items = ", ".join(facts.password_auth)
    offered = ("It also offers STARTTLS, but a client that logs in first, or one an attacker talks out of "
               "STARTTLS by removing it from the list, sends the password readable by anyone on the path."
               if facts.offered else "It offers no STARTTLS at all, so a password can only travel in clear text.")
    hint = AUTH_HINTS.get(protocol)
    suggestion = ("Offer password logins only after TLS" + (f" ({hint})." if hint else ".")
                  + " Clients: always upgrade before logging in.")
    return finding("auth-before-tls", f"The {title_p} server offers password login before TLS ({items})", f"Before TLS the server lists {items}: mechanisms that send the password itself. {offered}", suggestion, _capabilities_evidence(protocol, facts), severity="warning")


def implicit(protocol: str | None, port: int, asked: str, because: str) -> Finding:
    """The port spoke TLS at once: the run dropped STARTTLS and went on with the handshake."""
    service = implicit_tls(port)
    name = service[1] if service else f"port {port}"
    if asked == "auto":
        return finding("starttls-implicit-tls", f"Port {port} ({name}) speaks TLS at once: no STARTTLS needed", f"--starttls auto found no plain-text greeting: {because}. The handshake starts right away.", "Nothing to change; --starttls is not needed on this port.", [Evidence("port", f"{port} ({name})")], severity="info", origin="local")
    plain = plain_port(asked)
    return finding("starttls-implicit-tls", f"Port {port} ({name}) speaks TLS at once: --starttls {asked} dropped", f"{because}. STARTTLS is for the plain-text port ({plain or 'the protocol’s own port'}); on this one "
              "TLS starts with the connection, so tlsbench went on with the handshake directly.", Suggestion(literal(f"Drop STARTTLS for port {port} (") + "{0}" + literal(
                  f"), or keep it and use port {plain}." if plain else ")."), (Change.of(starttls=None),)), [Evidence("port", f"{port} ({name})"), Evidence("greeting", "none")], severity="warning", origin="local")


def implicit_spoilt(protocol: str, port: int, data: bytes, how: str) -> Finding:
    """The request tlsbench sent in clear was answered in TLS (or with a silent close on an
    implicit-TLS port): the connection cannot be used for the handshake any more."""
    service = implicit_tls(port)
    name = f" ({service[1]})" if service else ""
    evidence = [Evidence("port", f"{port}{name}")]
    if data:
        evidence += [Evidence("received (hex)", data[:64].hex(" "))]
    return finding("starttls-implicit-tls", f"Port {port}{name} speaks TLS at once: drop --starttls {protocol}", f"tlsbench spoke {_title(protocol)} in clear, and the server {how}: it expects a TLS ClientHello "
              "first (implicit TLS). The clear text spoilt this connection.", Suggestion(literal("Run again without STARTTLS (") + "{0}" + literal(
                  f"), or use the plain-text port ({plain_port(protocol) or 'of the protocol'}) with STARTTLS."),
                  (Change.of(starttls=None),)), evidence, severity="error")


def timeout(protocol: str | None, facts: Facts | None, awaiting: str, seconds: float, asked: str = "") -> Finding:
    title_p = _title(protocol) if protocol else "the server"
    evidence = [Evidence("awaiting", awaiting), Evidence("waited", f"{seconds:g} s")]
    partial = facts.partial if facts is not None else b""
    if partial:
        evidence += [Evidence("received so far (text)", partial[:300].decode("latin-1"))]
    if protocol is None:
        suggestion = ("Give the protocol: --starttls postgres, ldap, xmpp or irc for services whose client "
                      "speaks first; or drop --starttls if the port speaks TLS at once.")
        title = "No greeting: --starttls auto cannot tell the protocol"
        why = f"The server sent nothing within {seconds:g} s ({awaiting})."
    else:
        suggestion = (f"Check that the port serves {title_p}; raise --timeout if the server is slow "
                      "(mail servers may look up the client's name before they greet).")
        title = f"The {title_p} server did not answer in time"
        why = f"tlsbench waited {seconds:g} s for {awaiting} and "
        why += "got only part of it." if partial else "got nothing."
    return finding("starttls-timeout", title, why, suggestion, evidence, severity="error")


def closed(protocol: str, facts: Facts, port: int, sent: bool) -> Finding:
    title_p = _title(protocol)
    evidence = [Evidence("awaiting", facts.awaiting)]
    if facts.partial:
        evidence += [Evidence("received before the close (text)", facts.partial[:300].decode("latin-1"))]
    if not facts.partial and sent and implicit_tls(port) is not None and not facts.greeting:
        return implicit_spoilt(protocol, port, b"", how="closed the connection without a word")
    return finding("starttls-closed", f"The {title_p} server closed the connection", f"The server closed the connection while tlsbench waited for {facts.awaiting}.", f"Check that the port serves {title_p} and that this client may connect (the server's log says why).", evidence, severity="error")


def closed_before_greeting() -> Finding:
    return finding("starttls-closed", "The server closed the connection without a greeting", "--starttls auto waited for the server's greeting, and the server closed the connection without "
              "a word: no protocol to tell.", "Check that the port serves a plain-text protocol and that this client may connect; or give the "
              "protocol with --starttls PROTO.", [Evidence("received", "nothing")], severity="error")


def stream_error(protocol: str, words: str) -> Finding:
    return finding("starttls-closed", f"The {_title(protocol)} exchange broke off: {words}", f"Reading or writing the connection failed: {words}.", "Check the network path and the server's log.", [Evidence("error", words)], severity="error", origin="network")

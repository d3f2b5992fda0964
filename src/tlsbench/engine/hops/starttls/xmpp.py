"""XMPP (RFC 6120), client to server and server to server: stream header, features, <starttls/>,
<proceed/> to go on.

    C: <?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' ... version='1.0'>
    S: <?xml ...?><stream:stream from='example.com' ...><stream:features><starttls xmlns=
       'urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>
    C: <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>
    S: <proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>
    ... TLS ..., then a new stream header: the features over TLS (SASL mechanisms, usually).

The stream is read as text with bounded patterns, not parsed as XML: only the elements that say
what the server offers matter here. <starttls/> is sent only when offered (s_client waits for
the feature forever; this waits for the end of the features).
"""

from __future__ import annotations

import re

from tlsbench.engine.hops.starttls.base import Dialogue, Greeted, Mismatch, line_text, password_mechanisms

TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
_HEADER = re.compile(rb"^\s*(?:<\?xml[^>]{0,200}\?>\s*)?<([\w.-]{1,40}:)?stream\b[^>]{0,2000}>")
_FEATURES = re.compile(rb"<(?:[\w.-]{1,40}:)?features\b[^>]{0,2000}?(?:/>|>(.*?)</(?:[\w.-]{1,40}:)?features\s*>)",
                       re.S)
_ERROR = re.compile(rb"<(?:[\w.-]{1,40}:)?error\b.*?</(?:[\w.-]{1,40}:)?error\s*>", re.S)
_STARTTLS = re.compile(rb"<starttls\b[^>]{0,400}" + TLS_NS.encode() + rb"[^>]{0,400}?(?:/>|>(.*?)</starttls\s*>)",
                       re.S)
_MECHANISM = re.compile(rb"<mechanism>([^<]{1,200})</mechanism>")
_ELEMENT = re.compile(rb"<([A-Za-z][\w.-]{0,40})\b")
_PROCEED = re.compile(rb"^\s*<proceed\b[^>]{0,400}" + TLS_NS.encode() + rb"[^>]{0,400}?/?>", re.S)
_FAILURE = re.compile(rb"^\s*<failure\b[^>]{0,400}" + TLS_NS.encode() + rb"[^>]{0,400}?(?:/>|>.*?</failure\s*>)",
                      re.S)
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]{0,200}\?>\s*")
_FIRST_ELEMENT = re.compile(rb"<(?:[\w.-]{1,40}:)?([\w.-]{1,40})[\s/>]")
_INNER = {b"starttls", b"required", b"optional", b"mechanisms", b"mechanism", b"method", b"hostname"}


def features(body: bytes) -> tuple[tuple[str, ...], bool]:
    """(the features listed, STARTTLS among them) from the inside of <stream:features>."""
    items: list[str] = []
    starttls = _STARTTLS.search(body)
    if starttls:
        inner = starttls.group(1) or b""
        items.append("starttls (required)" if b"<required" in inner else "starttls")
    items += [f"SASL {line_text(m)}" for m in _MECHANISM.findall(body)]
    seen = set()
    for name in _ELEMENT.findall(body):
        if name.lower() not in _INNER and name not in seen:
            seen.add(name)
            items.append(f"feature {line_text(name)}")
    return tuple(items), starttls is not None


def error_condition(data: bytes) -> str:
    """The condition of a <stream:error> (e.g. host-unknown): the first element inside it."""
    inner = data[data.find(b">") + 1:]
    names = [line_text(n) for n in _ELEMENT.findall(inner) if n.lower() != b"text"]
    return names[0] if names else line_text(data[:200])


class Xmpp(Dialogue):
    protocol = "xmpp"
    title = "XMPP"
    client_first = True
    try_anyway = False
    ports = (5222,)
    implicit_ports = ((5223, "XMPP over TLS (legacy port)"),)
    command = "<starttls/>"
    listing = "stream features"
    server_hint = "prosody: a certificate for the virtual host"
    auth_hint = "prosody: allow_unencrypted_plain_auth = false"
    says_host = True
    namespace = "jabber:client"  # the stream's default namespace: who is talking to the server

    @classmethod
    def recognise(cls, data: bytes, line: str) -> str | None:
        if data.lstrip().startswith((b"<?xml", b"<stream:stream", b"<stream:error")):
            return f"an XMPP stream ({line[:80]})"
        return None

    def start(self) -> None:
        self._open()

    def start_tls_phase(self, implicit: bool) -> None:
        self._open()

    def _open(self) -> None:
        self.send_text(f"<?xml version='1.0'?><stream:stream to='{self.xmpphost}' xmlns='{self.namespace}' "
                       "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
        self.step = "the stream header and its features"
        self.header_seen = False

    def _check_start(self, expected: str) -> None:
        text = bytes(self._buf).lstrip()
        if text and not text.startswith(b"<"):
            raise Mismatch(expected)

    def _stream_error(self) -> bool:
        found = _ERROR.search(bytes(self._buf))
        if found is None or (b"stream" not in found.group(0)[:40] and b"streams" not in found.group(0)):
            return False
        raw = self.take_bytes(found.end())
        self.received_text(raw)
        self.facts.notes.append(f"stream error: {error_condition(found.group(0))}")
        reply = (line_text(found.group(0)),)
        if self.step.startswith("the reply"):
            self.refused(reply)
        else:
            self.session_refused(reply)
        return True

    def advance(self) -> None:
        if not self.running:
            return
        if self.step.startswith("the stream header"):
            self._check_start("an XMPP stream header (<stream:stream ...>)")
            if not self.header_seen:
                header = _HEADER.match(bytes(self._buf))
                if header is None:
                    rest = _DECLARATION.sub(b"", bytes(self._buf[:4096]), count=1)
                    first = _FIRST_ELEMENT.match(rest)
                    if (first and first.group(1) != b"stream") or len(self._buf) > 4096:
                        raise Mismatch("an XMPP stream header (<stream:stream ...>)")
                    return
                self.header_seen = True
                raw = self.take_bytes(header.end())
                self.received_text(raw)
                if self.phase == "plain":
                    self.facts.greeting = (line_text(raw),)
                    self._event(Greeted(self.facts.greeting))
            if self._stream_error():
                return
            found = _FEATURES.search(bytes(self._buf))
            if found is None:
                return
            raw = self.take_bytes(found.end())
            self.received_text(raw)
            items, offered = features(found.group(1) or b"")
            password = tuple(i for i in items if i.startswith("SASL ")
                             and password_mechanisms([i[5:]]))
            self.capabilities(items, offered, password, (line_text(raw),))
            if self.phase == "tls":
                self._finish()
                return
            self.ask_upgrade(lambda: self.send_text(f"<starttls xmlns='{TLS_NS}'/>"), "<starttls/>")
            return
        # the reply to <starttls/>
        self._check_start("<proceed/> or <failure/>")
        if self._stream_error():
            return
        proceed = _PROCEED.match(bytes(self._buf))
        if proceed:
            raw = self.take_bytes(proceed.end())
            self.received_text(raw)
            self.accepted((line_text(raw),))
            return
        failure = _FAILURE.match(bytes(self._buf))
        if failure:
            raw = self.take_bytes(failure.end())
            self.received_text(raw)
            self.refused((line_text(raw),))
            return
        text = bytes(self._buf).lstrip()
        if text.endswith(b">") and not text.startswith(b"<proceed") and not text.startswith(b"<failure"):
            raise Mismatch("<proceed/> or <failure/>")


class XmppServer(Xmpp):
    """Server to server (s_client -starttls xmpp-server): the same stream in the `jabber:server`
    namespace, on the server-to-server port. Its features over TLS (dialback, SASL EXTERNAL) are for a
    server that says who it is (`from`): a stream without one may get a stream error instead (prosody
    does), so they are not asked again, as s_client does not."""

    protocol = "xmpp-server"
    title = "XMPP server-to-server"
    ports = (5269,)
    implicit_ports = ((5270, "XMPP server-to-server over TLS"),)
    server_hint = "prosody: a certificate for the virtual host, and s2s enabled"
    auth_hint = ""
    asks_again = False
    namespace = "jabber:server"

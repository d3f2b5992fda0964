"""The record of a STARTTLS exchange: the starttls stage's detail, and the app stage's when it
asks the capabilities again over TLS. `rows()` is its UI-neutral rendering: each front-end styles
the kinds its own way, and passes every text through its escaping (the texts are the server's).
"""

from __future__ import annotations

from typing import NamedTuple

from tlsbench.engine.records.details import plain


class ExchangeLine(NamedTuple):
    """One line of the exchange as it happened: when (ms since the run started, the clock every stage
    and event uses), which way, what."""

    at_ms: float
    direction: str  # "sent" | "received" | "note" (tlsbench's own remark)
    text: str  # the line as sent or received, literally (latin-1); for binary protocols a description
    hex: str | None = None  # the bytes, for binary protocols

    def to_dict(self) -> dict:
        return {"at_ms": round(self.at_ms, 3), "direction": self.direction, "text": self.text, "hex": self.hex}


class StarttlsDetail(NamedTuple):
    asked: str  # what was asked: a protocol, or "auto"
    protocol: str | None  # the protocol spoken (auto's choice); None when auto could not choose
    phase: str = "plain"  # "plain": the upgrade (starttls stage) | "tls": the capabilities over TLS (app)
    chosen_because: str | None = None  # auto: why this protocol
    name: str | None = None  # the EHLO/LHLO name said
    xmpphost: str | None = None  # the XMPP domain asked for
    exchange: tuple[ExchangeLine, ...] = ()
    greeting: tuple[str, ...] = ()
    capabilities: tuple[str, ...] | None = None  # as listed in this phase; None: none listed
    starttls_offered: bool | None = None  # None: cannot tell (the server lists nothing)
    command: str | None = None  # the upgrade command sent (None: not sent)
    reply: tuple[str, ...] = ()  # the server's answer to it, literally
    accepted: bool | None = None
    implicit_tls: bool = False  # the port spoke TLS at once: STARTTLS was dropped
    password_auth: tuple[str, ...] = ()  # password logins offered in this phase
    only_after_tls: tuple[str, ...] = ()  # capabilities listed over TLS and not before (phase "tls")
    only_before_tls: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None
    # When its stage's clock started (ms since the run started): a line is shown as its time into
    # the stage, so the exchange and the stage's own duration read on one origin.
    started_ms: float = 0.0

    def to_dict(self) -> dict:
        out = plain(self)
        out["exchange"] = [line.to_dict() for line in self.exchange]
        return out


class Row(NamedTuple):
    kind: str  # "field" | "sent" | "received" | "note" | "heading"
    label: str  # a field's name, or a line's time ("+12.345 ms")
    text: str


def _yes_no(value: bool | None, yes: str, no: str, unknown: str) -> str:
    return {True: yes, False: no, None: unknown}[value]


def rows(d: StarttlsDetail) -> list[Row]:
    """The detail as rows: the protocol and how it was chosen, the exchange line by line, what the
    capabilities say."""
    from tlsbench.engine.hops.starttls.protocols import DIALOGUES

    declared = DIALOGUES.get(d.protocol or "")
    title = declared.title if declared is not None else d.protocol or "?"
    out: list[Row] = []
    if d.phase == "tls":
        out.append(Row("field", "over TLS", f"{title}: the capabilities asked again inside TLS"))
    elif d.asked == "auto":
        out.append(Row("field", "protocol", f"{title} (auto)" if d.protocol else "auto: not decided"))
        if d.chosen_because:
            out.append(Row("field", "because", d.chosen_because))
    else:
        out.append(Row("field", "protocol", f"{title} (--starttls {d.asked})"))
    if d.name and declared is not None and declared.says_name and d.phase == "plain":
        out.append(Row("field", f"{getattr(declared, 'ask', 'EHLO')} name", d.name))
    if d.xmpphost and declared is not None and declared.says_host and d.phase == "plain":
        out.append(Row("field", "XMPP domain", d.xmpphost))
    if d.exchange:
        out.append(Row("heading", "", "exchange:"))
        for line in d.exchange:
            out.append(Row(line.direction, f"+{line.at_ms - d.started_ms:9.3f} ms", line.text))
    if d.phase == "plain" and not d.implicit_tls and d.protocol:
        out.append(Row("field", "STARTTLS", _yes_no(d.starttls_offered, "offered", "not offered",
                                                     "cannot tell (no capability list)")))
        if d.command:
            out.append(Row("field", "reply", _yes_no(d.accepted, "accepted", "refused", "none")))
    if d.password_auth:
        out.append(Row("field", "passwords", ("before TLS: " if d.phase == "plain" else "over TLS: ")
                       + ", ".join(d.password_auth)))
    if d.phase == "tls" and d.capabilities is not None:
        out.append(Row("field", "only over TLS", ", ".join(d.only_after_tls) or "nothing new"))
        if d.only_before_tls:
            out.append(Row("field", "only before", ", ".join(d.only_before_tls)))
    for note in d.notes:
        out.append(Row("note", "note", note))
    if d.error:
        out.append(Row("field", "error", d.error))
    return out

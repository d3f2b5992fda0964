"""The one sentence a diagnosis ends with: which change makes it work, and what that means.

Read in this order: interception first (it changes what every other result means), then the first
working change in the table's order, then what the looks showed (the issuer, the peer's first
words), then what was left untried.
"""

from __future__ import annotations

from typing import Sequence

from tlsbench.engine.why.facts import Facts
from tlsbench.engine.why.model import VariantOutcome
from tlsbench.engine.findings.model import Finding
from tlsbench.engine.tls.peekbytes import classify, looks_like_tls


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _code(o: VariantOutcome) -> str:
    found = o.key_finding()
    return found.code if found is not None else o.status


def only_the_certificate(o: VariantOutcome) -> bool:
    """The run got through the handshake and failed only on the certificate (trust, name, dates)."""
    errors = [x.code for x in o.result.findings if x.severity == "error"] if o.result is not None else []
    return o.status == "failed" and bool(errors) and all(c.startswith("cert-") for c in errors)


def plain_answer_says_tls(f: Facts) -> str | None:
    """What a plain-text run got that only a TLS port says, in words; None when it got nothing of the kind."""
    data = f.first_bytes
    if f.tls or not data:
        return None
    if looks_like_tls(data):
        return "the plain request was answered with a TLS record"
    if data.startswith(b"HTTP/") and any(w in data for w in (b"HTTPS port", b"SSL-enabled", b"speaking plain HTTP")):
        return f"the plain request was answered {classify(data).description.removeprefix('an ')}, a TLS server's complaint"
    return None


def conclude(f: Facts, outcomes: Sequence[VariantOutcome], findings: Sequence[Finding], *, budget: float,
             cancelled: bool = False) -> tuple[str, str | None]:
    """(the sentence, the key of the variant it recommends or None)."""
    ran = [o for o in outcomes if o.ran]
    not_run = [o for o in outcomes if o.status == "not-run"]
    timed = [o for o in ran if o.timed_out]  # ended by a deadline: no verdict on their change
    works = [o for o in ran if o.ok and o.variant.kind == "fix"]
    codes = {x.code: x for x in findings}
    left = f"; {len(not_run)} variant(s) did not run within the {budget:g} s budget" if not_run else ""
    if timed:
        left = (f"; {_join([o.variant.label for o in timed])} did not finish within "
                f"{timed[0].timeout_words().replace('its own', 'their own' if len(timed) > 1 else 'its own')}, "
                f"which says nothing about {'it' if len(timed) == 1 else 'them'}"
                + left)
    if cancelled:
        return f"The diagnosis was cancelled after {len(ran)} of {len(outcomes)} variant(s); nothing is concluded.", None

    intercept = codes.get("tls-intercepted")
    if intercept is not None:
        ev = {e.label: e.value for e in intercept.evidence}
        sentence = (f"The proxy intercepts TLS: through it the server's certificate is issued by "
                    f"{ev.get('issuer through the proxy')!r}, directly by {ev.get('issuer direct')!r}, so whoever "
                    "runs the proxy can read this connection")
        direct = next((o for o in works if o.key == "direct"), None)
        if not f.ok and direct is not None:
            sentence += "; going direct works"
        return sentence + left + ".", direct.key if direct is not None and not f.ok else None

    says_tls = plain_answer_says_tls(f)
    tls_on = next((o for o in ran if o.key == "tls-on"), None)
    if says_tls and tls_on is not None and (tls_on.ok or only_the_certificate(tls_on)):
        if tls_on.ok:
            return f"The port speaks TLS: {says_tls}; it works with TLS on (https://){left}.", "tls-on"
        return (f"The port speaks TLS: {says_tls}; with TLS on the handshake completes and only the certificate "
                f"fails ({_code(tls_on)}){left}.", None)

    if f.ok:
        if not outcomes:
            return "It works as composed; nothing else was worth trying.", None
        sentence = "It works as composed"
        failing = [f"{o.variant.label} ({_code(o)})" for o in ran if not o.ok and not o.timed_out]
        also = [o.variant.label for o in ran if o.ok]
        if failing:
            sentence += f"; it fails with {_join(failing)}"
        if also:
            sentence += f"; it also works with {_join(also)}"
        return sentence + left + ".", None

    if works:
        best = works[0]
        sentence = f"It works with {best.variant.label}: {best.variant.meaning}"
        if len(works) > 1:
            sentence += f" (also works: {_join([o.variant.label for o in works[1:]])})"
        return sentence + ".", best.key

    near = [o for o in ran if o.variant.kind == "fix" and only_the_certificate(o)]
    if near and not any(c.startswith("cert-") for c in f.codes):
        best = near[0]
        return (f"With {best.variant.label} the handshake completes and only the certificate fails "
                f"({_code(best)}): {best.variant.meaning}; then settle the certificate as its finding says{left}.",
                None)

    if "cert-incomplete-chain" in codes:
        return ("The server leaves out its intermediate certificate: the issuer its certificate names chains to a "
                "root you trust, so the fix is on the server (send the intermediate with the certificate)"
                f"{left}.", None)
    if "cert-untrusted" in codes:
        return ("The certificate comes from a CA that is not trusted here, not from a missing intermediate: trust "
                f"its root with --cafile if it is yours; otherwise the server needs another certificate{left}.", None)

    small = next((o for o in ran if o.key == "small-hello" and o.ok), None)
    if small is not None:
        dropped = codes.get("large-hello-dropped") or next(
            (x for x in f.result.findings if x.code == "large-hello-dropped"), None)
        said = f"{dropped.title}: " if dropped is not None else ""
        pq = "X25519MLKEM768" in f.spec.tls.groups
        return (f"{said}a small hello over the same route works, the large one"
                + (" with the post-quantum key share" if pq else "") + " gets no answer; the fix is on the path "
                "(the device losing large ClientHellos)" + (", not in giving up the share" if pq else "")
                + f"{left}.", None)

    words = next((o for o in ran if o.key == "first-words"), None)
    if words is not None and words.result is not None:  # a variant that ran has its result
        detail = getattr(words.result.stage("app"), "detail", None)
        data = bytes.fromhex(detail.first_bytes_hex) if detail is not None and detail.first_bytes_hex else b""
        if data:
            guess = classify(data)
            hint = (f"it is {guess.description}: talk to it in plain text, or use STARTTLS or its implicit-TLS port"
                    if guess.starttls else f"it is {guess.description}, not a TLS server")
            return f"No change made TLS work because the port does not speak TLS: {hint}{left}.", None
        if f.has("tls-timeout"):
            return ("No change made it work, and the peer stays silent even in plain text: something accepts the "
                    "connection but does not answer (a firewall or proxy holding it, a stuck service, or a protocol "
                    f"that waits for another greeting){left}.", None)

    if f.has("sni-required") and not any(o.key.startswith("sni=") for o in outcomes):
        return ("No change made it work: the server wants a server name (SNI) and none is known here; give one to "
                f"try (--diagnose-sni NAME){left}.", None)
    if outcomes and len(not_run) == len(outcomes):
        return (f"The {budget:g} s budget ran out before any variant finished; nothing is concluded "
                "(give it more time).", None)
    first = next((x for x in f.result.findings if x.severity == "error"), None)
    what = f": {first.title}" if first is not None else ""
    if not outcomes:
        return f"Nothing was worth trying for this failure{what}.", None
    return f"No variant made it work{what}; each result is below{left}.", None

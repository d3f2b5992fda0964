"""The variants a diagnosis may try, one entry each, and when each is worth trying.

Every entry of RULES is a change over the option value set (engine/options.py) and a test on
what the first run showed (facts.Facts). The table's order is the table a person reads and the
order in which working variants are recommended. A new variant is one more `Rule(...)` line: an
entry whose options do not exist in this build (say, `starttls`) is simply never proposed.

Two entries need a step before their run (`prepare`): "first-words" replaces the app stage with
one that sends nothing and records what the peer says first; "issuer" fetches the issuer named by
the leaf's AIA "CA Issuers" URL and adds it to that run's trust (see issuer.py).
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

from tlsbench.engine.why.facts import Facts
from tlsbench.engine.why.model import Variant
from tlsbench.errors import InputError
from tlsbench.engine.route.hostport import format_hostport
from tlsbench.engine.tls.peekbytes import classify, looks_like_tls

MAX_NAMES = 3  # SNI names tried, the user's first, then the certificate's
VERSIONS = ("1.0", "1.1", "1.2", "1.3")
HANDSHAKE = ("tls-alert", "sni-required", "tls-handshake-failed", "connection-reset", "tls-version-mismatch",
             "no-shared-cipher", "tls-timeout")
TRUST = ("cert-untrusted", "cert-incomplete-chain", "cert-self-signed")
SILENT = ("tls-timeout", "connection-reset", "tls-handshake-failed")


class Rule(NamedTuple):
    """One entry: a change, when it is worth trying, and what it means when it works.

    `changes` is a dict over the value set, or a function of the facts giving one; `each`, when
    given, proposes several variants instead: (key, label, changes, meaning) for each.
    `meaning` is a template over `words(facts)` or a function of the facts.
    """

    key: str
    label: str
    changes: dict | Callable[[Facts], dict]
    when: Callable[[Facts], bool]
    meaning: str | Callable[[Facts], str] = ""
    kind: str = "fix"  # "fix": adoptable; "look": run to see what the peer does
    prepare: str | None = None
    after: tuple[str, ...] = ()  # decided once these variants (when chosen) have finished
    each: Callable[[Facts], Iterable[tuple[str, str, dict, str]]] | None = None
    why_not_adoptable: str = ""


# --- what the first run showed ----------------------------------------------------------------

def versions(values: dict) -> tuple[str, str]:
    """The TLS versions a value set really offers: Python's floor is 1.2 unless the top is lower."""
    hi: str = values["tls_max"] if values.get("tls_max") in VERSIONS else "1.3"
    lo: str = values["tls_min"] if values.get("tls_min") in VERSIONS else ("1.0" if hi in ("1.0", "1.1") else "1.2")
    return lo, hi


def versions_words(values: dict) -> str:
    lo, hi = versions(values)
    return f"TLS {lo}" if lo == hi else f"TLS {lo} to {hi}"


def server_hello_seen(f: Facts) -> bool:
    return any(m.name == "ServerHello" and m.direction == "received" for m in f.result.messages)


def peer_silent(f: Facts) -> bool:
    """The handshake got no answer: a timeout, or a close or reset before any ServerHello."""
    return f.has(*SILENT) and not server_hello_seen(f) and not f.alert


def handshake_trouble(f: Facts) -> bool:
    return f.tls and f.failed_at("tls") and f.has(*HANDSHAKE)


def first_words(f: Facts) -> bytes:
    """What the peer said first: in the first run, or in the first-words variant once it ran."""
    done = f.result_of("first-words")
    if done is not None:
        app = done.stage("app")
        text = getattr(getattr(app, "detail", None), "first_bytes_hex", None)
        if text:
            return bytes.fromhex(text)
    return f.first_bytes


def banner_seen(f: Facts) -> bool:
    """A greeting of a protocol that upgrades with STARTTLS (SMTP, IMAP, POP3, FTP)."""
    return classify(first_words(f)).starttls is not None


def http_seen(f: Facts) -> bool:
    return classify(f.first_bytes).kind == "http"


def words(f: Facts) -> dict:
    return {"target": f.spec.target, "port": f.spec.port, "host": f.spec.host, "offered": versions_words(f.values),
            "alpn": ",".join(f.spec.tls.alpn), "ciphers": f.spec.tls.ciphers, "cafile": f.spec.tls.cafile}


# --- meanings that depend on the first run ----------------------------------------------------

def _only(version: str) -> Callable[[Facts], str]:
    def meaning(f: Facts) -> str:
        lo, hi = versions(f.values)
        if not (VERSIONS.index(lo) <= VERSIONS.index(version) <= VERSIONS.index(hi)):
            return (f"the server speaks TLS {version}, which the first run did not offer ({versions_words(f.values)}): "
                    f"allow it (--tls-min/--tls-max)")
        return (f"with only TLS {version} offered the handshake completes: the server, or something on the path, "
                f"fails on the wider offer ({versions_words(f.values)})")
    return meaning


def _names(f: Facts) -> Iterable[tuple[str, str, dict, str]]:
    """SNI names to try: the ones the user suggested, then the names in the certificate."""
    current = (f.spec.sni or "").lower()
    seen = {current, f.spec.host.lower()} if f.spec.tls.sni_mode == "host" else {current}
    picked: list[tuple[str, str]] = []
    for name, source in [(n, "you suggested it") for n in f.suggested_sni] + \
                        [(n, "from the certificate") for n in f.leaf_names]:
        if "*" in name or name.lower() in seen or len(picked) >= MAX_NAMES:
            continue
        seen.add(name.lower())
        picked.append((name, source))
    for name, source in picked:
        if f.target_is_ip or source == "you suggested it":
            yield (f"sni={name}", f"SNI {name} ({source})", {"sni_mode": "override", "sni": name},
                   f"the server picks its certificate by the name sent: send {name} as SNI (--sni {name}), or "
                   f"connect by that name and keep the address with --pin")
        else:
            # The certificate names another host: verification follows the name asked for, so ask for it.
            pin = f.spec.pin or f.connected_to
            changes = {"target": format_hostport(name, f.spec.port)}
            label = f"connect as {name} ({source})"
            if pin:
                changes["pin"] = pin
                label = f"connect as {name}, pinned to {pin} ({source})"
            yield (f"name={name}", label, changes,
                   f"the certificate is for {name}, not {f.spec.host}: connect by that name (with --pin to keep "
                   "the address), or give the server a certificate for the name you use")


def _peer_said(f: Facts) -> str:
    data = first_words(f)
    if not data:
        return "the peer sends nothing until spoken to"
    return f"the peer speaks first: {classify(data).description}"


# --- the table --------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    # route: the same connection without the proxies (interception is told from the two leaves)
    Rule("direct", "direct, no proxy", {"proxies": []}, lambda f: bool(f.spec.proxies),
         "the proxy route is what fails: the target answers when reached directly; check the proxy (or its rules)"),
    # SNI
    Rule("sni-host", "SNI: the host name", {"sni_mode": "host", "sni": None},
         lambda f: f.tls and not f.target_is_ip and f.spec.tls.sni_mode != "host" and f.failed_at("tls", "chain"),
         "the server needs the host's own name as SNI: drop --sni/--no-sni"),
    Rule("sni-names", "SNI: another name", {}, lambda f: f.tls and f.failed_at("tls", "chain") and (
        bool(f.suggested_sni) or handshake_trouble(f) or f.has("cert-hostname-mismatch") or f.target_is_ip),
        each=_names),
    Rule("sni-none", "no SNI", {"sni_mode": "none", "sni": None},
         lambda f: f.tls and f.spec.sni is not None and (f.ok or (f.failed_at("tls") and f.has(
             "tls-alert", "sni-required", "tls-handshake-failed", "connection-reset"))),
         "the server refuses the name sent; without SNI it serves its default certificate"),
    # versions, ALPN, ciphers
    Rule("tls-1.3", "TLS 1.3 only", {"tls_min": "1.3", "tls_max": "1.3"},
         lambda f: f.tls and (f.ok or handshake_trouble(f)), _only("1.3")),
    Rule("tls-1.2", "TLS 1.2 only", {"tls_min": "1.2", "tls_max": "1.2"},
         lambda f: f.tls and (f.ok or handshake_trouble(f)), _only("1.2")),
    Rule("tls-legacy", "TLS 1.0 to 1.1 (obsolete)", {"tls_min": "1.0", "tls_max": "1.1"},
         lambda f: handshake_trouble(f) and not f.has("sni-required", "tls-timeout"),
         "the server speaks only obsolete TLS 1.0/1.1: upgrade it (--tls-min 1.0 reaches it meanwhile)"),
    Rule("alpn-off", "ALPN off", {"alpn": []}, lambda f: f.tls and bool(f.spec.tls.alpn) and f.failed_at("tls", "app"),
         "the server refuses the ALPN protocols offered ({alpn}): offer others, or none"),
    Rule("ciphers-default", "the default cipher list", {"ciphers": None},
         lambda f: f.tls and bool(f.spec.tls.ciphers) and f.failed_at("tls"),
         "the cipher list given (--ciphers {ciphers}) shares nothing with the server; the default list does"),
    # the size of the hello: a path that loses large ClientHellos (post-quantum key shares)
    Rule("small-hello", "a small hello (x25519 only, no post-quantum share)", {"groups": ["x25519"]},
         lambda f: f.tls and f.failed_at("key-exchange") and f.has("large-hello-dropped", "tls13-no-answer"),
         "the same route answers a small ClientHello: the path (not the server) drops the large one with the "
         "post-quantum key share", kind="look",
         why_not_adoptable="the fix is on the path that drops large hellos, not in giving up the post-quantum share"),
    # trust
    Rule("trust-system", "system trust store, not the CA file", {"verify": "system"},
         lambda f: f.tls and f.spec.tls.verify == "cafile" and f.has(*TRUST),
         "your CA file ({cafile}) does not hold the CA that issued this certificate; the system trust store does"),
    Rule("issuer", "issuer from the leaf's AIA URL", {}, lambda f: f.tls and f.spec.tls.verify != "off"
         and f.has("cert-untrusted", "cert-incomplete-chain") and bool(f.issuer_urls), kind="look", prepare="issuer",
         why_not_adoptable="the issuer is added to this run only; the fix is on the server (send the whole chain)"),
    # what the peer says
    Rule("first-words", "plain TCP, read only (send nothing)", {"tls": False, "app": "none"},
         lambda f: (f.tls and f.failed_at("tls") and (f.has("not-tls") or peer_silent(f)))
         or (not f.tls and f.failed_at("app")), _peer_said, kind="look", prepare="first-words",
         why_not_adoptable="reading without sending is a look at the peer, not a setting of the form"),
    Rule("plain-http", "plain TCP + HTTP GET", {"tls": False, "app": "http"},
         lambda f: f.tls and f.failed_at("tls") and (http_seen(f) or (peer_silent(f) and not f.first_bytes)),
         "port {port} speaks plain HTTP, not TLS: use http:// (--no-tls --http), or the TLS port"),
    Rule("tls-on", "TLS on", {"tls": True},
         lambda f: not f.tls and (not f.ok or looks_like_tls(f.first_bytes) or classify(f.first_bytes).http_status
                                  == 400),
         "port {port} speaks TLS: use it (https://)"),
    Rule("starttls-auto", "STARTTLS (auto)", {"tls": True, "starttls": "auto"},
         lambda f: banner_seen(f), "the port starts in plain text and upgrades to TLS with STARTTLS",
         after=("first-words",)),
)

VERSION_RULES = ("tls-1.3", "tls-1.2", "tls-legacy")


def _known(changes: dict) -> bool:
    from tlsbench.engine.options import BY_NAME

    return all(name in BY_NAME for name in changes)


def proposals(rule: Rule, f: Facts) -> list[Variant]:
    """The variants one rule proposes for these facts (none when it does not apply)."""
    from tlsbench.engine.options import spec_from_values

    changes = rule.changes(f) if callable(rule.changes) else rule.changes
    if not _known(changes) or not rule.when(f):
        return []
    found = rule.each(f) if rule.each is not None else [(rule.key, rule.label, changes, rule.meaning)]
    out = []
    for key, label, change, meaning in found:
        if not _known(change):
            continue
        values = {**f.values, **change}
        try:
            spec = spec_from_values(values)
        except InputError:
            continue  # a change this connection cannot take (e.g. a name that is not a valid SNI)
        if rule.prepare is None and (spec == f.spec or (rule.key in VERSION_RULES and versions(values) == versions(
                f.values))):
            continue  # nothing would change
        # A template of the table's is filled in; the words an `each` rule wrote (certificate names in them) are final.
        text = meaning(f) if callable(meaning) else (meaning if rule.each is not None else meaning.format(**words(f)))
        out.append(Variant(key, label, dict(change), spec, text, rule.kind, rule.prepare,
                           adoptable=rule.kind == "fix", why_not_adoptable=rule.why_not_adoptable))
    return out


def choose(f: Facts) -> tuple[list[Variant], list[Rule]]:
    """(the variants to run now, the rules to decide later) in the table's order.

    A rule with `after` waits for those variants when they are among the ones chosen now.
    """
    now: list[Variant] = []
    later: list[Rule] = []
    for rule in RULES:
        if rule.after and any(v.key in rule.after for v in now):
            later.append(rule)
            continue
        now += proposals(rule, f)
    return _unique(now), later


def _unique(variants: list[Variant]) -> list[Variant]:
    """One variant per resulting connection: the first entry that reaches it speaks for it."""
    out: list[Variant] = []
    for v in variants:
        if all(v.spec != o.spec or v.prepare != o.prepare for o in out):
            out.append(v)
    return out

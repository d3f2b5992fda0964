"""Which suggestions weaken TLS, and which evidence entitles a finding to make one.

A security tool must not advise a lower TLS version, weaker ciphers or verification off on the
strength of garbage: only a well-formed message from the peer shows that this is the difference.
The evidence that counts (labels of `Evidence`, as the diagnosis writes them):

- "server chose": a well-formed ServerHello that chose a real TLS version (peekbytes.server_hello);
- "alert received" naming `protocol_version`: the peer said the versions do not overlap;
- "verify code": OpenSSL's verification failed with that code (turning verification off to look);
- "variant succeeded": a `--diagnose` variant with the weaker setting completed its handshake.

`catalogue.finding()` applies the rule: a weakening suggestion without such evidence is replaced
by a neutral one, and a code not flagged `weakens` in the catalogue may not weaken at all.
"""

from __future__ import annotations

from typing import Any, Iterable

from tlsbench.engine.findings.model import Evidence
from tlsbench.engine.suggestions import Change, Peer, Suggestion

_ORDER = {"1.0": 0, "1.1": 1, "1.2": 2, "1.3": 3}
DEFAULT_MIN = "1.2"  # what OpenSSL/Python offer when no --tls-min is given
# Template settings whose mere mention advises turning verification off.
_WEAKENING_SETTINGS = ("insecure", "proxy_insecure")
# Peer command words that turn a peer tool's verification off. (Version words in a peer mirror the
# changes beside it, which are judged on their own.)
_WEAKENING_WORDS = ("-k", "--insecure", "--proxy-insecure")
_OLD_VERSION_WORDS = ("--tlsv1.0", "--tlsv1.1", "TLSv1", "TLSv1.1")


def _lower(new: Any, old: Any) -> bool:
    return _ORDER.get(new or DEFAULT_MIN, 2) < _ORDER.get(old or DEFAULT_MIN, 2)


def change_weakens(change: Change) -> bool:
    values, before = change.values, change.previous
    if values.get("verify") == "off" or values.get("insecure") is True or values.get("proxy_insecure") is True:
        return True
    if "tls_min" in values and _lower(values["tls_min"], before.get("tls_min")):
        return True
    if values.get("tls_max") and _ORDER.get(values["tls_max"], 3) < _ORDER.get(before.get("tls_max") or "1.3", 3):
        return True
    ciphers = str(values.get("ciphers") or "")
    return "SECLEVEL=0" in ciphers or "SECLEVEL=1" in ciphers or "NULL" in ciphers.upper() or "RC4" in ciphers.upper()


def peer_weakens(peer: Peer) -> bool:
    words = peer.command.split()
    return any(w in _WEAKENING_WORDS or any(part in w for part in ("SECLEVEL=0", "SECLEVEL=1")) for w in words)


def weakens(suggestion: Suggestion | str) -> bool:
    """Whether a suggestion advises weakening TLS (a change, a named setting, or a peer command)."""
    if isinstance(suggestion, str):
        return False
    return (any(change_weakens(c) for c in suggestion.changes)
            or any(f"{{{name}}}" in suggestion.text and f"drop {{{name}}}" not in suggestion.text
                   for name in _WEAKENING_SETTINGS)
            or any(peer_weakens(p) for p in suggestion.peers))


def positive_evidence(evidence: Iterable[Evidence]) -> list[Evidence]:
    """The pieces of evidence that show weakening is the difference (see the module's docstring)."""
    out = []
    for e in evidence:
        if e.label == "server chose" and e.value.startswith(("TLS", "SSL")):  # a real version, not 0x0305
            out.append(e)
        elif e.label in ("verify code", "variant succeeded"):
            out.append(e)
        elif e.label == "alert received" and e.value.startswith("protocol_version"):
            out.append(e)
    return out


NEUTRAL = Suggestion("Look at the evidence and compare with openssl's message trace; nothing the peer sent shows "
                     "that a weaker setting (an older TLS version, weaker ciphers, no verification) would help.")


def honest(suggestion: Suggestion) -> Suggestion:
    """The suggestion without its weakening advice: its peers that do not weaken, under neutral words."""
    return NEUTRAL._replace(peers=tuple(p for p in suggestion.peers if not peer_weakens(p)
                                        and not any(w in _OLD_VERSION_WORDS for w in p.command.split())))

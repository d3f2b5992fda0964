"""What `--enumerate` adds at the scopes that ask for it (`--enumerate-scope`): the TLS 1.3 cipher
preference and the key-exchange groups the server accepts.

Both read only the server's first answer to a hand-built TLS 1.3 hello (engine/tls/hellobuild.py):
* **tls13-order**: the accepted TLS 1.3 suites offered in our order and reversed (and the first two
  swapped): the same pick every time is the server's own preference, a pick that follows ours is
  the client's. 1 or 2 connections.
* **groups**: one hello per group, offering only that group — with a real key share where tlsbench
  makes one (x25519, the NIST curves, x448, X25519MLKEM768: the server may select it at once), with
  none for the ffdhe groups (the server must ask for it with a HelloRetryRequest). A ServerHello or
  HelloRetryRequest naming the group means accepted, an alert means not. Then one hello offering every
  accepted group with no share: the group its HelloRetryRequest asks for is the one it prefers.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING, NamedTuple

from tlsbench.engine.tls.tlsnames import GROUPS, group_name

if TYPE_CHECKING:
    from tlsbench.engine.tls.enumeration import _Prober

TLS13 = 0x0304
GROUP_ORDER = (0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x11EC)
SCOPES = ("versions", "ciphers", "tls13-order", "groups")


def parse_scope(text: str | None) -> tuple[str, ...]:
    """--enumerate-scope LIST (comma-separated; "all"): versions and ciphers are always asked."""
    chosen = ["versions", "ciphers"]
    for item in (text or "").replace(":", ",").split(","):
        item = item.strip().lower()
        if not item:
            continue
        if item == "all":
            return SCOPES
        if item not in SCOPES:
            raise ValueError(f"--enumerate-scope: {item[:40]!r} is not one of {', '.join(SCOPES)} or all")
        if item not in chosen:
            chosen.append(item)
    return tuple(s for s in SCOPES if s in chosen)


class GroupAnswers(NamedTuple):
    accepted: dict  # group name -> True | False | None (not tested: no answer)
    how: dict  # group name -> "selected" | "hello retry" | alert name | error
    preferred: str | None  # the group the server asks for when offered every accepted one without a share


def tls13_order(prober: "_Prober", found: list[int]) -> bool | None:
    """True: the server picks by its own order; False: it follows the client's; None: unknown."""
    if len(found) < 2:
        return None
    first = prober.ask(TLS13, list(reversed(found)))
    if first.kind != "hello" or first.suite is None:
        return None
    if first.suite != found[0]:
        return False  # it took what we now offered first
    swapped = [found[1], found[0]] + found[2:]
    second = prober.ask(TLS13, swapped)
    if second.kind != "hello":
        return None
    return second.suite == found[0]


def _ask_group(prober: "_Prober", suites: list[int], group: int) -> tuple[bool | None, str]:
    from tlsbench.engine.tls13.keyshare import SHAREABLE, make_share

    shares = [(group, make_share(group).share)] if group in SHAREABLE else []
    reply = prober.ask(TLS13, suites, groups=[group], shares=shares)
    if reply.kind == "hello":
        if reply.version != TLS13 or reply.group != group:
            return False, f"answered with {group_name(reply.group) if reply.group else 'no group'}"
        return True, "hello retry" if reply.retry else "selected"
    if reply.kind == "alert":
        return False, reply.alert or "alert"
    if reply.kind in ("closed", "not-tls"):
        return False, reply.error or reply.kind
    return None, reply.error or reply.kind


def groups(prober: "_Prober", suites: list[int], pool: Executor) -> GroupAnswers:
    """Which groups the server accepts in TLS 1.3, and which it prefers (one connection per group, +1)."""
    answers = dict(zip(GROUP_ORDER, pool.map(lambda g: _ask_group(prober, suites, g), GROUP_ORDER)))
    accepted = {group_name(g): ok for g, (ok, _) in answers.items()}
    how = {group_name(g): said for g, (_, said) in answers.items()}
    yes = [g for g, (ok, _) in answers.items() if ok]
    preferred = None
    if len(yes) > 1:
        reply = prober.ask(TLS13, suites, groups=yes, shares=[])
        if reply.kind == "hello" and reply.retry and reply.group in yes:
            preferred = group_name(reply.group)
    return GroupAnswers(accepted, how, preferred)


def group_lines(answers: GroupAnswers | None) -> list[str]:
    if answers is None:
        return []
    said = {True: "yes", False: "no", None: "not tested"}
    out = ["groups    (TLS 1.3) " + ", ".join(f"{name} {said[ok]}" for name, ok in answers.accepted.items())]
    if answers.preferred:
        out.append(f"          the server prefers {answers.preferred} (its HelloRetryRequest when offered every "
                   "accepted group without a share)")
    return out


assert set(GROUP_ORDER) <= set(GROUPS)  # every group asked about has its IANA name

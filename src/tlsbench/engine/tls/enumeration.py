"""What the server accepts (`tlsbench probe --enumerate`): protocol versions and cipher suites.

Each question is one connection over the run's route (proxies included) carrying a hand-built
ClientHello (engine/tls/hellobuild.py); the answer is the server's ServerHello (or its refusal), so
no handshake is completed and suites the local OpenSSL cannot speak (RC4, 3DES, EXPORT, DES) are
asked about all the same. For each version the server accepts (SSL 3.0 to TLS 1.2), the suites
are found by elimination — offer all, note the one chosen, offer the rest again — which also gives
the server's order; two accepted suites offered both ways tell whether that order is the
server's own or just ours. TLS 1.3 suites are found the same way. Everything is bounded: each
connection by the timeout, the whole by a budget; what was not tested is listed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from tlsbench.engine.tls import hellobuild
from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.records.redact import Redactor
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.tls.tlsmsg import alert_name
from tlsbench.engine.tls.tlsnames import LEGACY_SUITES, SUITES, TLS13_SUITES, Suite, version_name
from tlsbench.visible import visible

if TYPE_CHECKING:
    from tlsbench.engine.stages.resolve import Route
    from tlsbench.engine.tls.enum13 import GroupAnswers

BUDGET = 120.0  # seconds for the whole enumeration
LEGACY_VERSIONS = (0x0303, 0x0302, 0x0301, 0x0300)
VERSIONS = (0x0304,) + LEGACY_VERSIONS


def _rank(suite: Suite) -> tuple:
    """Our offer order: the way a modern client ranks suites (forward secrecy, AEAD, strength)."""
    bits = next((int(p) for p in suite.cipher.split("_") if p.isdigit()), 0)
    return (bool(suite.weaknesses), not suite.forward_secrecy, suite.mac != "AEAD", -bits, suite.id)


OFFER_ORDER = tuple(sorted(LEGACY_SUITES, key=_rank))


class Reply(NamedTuple):
    kind: str  # hello | alert | closed | not-tls | timeout | error | budget
    version: int | None = None
    suite: int | None = None
    alert: str | None = None
    error: str | None = None
    group: int | None = None  # TLS 1.3: the ServerHello's key share group, or the one a HelloRetryRequest asks for
    retry: bool = False


class SuiteResult(NamedTuple):
    id: int
    name: str
    kx: str
    auth: str
    cipher: str
    mac: str
    forward_secrecy: bool
    weaknesses: tuple[str, ...]

    def to_dict(self) -> dict:
        d = self._asdict()
        d["id"] = f"0x{self.id:04x}"
        d["weaknesses"] = list(self.weaknesses)
        return d


def _result(suite_id: int) -> SuiteResult:
    s = SUITES[suite_id]
    return SuiteResult(s.id, s.name, s.kx, s.auth, s.cipher, s.mac, s.forward_secrecy, s.weaknesses)


class Enumeration(NamedTuple):
    target: str
    versions: dict  # "TLS 1.2" -> True | False | None (not tested)
    suites: dict  # "TLS 1.2" -> [SuiteResult] in the server's order (or ours, see server_order)
    server_order: dict  # "TLS 1.2" -> True (the server's own), False (follows the client's), None (unknown)
    not_tested: tuple[str, ...]
    findings: tuple[Finding, ...]
    connections: int
    duration_ms: float
    concurrency: int
    errors: tuple[str, ...] = ()  # connections that ended without an answer, in words
    offered: int = 0  # suites tlsbench knows and offered
    scope: tuple[str, ...] = ("versions", "ciphers")
    groups: "GroupAnswers | None" = None  # --enumerate-scope groups

    def to_dict(self) -> dict:
        return {
            "versions": self.versions,
            "suites": {v: [s.to_dict() for s in items] for v, items in self.suites.items()},
            "server_order": self.server_order,
            "not_tested": list(self.not_tested),
            "findings": [f.to_dict() for f in self.findings],
            "connections": self.connections,
            "duration_ms": round(self.duration_ms, 3),
            "concurrency": self.concurrency,
            "suites_known": self.offered,
            "errors": list(self.errors),
            "scope": list(self.scope),
            "groups": None if self.groups is None else {"accepted": self.groups.accepted, "how": self.groups.how,
                                                        "preferred": self.groups.preferred},
        }


class _Prober:
    """Sends one ClientHello per connection over the route and reads the answer."""

    def __init__(self, spec: ConnectionSpec, cancel: CancelToken, deadline: float) -> None:
        from tlsbench.engine.plan import plan_for
        from tlsbench.engine.route.opener import RouteOpener

        self.spec = spec
        self.cancel = cancel
        self.deadline = deadline
        self.opener = RouteOpener(plan_for(spec))
        self.route: Route | None = None
        self.count = 0
        self.errors: list[str] = []

    def start(self) -> str | None:
        self.route, failure = self.opener.resolve(self.cancel)
        return failure

    def ask(self, version: int, suites: list[int], **options: Any) -> Reply:
        """One connection: a hello for `version` offering `suites` (and hellobuild's `options`)."""
        from tlsbench.engine.route.opener import close

        left = self.deadline - time.monotonic()
        if left <= 0 or self.cancel.cancelled:
            return Reply("budget")
        self.count += 1
        state, failure = self.opener.open(self.route, self.cancel, timeout=min(self.spec.timeout, left))
        if failure is not None:
            self.errors.append(failure)
            return Reply("error", error=failure)
        assert state.stream is not None  # an opened route ends in a stream
        data = b""
        try:
            state.stream.send(hellobuild.client_hello(suites, version, self.spec.sni, **options))
            while True:
                answer = hellobuild.read_answer(data)
                if answer.kind != "incomplete":
                    break
                chunk = state.stream.recv(65536)
                if not chunk:
                    answer = hellobuild.read_answer(data, eof=True)
                    break
                data += chunk
        except TimeoutError:
            return Reply("timeout")
        except OSError as exc:
            return Reply("closed", error=exc.strerror or str(exc))
        except Exception as exc:  # noqa: BLE001 - cancellation, or a stream error: no answer
            return Reply("error", error=f"{type(exc).__name__}: {exc}")
        finally:
            close(state)
        if answer.kind == "hello":
            hello = answer.hello
            assert hello is not None  # a "hello" answer carries its ServerHello
            return Reply("hello", version=hello.version, suite=hello.cipher_suite, group=hello.group, retry=hello.retry)
        if answer.kind == "alert":
            return Reply("alert", alert=alert_name(answer.alert or 0))
        return Reply(answer.kind)


def enumerate_server(spec: ConnectionSpec, *, concurrency: int = 4, budget: float = BUDGET,
                     cancel: CancelToken | None = None,
                     progress: Callable[[str], None] | None = None,
                     scope: tuple[str, ...] = ("versions", "ciphers")) -> Enumeration:
    """What the server accepts; `scope` (enum13.SCOPES) adds the TLS 1.3 cipher preference and the groups."""
    from tlsbench.engine.tls import enum13

    cancel = cancel or CancelToken()
    started = time.monotonic()
    prober = _Prober(spec, cancel, started + budget)
    note = progress or (lambda text: None)
    not_tested = ["SSL 2.0 (tlsbench sends no SSLv2 hello)",
                  "PSK, SRP, GOST and other suites outside tlsbench's table "
                  f"({len(SUITES)} known suites are offered)",
                  "signature schemes (the normal handshake shows the one chosen)"
                  + ("" if "groups" in scope else "; key exchange groups (--enumerate-scope groups)"),
                  "only the ServerHello is read: a suite the server picks but could not finish with counts as accepted"]
    failure = prober.start()
    if failure is not None:
        first = ("the rest: the enumeration was cancelled (Ctrl-C)" if cancel.cancelled
                 else "everything: " + failure)
        failed = Enumeration(spec.target, {name: None for name in map(version_name, VERSIONS)}, {}, {},
                             tuple([first] + not_tested), (), 0,
                             (time.monotonic() - started) * 1000, concurrency, (failure,), len(SUITES))
        return Redactor.of(spec).value(failed)  # the route's failure may quote a proxy's words
    note("versions")
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        replies = dict(zip(VERSIONS, pool.map(lambda v: prober.ask(v, _offer(v)), VERSIONS)))
        versions: dict = {}
        for v, reply in replies.items():
            name = version_name(v)
            if reply.kind in ("budget", "timeout", "error"):
                versions[name] = None
                not_tested.append(f"{name}: {reply.error or reply.kind}")
            else:
                versions[name] = reply.kind == "hello" and reply.version == v
        accepted = [v for v in VERSIONS if versions.get(version_name(v))]
        note("suites")
        jobs = {v: pool.submit(_eliminate, prober, v, [s.id for s in (TLS13_SUITES if v == 0x0304 else OFFER_ORDER)])
                for v in accepted}
        suites, orders = {}, {}
        for v, job in jobs.items():
            found, complete = job.result()
            name = version_name(v)
            suites[name] = [_result(s) for s in found]
            if not complete and not cancel.cancelled:
                not_tested.append(f"{name}: the budget ran out before every suite was tried")
            if v != 0x0304:
                orders[name] = _server_order(prober, v, found)
            else:
                orders[name] = enum13.tls13_order(prober, found) if "tls13-order" in scope else None
        found_groups = None
        if "groups" in scope and 0x0304 in accepted:
            note("groups")
            found_groups = enum13.groups(prober, [s.id for s in TLS13_SUITES], pool)
    if any(v == 0x0304 for v in accepted) and "tls13-order" not in scope:
        not_tested.append("TLS 1.3: whether the server has its own preference among TLS 1.3 suites "
                          "(--enumerate-scope tls13-order)")
    if cancel.cancelled:
        not_tested.insert(0, "the rest: the enumeration was cancelled (Ctrl-C)")
    findings = tuple(enumeration_findings(versions, suites, orders))
    answer = Enumeration(spec.target, versions, suites, orders, tuple(not_tested), findings, prober.count,
                         (time.monotonic() - started) * 1000, concurrency, tuple(dict.fromkeys(prober.errors)),
                         len(SUITES), scope, found_groups)
    return Redactor.of(spec).value(answer)


def _offer(version: int) -> list[int]:
    return [s.id for s in TLS13_SUITES] if version == 0x0304 else [s.id for s in OFFER_ORDER]


def _eliminate(prober: _Prober, version: int, offer: list[int]) -> tuple[list[int], bool]:
    """Offer everything, note the suite chosen, offer the rest: the accepted suites, in the order
    the server chose them; and whether the search finished."""
    found: list[int] = []
    remaining = list(offer)
    while remaining:
        reply = prober.ask(version, remaining)
        if reply.kind == "budget":
            return found, False
        if reply.kind != "hello" or reply.version != version or reply.suite not in remaining:
            return found, reply.kind not in ("timeout", "error")
        found.append(reply.suite)
        remaining.remove(reply.suite)
    return found, True


def _server_order(prober: _Prober, version: int, found: list[int]) -> bool | None:
    """True when the server picks by its own order: the first choice offered last still wins."""
    if len(found) < 2:
        return None
    reply = prober.ask(version, [found[-1], found[0]])
    if reply.kind != "hello":
        return None
    return reply.suite == found[0]


def enumeration_findings(versions: dict, suites: dict, orders: dict) -> list[Finding]:
    out: list[Finding] = []
    old = [name for name in ("SSL 3.0", "TLS 1.0", "TLS 1.1") if versions.get(name)]
    if old:
        out.append(finding("weak-tls-version", f"The server accepts {', '.join(old)}", f"{', '.join(old)} {'is' if len(old) == 1 else 'are'} deprecated (RFC 8996; SSL 3.0 by "
                           "RFC 7568, POODLE): weak hashes and ciphers, and a client that can be pushed down to them "
                           "loses the protections of TLS 1.2 and 1.3.", "Disable them on the server (nginx ssl_protocols TLSv1.2 TLSv1.3;).", tuple(Evidence(v, "accepted") for v in old), severity="error" if "SSL 3.0" in old else "warning", stage="enumerate"))
    weak: dict[str, list[str]] = {}
    no_fs: dict[str, list[str]] = {}
    for version, items in suites.items():
        for s in items:
            if s.weaknesses:
                weak.setdefault(s.name, []).append(version)
            if not s.forward_secrecy:
                no_fs.setdefault(s.name, []).append(version)
    if weak:
        worst = any(any(w.startswith(("no encryption", "no authentication", "export")) for w in SUITES[_id(n)].weaknesses)
                    for n in weak)
        out.append(finding("weak-cipher", f"The server accepts {len(weak)} weak cipher suite(s)", "These suites are broken or too weak to protect the traffic: "
                           + "; ".join(f"{n} ({', '.join(SUITES[_id(n)].weaknesses)})" for n in list(weak)[:6])
                           + ("; ..." if len(weak) > 6 else "."), "Remove them from the server's cipher list (nginx ssl_ciphers; OpenSSL names such as "
                           "!RC4 !3DES !aNULL !eNULL !EXPORT !DES !MD5).", tuple(Evidence(n, f"accepted with {', '.join(v)}") for n, v in weak.items()), severity="error" if worst else "warning"))
    if no_fs:
        first = [items[0].name for v, items in suites.items() if items and orders.get(v) and
                 not items[0].forward_secrecy]
        title = f"{len(no_fs)} accepted suite(s) have no forward secrecy"
        if first:
            title += " (and the server prefers one)"
        out.append(finding("no-forward-secrecy", title, "With RSA key transport (or static DH) the session keys can be computed from the server's "
                           "private key: whoever records the traffic today and gets the key later reads it all.", "Prefer ECDHE/DHE suites and drop the RSA key-exchange ones (OpenSSL: !kRSA).", tuple(Evidence(n, f"accepted with {', '.join(v)}") for n, v in no_fs.items()), severity="warning"))
    return out


def _id(name: str) -> int:
    return next(k for k, s in SUITES.items() if s.name == name)


def enumeration_lines(e: Enumeration) -> list[str]:
    """What the server accepts, as the lines `probe --enumerate` prints and the workbench shows."""
    lines = [f"what the server accepts ({e.connections} connection(s) in {e.duration_ms / 1000:.2f} s, "
             f"concurrency {e.concurrency})"]
    if e.versions:
        words = {True: "yes", False: "no", None: "not tested"}
        lines.append("versions  " + ", ".join(f"{v} {words[ok]}" for v, ok in e.versions.items()))
    for version, suites in e.suites.items():
        order = e.server_order.get(version)
        how = {True: "in the server's order of preference", False: "in the client's order (the server has no "
               "preference of its own)", None: ""}[order]
        lines.append(f"{version:<9} {len(suites)} suite(s){', ' + how if how else ''}" + (":" if suites else ""))
        for i, s in enumerate(suites, 1):
            marks = ("FS" if s.forward_secrecy else "no FS") + ("  WEAK: " + "; ".join(s.weaknesses)
                                                                 if s.weaknesses else "")
            lines.append(f"  {i:>3}  {s.name:<46} {s.kx:<8} {s.auth:<6} {s.cipher:<18} {s.mac:<6} {marks}")
    from tlsbench.engine.tls.enum13 import group_lines

    lines += group_lines(e.groups)
    if e.not_tested:
        lines.append("not tested:")
        lines += [f"  - {visible(str(item), keep_newlines=False)}" for item in e.not_tested]
    return lines

"""The plan of a run: the stages a spec needs, in order, built once.

    resolve -> tcp -> [proxy tls] -> proxy ... -> [starttls] -> tls -> chain -> app [-> key-exchange] [-> revocation] [-> reconnect]
    resolve -> quic -> tcp -> proxy -> tls -> chain -> app        (--http3: QUIC first, then TCP+TLS)
    resolve -> quic -> [tcp, proxy, tls skipped] -> chain -> app  (--http3-only)

Every stage kind is declared once here (its JSON name, its label, whether it touches the wire,
where its code lives). `plan_for(spec)` lists the steps for one connection; the runner, the
CLI's waterfall, the workbench's rows and the JSON are all built from it. A direct connection
keeps one `proxy` step, skipped; a proxy chain has one `proxy` step per hop (and a `proxy-tls`
step before each HTTPS hop), each with its hop number. A first hop that a program makes (ssh://)
skips resolve and tcp: the program looks the proxy up and connects to it inside the proxy stage. `--starttls` adds a `starttls` step between
the route and the handshake; its app step then asks the protocol's capabilities again over TLS.

This module is light (no ssl, no sockets): front-ends import it to draw the rows.
"""

from typing import Literal, NamedTuple

from tlsbench.engine.hops.starttls.protocols import DIALOGUES
from tlsbench.engine.route.hostport import format_hostport
from tlsbench.engine.route.proxies import ProxySpec
from tlsbench.engine.spec import ConnectionSpec


# What a stage's exchange runs over: the run's byte stream (TCP, a proxy's tunnel, TLS over either),
# or datagrams (QUIC over UDP). See stream.py's Stream and Datagrams.
Transport = Literal["stream", "datagram"]


class StageKind(NamedTuple):
    name: str  # the JSON name
    label: str  # the row label a person reads
    impl: str  # "module:Class" implementing it (loaded by stages/contract.py's loader, before any clock)
    local: bool = False  # no wire exchange: its time is tlsbench's own work
    transport: Transport = "stream"


KINDS: dict[str, StageKind] = {k.name: k for k in (
    StageKind("resolve", "resolve", "tlsbench.engine.stages.resolve:ResolveStage"),
    StageKind("quic", "quic", "tlsbench.engine.stages.quic:QuicStage", transport="datagram"),
    StageKind("tcp", "tcp connect", "tlsbench.engine.stages.tcp:TcpStage"),
    StageKind("proxy-tls", "proxy tls", "tlsbench.engine.stages.tls:ProxyTlsStage"),
    StageKind("proxy", "proxy", "tlsbench.engine.hops:ProxyStage"),
    StageKind("starttls", "starttls", "tlsbench.engine.hops.starttls:StarttlsStage"),
    StageKind("tls", "tls handshake", "tlsbench.engine.stages.tls:TlsStage"),
    StageKind("chain", "cert chain", "tlsbench.engine.stages.chain:ChainStage", local=True),
    StageKind("app", "app", "tlsbench.engine.stages.app:AppStage"),
    StageKind("key-exchange", "key exchange", "tlsbench.engine.stages.keyexchange:KeyExchangeStage"),
    StageKind("revocation", "revocation", "tlsbench.engine.stages.revocation:RevocationStage"),
    StageKind("reconnect", "reconnect", "tlsbench.engine.stages.reconnect:ReconnectStage"),
    # Only inside the resolve stage, in a DNS-over-HTTPS lookup's own plan (engine/dns/doh.py).
    StageKind("doh", "DoH queries", "tlsbench.engine.stages.doh:DohStage"),
)}
STAGE_NAMES: tuple[str, ...] = tuple(KINDS)


class Step(NamedTuple):
    """One stage of one run."""

    kind: StageKind
    key: str  # unique in the plan: "proxy", or "proxy#2" and "proxy-tls#1" in a chain
    index: int | None = None  # type: ignore[assignment]  # hides tuple.index; the hop number (1 = first) for proxy and proxy-tls steps
    doing: str = ""  # what it does, in words: "connecting to 127.0.0.1:1080 (the proxy)"
    skip: str | None = None  # why the plan skips it, when it does
    hop: ProxySpec | None = None  # the proxy this step talks to
    label: str = ""  # the row label: the kind's, numbered in a chain ("proxy 2")
    # Its failure does not end the run: --http3's QUIC attempt, which TCP+TLS stands beside
    optional: bool = False

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def transport(self) -> Transport:
        return self.kind.transport


class Plan(NamedTuple):
    spec: ConnectionSpec
    steps: tuple[Step, ...]

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.steps)


def _step(name: str, key: str | None = None, index: int | None = None, numbered: bool = False, *,
          doing: str = "", skip: str | None = None, hop: ProxySpec | None = None, optional: bool = False) -> Step:
    kind = KINDS[name]
    label = f"{kind.label} {index}" if numbered else kind.label
    return Step(kind, key or (f"{name}#{index}" if numbered else name), index, doing=doing, skip=skip, hop=hop,
                label=label, optional=optional)


def _quic_step(spec: ConnectionSpec) -> Step | None:
    """--http3 / --http3-only: the QUIC attempt (skipped through a proxy, which carries TCP only)."""
    mode = spec.app.http3
    if mode == "off" or not spec.tls.enabled:
        return None
    if spec.proxies:
        kinds = ", ".join(dict.fromkeys(p.kind for p in spec.proxies))
        return _step("quic", skip=f"QUIC not attempted: the route goes through a proxy ({kinds}), and SOCKS and "
                                  "HTTP CONNECT carry TCP only; the TCP path runs instead")
    where = format_hostport(spec.pin or spec.host, spec.port)
    return _step("quic", doing=f"QUIC handshake with {where} over UDP (ALPN h3)", optional=mode == "race")


def plan_for(spec: ConnectionSpec) -> Plan:
    hops = spec.proxies
    first = hops[0] if hops else None
    look_up = first.host if first else (spec.pin or spec.host)
    where = format_hostport(first.host, first.port) + " (the proxy)" if first else format_hostport(
        spec.pin or spec.host, spec.port)
    program = first.declared.program if first else ""
    if program:
        # ssh looks the name up and connects by itself, inside the proxy stage: tlsbench does neither.
        assert first is not None
        steps = [_step("resolve", skip=f"{program} looks up {first.host} itself (proxy stage)"),
                 _step("tcp", skip=f"{program} connects to {first.address} itself (proxy stage)")]
    else:
        steps = [_step("resolve", doing=f"looking up {look_up}"), _step("tcp", doing=f"connecting to {where}")]
    quic = _quic_step(spec)
    quic_only = quic is not None and quic.skip is None and spec.app.http3 == "only"
    if quic is not None:
        steps.insert(1, quic)
    if quic_only:
        steps[2] = _step("tcp", skip="--http3-only: QUIC over UDP, no TCP")
    if not hops:
        steps.append(_step("proxy", skip="direct connection"))
    numbered = len(hops) > 1
    for number, hop in enumerate(hops, 1):
        nxt = hops[number] if number < len(hops) else None
        asked = nxt.address if nxt else spec.target
        if hop.declared.tls:
            steps.append(_step("proxy-tls", index=number, numbered=numbered, hop=hop,
                               doing=f"TLS to the proxy {hop.address}"))
        doing = (f"{hop.declared.program} to {hop.address}, -W {asked}" if hop.declared.program
                 else f"{hop.kind} request for {asked}")
        steps.append(_step("proxy", index=number, numbered=numbered, hop=hop, doing=doing))
    upgrade = spec.starttls.protocol if spec.tls.enabled else None
    if upgrade:
        steps.append(_step("starttls", doing=_starttls_doing(spec)))
    if quic_only:
        steps.append(_step("tls", skip="--http3-only: the TLS 1.3 handshake runs inside QUIC (quic stage)"))
        steps.append(_step("chain", doing="checking the certificate chain QUIC received"))
    elif spec.tls.enabled:
        sni = spec.sni
        steps.append(_step("tls", doing=f"TLS handshake (SNI {sni})" if sni else "TLS handshake (no SNI)"))
        steps.append(_step("chain", doing="checking the certificate chain"))
    else:
        steps.append(_step("tls", skip="plain TCP (TLS off)"))
        steps.append(_step("chain", skip="no TLS"))
    if quic is not None and quic.skip is None:
        steps.append(_step("app", doing=f"HTTP/3 GET {spec.app.path}" if quic_only
                           else f"HTTP GET {spec.app.path} over the first to connect (QUIC or TCP)"))
    elif spec.app.http:
        steps.append(_step("app", doing=f"HTTP GET {spec.app.path}"))
    elif spec.app.send is not None:
        steps.append(_step("app", doing="sending text"))
    elif upgrade and upgrade in DIALOGUES and not DIALOGUES[upgrade].asks_again:
        steps.append(_step("app", skip=f"{upgrade}: no capabilities to ask again over TLS"))
    elif upgrade:
        steps.append(_step("app", doing="asking the capabilities again over TLS"))
    elif spec.tls.enabled and "h2" in spec.tls.alpn:  # what was negotiated is said in HTTP/2's own frames
        steps.append(_step("app", doing="HTTP/2 preface and SETTINGS, if ALPN chooses h2"))
    else:
        steps.append(_step("app", skip="nothing to send after connecting"))
    # Only when asked for (a plan without them keeps its rows): --groups/--pq, --check-revocation, --reconnect.
    if spec.tls.enabled and spec.tls.groups:
        steps.append(_step("key-exchange", doing=f"TLS 1.3 hello of tlsbench's own offering {', '.join(spec.tls.groups)}"))
    if spec.tls.enabled and spec.tls.check_revocation:
        steps.append(_step("revocation", skip="--http3-only: the stapled-response check connects over TCP; run "
                                               "with --http3 to have it") if quic_only
                     else _step("revocation", doing="asking the leaf's OCSP responder / CRL distribution point"))
    if spec.tls.enabled and spec.tls.reconnect:
        steps.append(_step("reconnect", skip="--http3-only: no TCP session to offer again (QUIC resumption is "
                                              "not tried)") if quic_only
                     else _step("reconnect", doing="connecting again, offering the first session"))
    return Plan(spec, tuple(steps))


def _starttls_doing(spec: ConnectionSpec) -> str:
    upgrade = spec.starttls
    if upgrade.protocol == "auto":
        return "STARTTLS: reading the greeting to choose the protocol"
    declared = DIALOGUES.get(upgrade.protocol or "")
    if declared is not None and declared.says_name:
        return f"STARTTLS {upgrade.protocol} ({getattr(declared, 'ask', 'EHLO')} {upgrade.name})"
    return f"STARTTLS {upgrade.protocol}"

"""Short human descriptions of a profile (route, TLS settings) and its JSON form, for lists and `show`."""

from __future__ import annotations

from typing import Any

from tlsbench.engine.options import OPTIONS, values_of
from tlsbench.engine.route.proxies import describe
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.profiles.model import Profile, ProfileProblem

def route_text(spec: ConnectionSpec) -> str:
    """'direct', or each hop, e.g. 'SOCKS5 (remote DNS) 127.0.0.1:1080 as alice -> HTTP CONNECT
    10.0.0.1:3128', plus a pinned address and the local side."""
    route = " -> ".join(describe(hop) for hop in spec.proxies) or "direct"
    values = values_of(spec)
    extra = [f"{o.describe} {values[o.name]}" for o in OPTIONS
             if o.group in ("target", "local") and o.describe and values.get(o.name) not in (None, "", o.default)]
    return ", ".join([route] + extra)


def tls_text(spec: ConnectionSpec) -> str:
    tls = spec.tls
    if not tls.enabled:
        return "plain TCP (no TLS)"
    parts = []
    if spec.starttls.protocol:
        parts.append(f"STARTTLS {spec.starttls.protocol}")
    sni = spec.sni
    parts.append(f"SNI {sni}" if sni else "no SNI")
    if tls.min_version or tls.max_version:
        parts.append(f"TLS {tls.min_version or 'any'}..{tls.max_version or 'any'}")
    if tls.ciphers:
        parts.append(f"ciphers {tls.ciphers}")
    if tls.alpn:
        parts.append("ALPN " + ",".join(tls.alpn))
    parts.append({"system": "verify with the system store", "cafile": f"verify with {tls.cafile}",
                  "off": "NO verification"}[tls.verify])
    if tls.cert:
        parts.append(f"client cert {tls.cert}")
    return "TLS, " + ", ".join(parts)


def summary_lines(profile: Profile) -> list[str]:
    spec = profile.spec
    lines = [f"profile   {profile.name}"]
    if profile.description:
        lines.append(f"about     {profile.description}")
    if profile.unavailable:
        lines.append(f"status    not running: {profile.unavailable}")
    lines.append(f"target    {spec.target}")
    lines.append(f"route     {route_text(spec)}")
    for hop in spec.proxies:
        if not hop.username:
            continue
        whose = f" ({hop.address})" if len(spec.proxies) > 1 else ""
        if hop.password_env:
            state = "set" if hop.password is not None else "not set: asked at run time"
            lines.append(f"password  from ${hop.password_env} ({state}){whose}")
        else:
            lines.append(f"password  asked at run time{whose}")
    if profile.password_note:
        lines.append(f"password  {profile.password_note}")
    lines.append(f"tls       {tls_text(spec)}")
    if spec.dns.decides:  # tlsbench's own DNS servers (else the system resolver)
        unverified = " (their certificates not verified)" if spec.dns.doh_insecure else ""
        lines.append(f"dns       {', '.join(spec.dns.decides)}{unverified}")
    if spec.app.http:
        lines.append(f"app       HTTP GET {spec.app.path}")
    elif spec.app.send is not None:
        lines.append(f"app       send {spec.app.send!r}")
    lines.append(f"timeout   {spec.timeout:g} s per stage")
    if profile.path is not None:
        lines.append(f"file      {profile.path}")
    return lines


def profile_json(profile: Profile) -> dict[str, Any]:
    """A JSON-ready dict; the password itself is never included, only the variable's name."""
    from tlsbench.profiles.codec import profile_to_data

    return {
        "name": profile.name,
        "description": profile.description,
        "target": profile.spec.target,
        "route": route_text(profile.spec),
        "tls": tls_text(profile.spec),
        "path": str(profile.path) if profile.path else None,
        "settings": profile_to_data(profile),
        "ignored": profile.password_note,  # a password written into the file by hand: never read
    }


def problem_json(problem: ProfileProblem) -> dict[str, Any]:
    return {"path": str(problem.path), "line": problem.line, "message": problem.message}

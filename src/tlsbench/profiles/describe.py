"""Short human descriptions of a profile (route, TLS settings) and its JSON form, for lists and `show`."""

from __future__ import annotations

from typing import Any

from tlsbench.engine.spec import ConnectionSpec, format_hostport
from tlsbench.profiles.model import Profile, ProfileProblem

_PROXY_NAMES = {"socks4": "SOCKS4", "socks4a": "SOCKS4a", "socks5": "SOCKS5", "socks5h": "SOCKS5 (remote DNS)"}


def route_text(spec: ConnectionSpec) -> str:
    """'direct' or e.g. 'SOCKS5 (remote DNS) via 127.0.0.1:1080 as alice', plus a pinned address."""
    if spec.proxy is None:
        route = "direct"
    else:
        route = f"{_PROXY_NAMES.get(spec.proxy.kind, spec.proxy.kind)} via " \
                f"{format_hostport(spec.proxy.host, spec.proxy.port)}"
        if spec.proxy.username:
            route += f" as {spec.proxy.username}"
    if spec.pin:
        route += f", pinned to {spec.pin}"
    return route


def tls_text(spec: ConnectionSpec) -> str:
    tls = spec.tls
    if not tls.enabled:
        return "plain TCP (no TLS)"
    parts = []
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
    lines.append(f"target    {spec.target}")
    lines.append(f"route     {route_text(spec)}")
    if spec.proxy is not None and spec.proxy.username:
        if spec.proxy.password_env:
            state = "set" if spec.proxy.password is not None else "not set: asked at run time"
            lines.append(f"password  from ${spec.proxy.password_env} ({state})")
        else:
            lines.append("password  asked at run time")
    lines.append(f"tls       {tls_text(spec)}")
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
    }


def problem_json(problem: ProfileProblem) -> dict[str, Any]:
    return {"path": str(problem.path), "line": problem.line, "message": problem.message}

"""How `tlsbench probe --enumerate` shows what the server accepts (engine/enumeration.py)."""

from __future__ import annotations

from tlsbench.commands.probe_output import one_line


def enumeration_lines(e) -> list[str]:
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
    if e.not_tested:
        lines.append("not tested:")
        lines += [f"  - {one_line(item)}" for item in e.not_tested]
    return lines

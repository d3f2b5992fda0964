"""The certificate chain as a tree: leaf first, each certificate expandable to its fields."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from tlsbench.tui.safe_text import data, field, line


def _status(cert) -> Text:
    if cert.verified is True and cert.status in ("", "ok"):
        return Text("✔ verified", style="green")
    if cert.verified is None and cert.status in ("", "ok", "not checked", "unchecked"):
        return Text("· not checked", style="yellow")
    if cert.status and cert.status != "ok":
        return data(f"✘ {cert.status}", "bold red")
    if cert.verified is False:
        return Text("✘ not verified", style="bold red")
    return Text("· not checked", style="yellow")


def _role(cert, count: int) -> str:
    if cert.position == 0:
        return "leaf"
    if cert.self_signed:
        return "root"
    return "intermediate" if cert.position < count else "ca"


def split_dn(dn: str) -> list[str]:
    """RFC 4514 components of a distinguished name (commas escaped as '\\,' stay inside a value)."""
    parts, current, escaped = [], [], False
    for ch in dn:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p]


def common_name(dn: str) -> str:
    cn = [p[3:] for p in split_dn(dn) if p.upper().startswith("CN=")]
    return cn[-1] if cn else dn


def _add_dn(node, label: str, dn: str) -> None:
    parts = split_dn(dn)
    if len(parts) <= 1:
        node.add_leaf(field(label, dn))
        return
    branch = node.add(field(label, f"{len(parts)} parts"), expand=True)
    for part in parts:
        branch.add_leaf(data(part, keep_newlines=False))


def _validity(cert) -> Text:
    days = cert.days_left
    style = "red" if days < 0 else ("yellow" if days < 30 else "green")
    return line(("validity".ljust(14), "dim"), (f"{cert.not_before} → {cert.not_after}  ", ""), (cert.lifetime, style))


class ChainTree(Tree):
    """Shows a ChainDetail; labels are Text built from literal, visible strings."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("no certificate yet"), id=id)
        self.show_root = True
        self.guide_depth = 3

    def clear_chain(self, note: str = "no certificate yet") -> None:
        self.clear()
        self.root.set_label(Text(note, style="dim"))

    def show_chain(self, chain) -> None:
        self.clear()
        certs = chain.certificates
        if not certs:
            self.root.set_label(Text("the peer sent no certificate", style="dim"))
            return
        verdict = {True: ("✔ verified", "bold green"), False: ("✘ NOT verified", "bold red"),
                   None: ("· verification off", "bold yellow")}[chain.verified]
        root = line(verdict, (f" · {len(certs)} sent, leaf first", "dim"))
        if chain.verify_code is not None:
            root.append_text(data(f" ({chain.verify_code}: {chain.verify_message or ''})", "red"))
        self.root.set_label(root)
        for cert in certs:
            label = line((f"#{cert.position} {_role(cert, len(certs)):<12} ", "bold"), _status(cert),
                         ("  ", ""), (common_name(cert.subject), ""))
            node = self.root.add(label, expand=False)
            _add_dn(node, "subject", cert.subject)
            _add_dn(node, "issuer", cert.issuer)
            if cert.sans:
                sans = node.add(line(("SANs".ljust(14), "dim"), (f"{len(cert.sans)} name(s)", "")), expand=True)
                for san in cert.sans:
                    sans.add_leaf(data(san))
            node.add_leaf(_validity(cert))
            bits = f" {cert.key_bits} bits" if cert.key_bits else ""
            node.add_leaf(field("key", f"{cert.key_type}{bits}"))
            node.add_leaf(field("signature", cert.signature_algorithm))
            node.add_leaf(field("serial", cert.serial))
            node.add_leaf(field("sha256", cert.sha256))
            flags = ", ".join(w for w, on in (("CA", cert.is_ca), ("self-signed", cert.self_signed)) if on)
            node.add_leaf(field("flags", flags or "end entity"))
            node.add_leaf(line(("status".ljust(14), "dim"), _status(cert)))
            if cert.position == 0 and chain.hostname is not None:
                match = {True: ("✔ matches", "green"), False: ("✘ does NOT match", "bold red"),
                         None: ("· not checked", "yellow")}[chain.hostname_match]
                node.add_leaf(line(("hostname".ljust(14), "dim"), (chain.hostname, ""), (" ", ""), match))
        self.root.expand()

    def expand_all_certs(self) -> None:
        for node in self.root.children:
            node.expand()


"""The certificate chain as a tree: leaf first, each certificate expandable to its fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Tree

from tlsbench.tui.actions import bindings
from tlsbench.tui.safe_text import data, field, line

if TYPE_CHECKING:
    from tlsbench.engine.records.details import ChainDetail


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


def _add_validity(node, cert) -> None:
    """How long it is valid, then the two dates on lines of their own: none is cut at 80 columns."""
    days = cert.days_left
    style = "red" if days < 0 else ("yellow" if days < 30 else "green")
    branch = node.add(line(("validity".ljust(14), "dim"), (cert.lifetime, style)), expand=True)
    branch.add_leaf(field("not before", cert.not_before, width=11))
    branch.add_leaf(field("not after", cert.not_after, width=11))


def _add_fields(node, cert, chain=None) -> None:
    """A certificate's fields under its node."""
    _add_dn(node, "subject", cert.subject)
    _add_dn(node, "issuer", cert.issuer)
    if cert.sans:
        sans = node.add(line(("SANs".ljust(14), "dim"), (f"{len(cert.sans)} name(s)", "")), expand=True)
        for san in cert.sans:
            sans.add_leaf(data(san))
    _add_validity(node, cert)
    bits = f" {cert.key_bits} bits" if cert.key_bits else ""
    node.add_leaf(field("key", f"{cert.key_type}{bits}"))
    node.add_leaf(field("signature", cert.signature_algorithm))
    node.add_leaf(field("serial", cert.serial))
    node.add_leaf(field("sha256", cert.sha256))
    if cert.pin_sha256:  # curl --pinnedpubkey's form; absent from run files saved before it was kept
        node.add_leaf(field("pin-sha256", cert.pin_sha256))
    flags = ", ".join(w for w, on in (("CA", cert.is_ca), ("self-signed", cert.self_signed)) if on)
    node.add_leaf(field("flags", flags or "end entity"))
    node.add_leaf(line(("status".ljust(14), "dim"), _status(cert)))


def _add_scts(node, scts) -> None:
    """The leaf's embedded certificate transparency timestamps (log ID, time)."""
    if not scts:
        node.add_leaf(field("CT", "no embedded SCTs"))
        return
    branch = node.add(field("CT", f"{len(scts)} embedded SCT(s)"), expand=False)
    for sct in scts:
        branch.add_leaf(line(("log ", "dim"), (sct.log_id, ""), ("  at ", "dim"), (sct.timestamp, "")))


def _add_verified_path(root, chain) -> None:
    """The path OpenSSL verified, leaf first, up to the trust anchor and where that came from."""
    path = chain.verified_path
    if not path:
        return
    anchor = path[-1]
    head = line(("verified path ", "bold"), (f"{len(path)} certificate(s), up to ", "dim"),
                (common_name(anchor.subject), "bold green"))
    branch = root.add(head, expand=True, data=chain)
    for cert in path:
        where = ("⚓ trust anchor", "bold green") if cert.anchor else (("sent", "dim") if cert.sent
                                                                    else ("from the trust store", "yellow"))
        node = branch.add(line((f"#{cert.position} ", "bold"), where, ("  ", ""), (common_name(cert.subject), "")),
                          expand=False, data=cert)
        if cert.anchor:
            node.add_leaf(field("from", chain.anchor_source or "the trust store"))
            node.add_leaf(field("sent", "also by the server" if cert.sent else "no (the server sent the rest)"))
        _add_fields(node, cert)


def _file_stem(cert) -> str:
    name = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in common_name(cert.subject))[:40]
    return f"{name.strip('-.') or 'certificate'}-{cert.sha256.replace(':', '')[:8].lower()}"


def save_new_file(directory, stem: str, text: str):
    """Write `text` to a new file `stem.pem` (or `stem-2.pem`, ...) in `directory`; never over a file."""
    import os
    from pathlib import Path

    for n in range(1, 100):
        path = Path(directory) / (f"{stem}.pem" if n == 1 else f"{stem}-{n}.pem")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return path
    raise OSError(f"no free file name for {stem}.pem in {directory}")


class ChainTree(Tree):
    """Shows a ChainDetail; labels are Text built from literal, visible strings.

    c copies the selected certificate as PEM (the whole chain when no certificate is selected),
    C the whole chain; s and S save them to a new file in the current directory.
    """

    BINDINGS = bindings("chain-tree")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("no certificate yet"), id=id)
        self.show_root = True
        self.guide_depth = 3
        self.chain: ChainDetail | None = None

    def _selected_cert(self):
        node = self.cursor_node
        while node is not None:
            if hasattr(node.data, "pem") and hasattr(node.data, "sha256"):
                return node.data
            node = node.parent
        return None

    def _chain_text(self) -> str:
        from tlsbench.engine.certs.chainpem import chain_pem

        return chain_pem(self.chain) if self.chain is not None and self.chain.certificates else ""

    def _cert_text(self, cert) -> str:
        from tlsbench.engine.certs.chainpem import cert_block

        return cert_block(cert, "trust anchor" if cert.anchor else ("sent by the server" if cert.sent else
                                                                      "from the trust store"))

    def action_copy_cert(self) -> None:
        cert = self._selected_cert()
        if cert is None:
            self.action_copy_chain()
            return
        self.app.copy_to_clipboard(self._cert_text(cert))
        self.app.notify(f"copied certificate #{cert.position} ({common_name(cert.subject)}) as PEM",
                        markup=False)

    def action_copy_chain(self) -> None:
        text = self._chain_text()
        if not text:
            self.app.notify("no certificate to copy", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.app.notify(f"copied the chain ({text.count('BEGIN CERTIFICATE')} certificates) as PEM")

    def _save(self, stem: str, text: str) -> None:
        import os

        try:
            path = save_new_file(os.getcwd(), stem, text)
        except OSError as exc:
            self.app.notify(f"could not save: {exc}", severity="error", markup=False)
            return
        self.app.notify(f"saved {path}", markup=False)

    def action_save_cert(self) -> None:
        cert = self._selected_cert()
        if cert is None:
            self.action_save_chain()
            return
        self._save(_file_stem(cert), self._cert_text(cert))

    def action_save_chain(self) -> None:
        text = self._chain_text()
        if not text:
            self.app.notify("no certificate to save", severity="warning")
            return
        assert self.chain is not None  # the text came from it
        self._save(_file_stem(self.chain.certificates[0]) + "-chain", text)

    def clear_chain(self, note: str = "no certificate yet") -> None:
        self.chain = None
        self.clear()
        self.root.set_label(Text(note, style="dim"))

    def show_chain(self, chain) -> None:
        self.clear()
        self.chain = chain
        certs = chain.certificates
        if not certs:
            self.root.set_label(Text("the peer sent no certificate", style="dim"))
            return
        verdict = {True: ("✔ verified", "bold green"), False: ("✘ NOT verified", "bold red"),
                   None: ("· verification off", "bold yellow")}[chain.verified]
        self.root.set_label(line(verdict, (f" · {len(certs)} sent, leaf first", "dim")))
        if chain.verify_code is not None:  # on a line of its own: the reason is read whole
            self.root.add_leaf(line(("reason".ljust(14), "dim"),
                                    (f"({chain.verify_code}: {chain.verify_message or ''})", "red")))
        for cert in certs:
            label = line((f"#{cert.position} {_role(cert, len(certs)):<12} ", "bold"), _status(cert),
                         ("  ", ""), (common_name(cert.subject), ""))
            node = self.root.add(label, expand=False, data=cert)
            _add_fields(node, cert)
            if cert.position == 0:
                _add_scts(node, getattr(chain, "scts", ()))
            if cert.position == 0 and chain.hostname is not None:
                match = {True: ("✔ matches", "green"), False: ("✘ does NOT match", "bold red"),
                         None: ("· not checked", "yellow")}[chain.hostname_match]
                node.add_leaf(line(("hostname".ljust(14), "dim"), (chain.hostname, ""), (" ", ""), match))
        _add_verified_path(self.root, chain)
        self.root.expand()

    def expand_all_certs(self) -> None:
        for node in self.root.children:
            node.expand()


"""A chain as PEM text (`--showcerts`, `--save-chain FILE`, the workbench's copy and save).

The certificates the server sent, leaf first, then — when verification succeeded and the server
did not send it — the trust anchor the verified path ended at. Each PEM block is preceded by
s_client-style lines (` 0 s:SUBJECT`, `   i:ISSUER`, where it came from) which PEM readers
(OpenSSL, cryptography) skip; names from the certificate are made visible there, so a hostile
subject cannot add lines of its own to the file.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tlsbench.visible import visible

if TYPE_CHECKING:
    from tlsbench.engine.records.details import CertInfo, ChainDetail

MAX_CHAIN_FILE = 1 << 20


def _one(text: str) -> str:
    return visible(text, keep_newlines=False)


def cert_block(info: CertInfo, label: str) -> str:
    """One certificate: its header lines and its PEM."""
    head = f"{info.position:>2} s:{_one(info.subject)}\n   i:{_one(info.issuer)}\n   {label}\n"
    return head + info.pem


def export_certs(chain: ChainDetail) -> list[tuple[CertInfo, str]]:
    """(CertInfo, where it came from) for what --showcerts shows: the certificates sent, then the
    trust anchor when it was not sent."""
    out: list[tuple[CertInfo, str]] = [(c, "sent by the server") for c in chain.certificates]
    path = chain.verified_path
    if path and not path[-1].sent:
        anchor = path[-1]
        out.append((anchor, f"trust anchor from the {chain.anchor_source or 'trust store'} (not sent)"))
    elif path:
        out = [(c, w + (" (the trust anchor)" if c.pem == path[-1].pem else "")) for c, w in out]
    return out


def chain_pem(chain: ChainDetail) -> str:
    """The whole chain as one PEM text (see the module docstring)."""
    return "".join(cert_block(info, label) for info, label in export_certs(chain))


def _is_pem_or_empty(existing: bytes) -> str | None:
    if not existing.strip() or b"-----BEGIN CERTIFICATE-----" in existing:
        return None
    return "holds no PEM certificate"


def check_chain_file(path: str) -> None:
    """Before a run: refuse a path that cannot take a chain (InputError, one line): a directory,
    a FIFO or device, a file that is not a PEM certificate file (it would be lost), a missing folder."""
    from tlsbench.safe_files import check_replaceable

    check_replaceable(path, accept=_is_pem_or_empty, limit=MAX_CHAIN_FILE, what="certificate file",
                      field="save_chain")


def save_chain(path: str, text: str) -> str:
    """Write the chain to `path` atomically (only over a PEM file or an empty one); the path written."""
    from tlsbench.safe_files import replace_checked

    written = replace_checked(os.path.expanduser(path), lambda _old: text.encode("ascii", "replace"),
                              accept=_is_pem_or_empty, limit=MAX_CHAIN_FILE, what="certificate file", mode=0o644)
    return str(written)

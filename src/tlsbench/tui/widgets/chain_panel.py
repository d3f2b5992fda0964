"""The "Certificate chain" panel: a one-line note until the first chain arrives, then its tree.

The tree (tui.widgets.chain_tree) is imported and built then: it is not needed for the first
screen, and Tree is one of the heavier widgets to import and draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

if TYPE_CHECKING:
    from tlsbench.tui.widgets.chain_tree import ChainTree


class ChainPanel(Vertical, can_focus=True):
    """The "Certificate chain" panel: a note, or the chain's tree once there has been one.

    Focusable only while it shows the note (so that key 2 has somewhere to go); then the tree is."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chain_tree: ChainTree | None = None  # once there has been a chain
        self.note = "no certificate yet"

    def compose(self) -> ComposeResult:
        yield Static(Text(self.note, style="dim"), id="chain-note")

    def on_mount(self) -> None:
        self.border_title = "Certificate chain"

    def _ensure_tree(self):
        if self.chain_tree is None:
            from tlsbench.tui.widgets.chain_tree import ChainTree

            self.chain_tree = ChainTree(id="chain-tree")
            self.can_focus = False  # the tree takes the focus from now on
            self.query_one("#chain-note").display = False
            self.mount(self.chain_tree)
        return self.chain_tree

    def clear_chain(self, note: str = "no certificate yet") -> None:
        self.note = note
        if self.chain_tree is None:
            self.query_one("#chain-note", Static).update(Text(note, style="dim"))
        else:
            self.chain_tree.clear_chain(note)

    def show_chain(self, chain) -> None:
        self.note = ""
        self._ensure_tree().show_chain(chain)

    def expand_all_certs(self) -> None:
        if self.chain_tree is not None:
            self.chain_tree.expand_all_certs()

    def label(self) -> str:
        """What the panel says at its top: the note, or the tree's root line."""
        return str(self.chain_tree.root.label) if self.chain_tree is not None else self.note  # a Text: its plain text

    def focus_target(self):
        return self.chain_tree if self.chain_tree is not None else self

"""Make untrusted text safe to show (defined in tlsbench/visible.py, below the engine, so the file
helpers beside it can use it too)."""

from __future__ import annotations

from tlsbench.visible import hexdump, is_hidden, visible, visible_bytes

__all__ = ["hexdump", "is_hidden", "visible", "visible_bytes"]

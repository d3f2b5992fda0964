"""Error types shared by the engine and its front-ends (defined in tlsbench/errors.py, below the
engine, so the file helpers beside it can raise them too)."""

from __future__ import annotations

from tlsbench.errors import Cancelled, InputError, TlsbenchError

__all__ = ["Cancelled", "InputError", "TlsbenchError"]

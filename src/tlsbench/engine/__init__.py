"""The connection engine: a validated spec goes in, typed immutable events come out.

Nothing in this package imports Textual (a test enforces it); the CLI and the TUI are
thin front-ends over the events defined in `events.py`.
"""

import warnings as _warnings

# cryptography warns (on stderr, once per call site) when a certificate's serial number is not
# positive. That is the peer's doing and a fact about its bytes: the chain stage reports it as the
# finding `cert-negative-serial` (engine/certs/serials.py), so the library's own line is not printed.
# (Its words: "Parsed a serial number which wasn't positive" today, "Parsed a negative serial number" before.)
_warnings.filterwarnings("ignore", message=r"Parsed a (negative serial number|serial number which wasn't positive)")

"""JSON as tlsbench writes it: always valid JSON (RFC 8259), never `Infinity` or `NaN`.

Python's json module writes a float infinity or NaN as the bare words `Infinity`/`NaN`, which no
strict parser reads. Every writer goes through `dumps()`: such a number becomes `null`
(it can only come from a file someone edited, e.g. `1e99999` in a run file, never from a
measurement), and `allow_nan=False` makes any that slipped through an error, not bad output.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every float that JSON cannot hold (inf, -inf, nan) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """json.dumps of `value` with non-finite numbers as null. Written directly when every number is
    finite (always, for a run's own measurements); only a value holding inf or nan is walked first."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False, **options)

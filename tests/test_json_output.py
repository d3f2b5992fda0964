"""Every JSON tlsbench writes is JSON a strict parser reads: a number JSON cannot hold (a run file
edited to say 1e99999, which Python reads as infinity) is written as null, never `Infinity`/`NaN`."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from tlsbench.engine.records import jsonout


def _strict(text: str):
    """json.loads that refuses the non-standard Infinity/-Infinity/NaN."""
    def refuse(word: str):
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_show_json_of_a_run_file_holding_1e99999_is_strict_json(closed_port, tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")},
           "TLSBENCH_CONFIG_DIR": str(tmp_path / "cfg"), "TLSBENCH_DATA_DIR": str(tmp_path / "data")}
    saved = tmp_path / "run.json"
    probe = subprocess.run([sys.executable, "-m", "tlsbench", "probe", closed_port.address, "--no-tls",
                            "--save-run", str(saved)], capture_output=True, text=True, env=env, timeout=60)
    assert probe.returncode == 1 and saved.exists(), probe.stderr
    text = saved.read_text()
    edited, count = re.subn(r'"total_ms": [0-9.]+', '"total_ms": 1e99999', text)
    edited, more = re.subn(r'"duration_ms": [0-9.]+', '"duration_ms": -1e99999', edited, count=1)
    assert count and more
    saved.write_text(edited)
    for extra in ([], ["--msg"]):
        shown = subprocess.run([sys.executable, "-m", "tlsbench", "show", str(saved), "--json", *extra],
                               capture_output=True, text=True, env=env, timeout=60)
        assert "Traceback" not in shown.stderr
        if shown.returncode == 2:  # a reader that refuses such a file says so in one line
            assert shown.stdout == "" and len(shown.stderr.strip().splitlines()) == 1
            continue
        assert shown.returncode == 1, shown.stderr
        assert "Infinity" not in shown.stdout and "NaN" not in shown.stdout
        data = _strict(shown.stdout)
        assert data["total_ms"] is None


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                max_size=4)))
def test_every_value_is_written_as_strict_json(value):
    """Any value: strict JSON comes out, the same value back but for inf/nan, which are null."""
    assert _strict(jsonout.dumps(value)) == jsonout.finite(value)
    if isinstance(value, float) and not math.isfinite(value):
        assert jsonout.finite(value) is None

"""Profiles, the state file and settings.toml read from any bytes, by property: a problem (one line
naming the file) or a value, never another exception — a 4300-digit number, a NUL, a deep array, a
key where a table should be."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tlsbench.history.settings import HistorySettings, SettingsError, load_history_settings
from tlsbench.profiles.model import Profile, ProfileProblem
from tlsbench.profiles.store import ProfileStore

SETTINGS = settings(max_examples=int(os.environ.get("TLSBENCH_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
GOOD = ('description = "d"\nhost = "www.lab.test"\nport = 443\ntimeout = 5.0\n\n[[proxy]]\ntype = "socks5"\n'
        'host = "127.0.0.1"\nport = 1080\nuser = "alice"\npassword_env = "PW"\n\n[tls]\nsni = "override"\n'
        'sni_name = "x"\nalpn = ["h2"]\nverify = "off"\n\n[app]\nhttp = true\npath = "/"\n')
PIECES = ["[", "]", "{", "}", "=", ".", ",", '"', "'", '"""', "#", "\n", "\x00", "\xff", "1" * 4400, "inf", "nan",
          "[proxy]", "[[proxy]]", "a.b.c = 1", "x = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
          "1979-05-27T07:32:00Z", "-1", "0x7fffffffffffffff", "true", "password = 'pw'"]


@st.composite
def edited_profiles(draw) -> bytes:
    text = GOOD
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(PIECES)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 6)):]
    return text.encode("utf-8", "surrogatepass")


@SETTINGS
@given(st.one_of(edited_profiles(), st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
@example(b'host = "h"\nport = ' + b"1" * 5000)
@example(b"x = " + b"[" * 5000)
@example(GOOD.encode())
def test_a_profile_from_any_bytes_is_a_profile_or_one_problem(raw):
    with tempfile.TemporaryDirectory() as root:
        store = ProfileStore(Path(root))
        path = store.profiles_dir / "p.toml"
        result = store._load_text("p", path, raw)
        assert isinstance(result, (Profile, ProfileProblem))
        if isinstance(result, ProfileProblem):
            assert result.path == path and "\n" not in result.message
        path.parent.mkdir(parents=True)
        path.write_bytes(raw)
        store.state_path.write_bytes(raw)
        report = store.load_all()
        assert len(report.profiles) + len(report.problems) == 1
        store.last_used()  # the state file: a name or None


@SETTINGS
@given(st.one_of(edited_profiles().map(lambda raw: raw.replace(b"[[proxy]]", b"[history]")),
                 st.binary(max_size=200)))
@example(b"[history]\nkeep = " + b"9" * 5000)
@example(b"[history]\nkeep = 1e999\n")
def test_settings_from_any_bytes_are_settings_or_one_line(raw):
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "settings.toml").write_bytes(raw)
        try:
            assert isinstance(load_history_settings(Path(root)), HistorySettings)
        except SettingsError as exc:
            assert "\n" not in str(exc) and "settings.toml" in str(exc)

"""Config and data directories: environment overrides, private creation, and profile-file line finding."""

from __future__ import annotations

import stat

from tlsbench import locations
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.codec import find_key_line
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore


def test_env_overrides_and_private_creation(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSBENCH_CONFIG_DIR", str(tmp_path / "cfg" / "deeper"))
    monkeypatch.setenv("TLSBENCH_DATA_DIR", str(tmp_path / "data"))
    config, data = locations.config_dir(), locations.data_dir()
    assert config == tmp_path / "cfg" / "deeper" and data == tmp_path / "data"
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_without_env_platformdirs_is_used(monkeypatch):
    import platformdirs

    monkeypatch.delenv("TLSBENCH_CONFIG_DIR", raising=False)
    assert locations.config_dir(create=False) == platformdirs.user_config_path("tlsbench")


def test_default_store_uses_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSBENCH_CONFIG_DIR", str(tmp_path / "c"))
    path = ProfileStore().save(Profile("one", build_spec("www.lab.test:443")))
    assert path == tmp_path / "c" / "profiles" / "one.toml"


def test_find_key_line_handles_tables_dotted_and_quoted_keys():
    text = ('host = "a"\n"port" = 1\ntls.alpn = ["h2"]\n\n[ proxy ]  # mine\nport = 2\n'
            '[app]\nhttp = true\n')
    assert find_key_line(text, "", "port") == 2
    assert find_key_line(text, "tls", "alpn") == 3
    assert find_key_line(text, "proxy", "port") == 6
    assert find_key_line(text, "proxy", None) == 5
    assert find_key_line(text, "app", "send") == 7  # missing key: the table's header
    assert find_key_line(text, "", "pin") is None


def test_inline_table_problem_points_at_its_line(tmp_path):
    store = ProfileStore(tmp_path)
    store.profiles_dir.mkdir(parents=True)
    (store.profiles_dir / "x.toml").write_text('host = "a.test"\nport = 1\nproxy = { type = "socks5" }\n')
    (problem,) = store.load_all().problems
    assert problem.line == 3 and "host is missing in [proxy]" in problem.message


def test_user_without_password_env_is_kept_as_written(tmp_path):
    store = ProfileStore(tmp_path)
    store.profiles_dir.mkdir(parents=True)
    text = 'host = "a.test"\nport = 1\n\n[proxy]\ntype = "socks5"\nhost = "127.0.0.1"\nport = 1080\nuser = "bob"\n'
    path = store.profiles_dir / "p.toml"
    path.write_text(text)
    profile = store.get("p")
    assert profile.spec.proxy.password_env == "TLSBENCH_PROXY_PASSWORD"
    store.save(profile)
    assert path.read_text() == text

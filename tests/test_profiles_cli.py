"""`tlsbench profiles list|show|delete` run as a real subprocess against a temporary config directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore


@pytest.fixture
def config(tmp_path) -> Path:
    root = tmp_path / "config"
    store = ProfileStore(root)
    store.save(Profile("direct-lab", build_spec("www.lab.test:8443", pin="127.0.0.1"), "the lab server"))
    store.save(Profile("via-socks", build_spec("www.lab.test:443", proxies=["socks5h://127.0.0.1:1080"],
                                               proxy_user="alice", proxy_password_env="LAB_PW",
                                               environ={"LAB_PW": "pw"})))
    return root


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")}
    environ.update(env or {}, TLSBENCH_CONFIG_DIR=str(config))
    return subprocess.run([sys.executable, "-m", "tlsbench", "profiles", *args], capture_output=True, text=True,
                          env=environ, timeout=60)


def test_list_one_line_each(config):
    result = run(config, "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:2] == ["direct-lab", "www.lab.test:8443"]
    assert "direct, pinned to 127.0.0.1" in lines[0]
    assert lines[1].split()[:2] == ["via-socks", "www.lab.test:443"]
    assert "SOCKS5 (remote DNS) 127.0.0.1:1080 as alice" in lines[1]
    assert result.stderr == ""


def test_list_reports_problems_on_stderr_and_still_lists(config):
    broken = config / "profiles" / "broken.toml"
    broken.write_text('host = "x.test"\nport = 70000\n')
    result = run(config, "list")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2
    assert f"{broken}:2: port 70000 is out of range" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_exit_1_when_every_file_is_broken(tmp_path):
    root = tmp_path / "c"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "only.toml").write_text("host = \n")
    result = run(root, "list")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "only.toml:1:" in result.stderr


def test_list_empty_config_is_fine(tmp_path):
    result = run(tmp_path / "nothing-here", "list")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_list_json(config):
    (config / "profiles" / "bad.toml").write_text("port = [\n")
    ProfileStore(config).set_last_used("via-socks")
    result = run(config, "list", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert [p["name"] for p in data["profiles"]] == ["direct-lab", "via-socks"]
    assert data["profiles"][1]["settings"]["proxy"] == {"type": "socks5h", "host": "127.0.0.1", "port": 1080,
                                                         "user": "alice", "password_env": "LAB_PW"}
    assert data["problems"][0]["path"].endswith("bad.toml") and data["problems"][0]["line"] == 1
    assert data["last_used"] == "via-socks"


def test_show_prints_the_file_and_a_summary(config):
    result = run(config, "show", "via-socks", env={"LAB_PW": "secret-value"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'password_env = "LAB_PW"' in out
    assert "route     SOCKS5 (remote DNS) 127.0.0.1:1080 as alice" in out
    assert "password  from $LAB_PW (set)" in out
    assert "secret-value" not in out
    unset = run(config, "show", "via-socks")
    assert "password  from $LAB_PW (not set: asked at run time)" in unset.stdout


def test_show_json(config):
    result = run(config, "show", "direct-lab", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["name"] == "direct-lab" and data["description"] == "the lab server"
    assert data["settings"]["pin"] == "127.0.0.1"
    assert data["toml"] == (config / "profiles" / "direct-lab.toml").read_text()


@pytest.mark.parametrize("args, words", [
    (("show", "missing"), "no profile named 'missing'"),
    (("show", "../x"), "profile name '../x' is not allowed"),
    (("delete", "missing"), "no profile named 'missing'"),
    (("frobnicate",), "invalid choice"),
    ((), "expected list, show NAME or delete NAME"),
    (("show",), "required"),
])
def test_bad_input_is_one_line_and_exit_2(config, args, words):
    result = run(config, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert words in result.stderr


def test_show_broken_profile_names_file_and_line(config):
    path = config / "profiles" / "broken.toml"
    path.write_bytes(b"# mine\nhost = 'x\n")
    result = run(config, "show", "broken")
    assert result.returncode == 2
    assert f"{path}:2:" in result.stderr and len(result.stderr.splitlines()) == 1
    assert path.read_bytes() == b"# mine\nhost = 'x\n"


def test_delete(config):
    result = run(config, "delete", "direct-lab")
    assert result.returncode == 0
    assert "deleted profile direct-lab" in result.stdout
    assert not (config / "profiles" / "direct-lab.toml").exists()
    assert run(config, "list").stdout.split()[0] == "via-socks"


def test_control_characters_in_a_file_are_shown_not_sent(config):
    (config / "profiles" / "evil.toml").write_text('description = "\\u001b[31mred"\nhost = "x.test"\nport = 1\n')
    result = run(config, "show", "evil")
    assert result.returncode == 0
    assert "\x1b" not in result.stdout

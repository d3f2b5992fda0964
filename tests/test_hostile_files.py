"""Hostile files in the config and data directories: each is refused at once, named, and left alone.

A catalogue: FIFOs, devices, sockets, dangling links, links to directories, link loops, huge files,
binary garbage, NUL bytes, a byte-order mark, links to files that are not profiles, escape sequences
and bidi controls inside a profile. Every case runs the real store or the real command.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile, ProfileError
from tlsbench.profiles.store import ProfileStore

TLSBENCH = [sys.executable, "-m", "tlsbench"]
GOOD = 'host = "www.lab.test"\nport = 443\n'


@pytest.fixture
def store(tmp_path) -> ProfileStore:
    store = ProfileStore(tmp_path / "config")
    store.save(Profile("good", build_spec("www.lab.test:443")))
    return store


def run(root: Path, *args: str, data: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")}
    env.update(TLSBENCH_CONFIG_DIR=str(root), TLSBENCH_DATA_DIR=str(data or root / "data"))
    return subprocess.run(TLSBENCH + list(args), capture_output=True, text=True, env=env, timeout=30,
                          stdin=subprocess.DEVNULL)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def problem_for(store: ProfileStore, name: str) -> str:
    report = store.load_all()
    assert "good" in report.profiles
    found = [p for p in report.problems if p.path.name == f"{name}.toml"]
    assert len(found) == 1, report.problems
    return str(found[0])


# --- things that are not regular files ---------------------------------------------------------------

def test_fifo_profile_does_not_hang_profiles_list(store):
    fifo = store.profiles_dir / "pipe.toml"
    os.mkfifo(fifo)
    result = run(store.root, "profiles", "list")  # used to block in open() for ever
    assert result.returncode == 0
    assert result.stdout.split()[0] == "good"
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_fifo_profile_show_is_one_line_exit_2(store):
    os.mkfifo(store.profiles_dir / "pipe.toml")
    result = run(store.root, "profiles", "show", "pipe")
    assert result.returncode == 2
    assert "pipe.toml" in one_line(result) and "FIFO" in one_line(result)


def test_fifo_profile_is_not_replaced_by_save(store):
    fifo = store.profiles_dir / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(ProfileError, match="FIFO"):
        store.save(Profile("pipe", build_spec("www.lab.test:443")))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_fifo_state_file_neither_blocks_nor_is_replaced(store):
    os.mkfifo(store.state_path)
    assert store.last_used() is None
    with pytest.raises(ProfileError, match=r"state\.toml.*FIFO"):
        store.set_last_used("good")
    assert stat.S_ISFIFO(os.lstat(store.state_path).st_mode)


def test_link_to_a_character_device(store):
    (store.profiles_dir / "zero.toml").symlink_to("/dev/zero")
    assert "links to a character device" in problem_for(store, "zero")
    with pytest.raises(ProfileError, match="character device"):
        store.save(Profile("zero", build_spec("www.lab.test:443")))
    assert os.readlink(store.profiles_dir / "zero.toml") == "/dev/zero"


def test_a_unix_socket_in_place_of_a_profile(store, tmp_path):
    path = store.profiles_dir / "sock.toml"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        assert "is a socket" in problem_for(store, "sock")
        with pytest.raises(ProfileError, match="socket"):
            store.delete("sock")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


def test_a_directory_named_like_a_profile(store):
    folder = store.profiles_dir / "dir.toml"
    folder.mkdir()
    (folder / "keep").write_text("mine")
    assert "is a directory" in problem_for(store, "dir")
    with pytest.raises(ProfileError, match="directory"):
        store.delete("dir")
    with pytest.raises(ProfileError, match="directory"):
        store.save(Profile("dir", build_spec("www.lab.test:443")))
    assert (folder / "keep").read_text() == "mine"


# --- links --------------------------------------------------------------------------------------------

def test_dangling_link_is_named_and_nothing_is_created_where_it_points(store, tmp_path):
    target = tmp_path / "elsewhere" / "gone.toml"
    (store.profiles_dir / "gone.toml").symlink_to(target)
    assert "symbolic link to a missing file" in problem_for(store, "gone")
    with pytest.raises(ProfileError, match="missing file"):
        store.save(Profile("gone", build_spec("www.lab.test:443")))
    assert not target.exists() and not target.parent.exists()


def test_link_to_a_directory(store, tmp_path):
    (tmp_path / "adir").mkdir()
    (store.profiles_dir / "ldir.toml").symlink_to(tmp_path / "adir")
    assert "links to a directory" in problem_for(store, "ldir")


def test_link_loop(store):
    (store.profiles_dir / "loop.toml").symlink_to(store.profiles_dir / "loop2.toml")
    (store.profiles_dir / "loop2.toml").symlink_to(store.profiles_dir / "loop.toml")
    assert "symbolic link loop" in problem_for(store, "loop")


def test_link_to_a_toml_file_that_is_not_a_profile_is_never_overwritten(store, tmp_path):
    """The issue's case: `profiles show` calls it broken, and --save-profile used to overwrite it."""
    other = tmp_path / "pyproject.toml"
    text = '[project]\nname = "mine"\n'
    other.write_text(text)
    other.chmod(0o644)
    (store.profiles_dir / "proj.toml").symlink_to(other)
    assert "host is missing" in problem_for(store, "proj")
    result = run(store.root, "probe", "www.lab.test:1", "--save-profile", "proj")
    assert result.returncode == 2
    line = one_line(result)
    assert "not saved" in line and str(store.profiles_dir / "proj.toml") in line and str(other) in line
    assert other.read_text() == text
    assert stat.S_IMODE(other.stat().st_mode) == 0o644
    assert (store.profiles_dir / "proj.toml").is_symlink()


def test_link_to_a_valid_profile_is_written_through_and_keeps_its_mode(store, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "shared.toml"
    real.write_text("# kept in git\n" + GOOD)
    real.chmod(0o644)
    link = store.profiles_dir / "shared.toml"
    link.symlink_to(real)
    store.save(Profile("shared", build_spec("www.lab.test:8443")))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "port = 8443" in real.read_text() and "# kept in git" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    assert not [p for p in dotfiles.iterdir() if p.name != "shared.toml"]  # no temporary file left


def test_a_profiles_directory_that_is_a_link_is_fine(tmp_path):
    """(Held before too; a guard that the link checks do not refuse a linked directory.)"""
    real = tmp_path / "real-profiles"
    real.mkdir()
    root = tmp_path / "config"
    root.mkdir()
    (root / "profiles").symlink_to(real)
    store = ProfileStore(root)
    store.save(Profile("linked", build_spec("www.lab.test:443")))
    assert (real / "linked.toml").is_file() and (root / "profiles").is_symlink()
    assert list(store.load_all().profiles) == ["linked"]


def test_state_file_linked_to_a_file_that_is_no_state_file(store, tmp_path):
    other = tmp_path / "settings.toml"
    text = "[editor]\ntheme = 'dark'\n"
    other.write_text(text)
    store.state_path.symlink_to(other)
    with pytest.raises(ProfileError, match="no tlsbench state file"):
        store.set_last_used("good")
    assert other.read_text() == text


# --- contents ---------------------------------------------------------------------------------------

def test_huge_file_is_refused_without_reading_it(store):
    huge = store.profiles_dir / "huge.toml"
    with open(huge, "wb") as fh:
        fh.truncate(64 << 20)  # sparse: 64 MiB of nothing
    assert "more than a profile may be" in problem_for(store, "huge")
    with pytest.raises(ProfileError, match="more than a profile may be"):
        store.save(Profile("huge", build_spec("www.lab.test:443")))
    assert huge.stat().st_size == 64 << 20


def test_nul_bytes_are_not_a_profile(store):
    (store.profiles_dir / "nul.toml").write_bytes(b'host = "a"\x00\nport = 443\n')
    assert "NUL" in problem_for(store, "nul")


def test_binary_garbage_is_a_problem_with_a_line(store):
    """(Held before too; kept as a guard.)"""
    (store.profiles_dir / "bin.toml").write_bytes(bytes(range(256)) * 4)
    assert "bin.toml:" in problem_for(store, "bin")


def test_a_byte_order_mark_is_read_and_kept(store):
    path = store.profiles_dir / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert store.get("bom").spec.port == 443
    store.save(Profile("bom", build_spec("www.lab.test:8443")))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"port = 8443" in raw


def test_escape_sequences_and_bidi_controls_in_a_profile_are_shown_escaped(store):
    path = store.profiles_dir / "evil.toml"
    path.write_text('description = "\\u001b[2J\\u001b]0;pwned\\u0007 gnp.\\u202eexe \\u200b\\u2066"\n'
                    'host = "www.lab.test"\nport = 443\n')
    show = run(store.root, "profiles", "show", "evil")
    assert show.returncode == 0, show.stderr
    for raw in ("\x1b", "\x07", "\u202e", "\u200b", "\u2066"):
        assert raw not in show.stdout
    assert "\\u202e" in show.stdout or "\\\\u202e" in show.stdout
    summary = show.stdout.split("\n\n")[-1]
    assert "\\e[2J" in summary and "gnp.\\u202eexe" in summary and "\\u200b" in summary
    data = json.loads(run(store.root, "profiles", "show", "evil", "--json").stdout)
    assert data["description"] == "\x1b[2J\x1b]0;pwned\x07 gnp.\u202eexe \u200b\u2066"  # JSON: exact


def test_bidi_controls_in_a_profiles_host_are_refused_and_shown_escaped(store):
    """(Held before too, through repr(); kept as a guard.)"""
    (store.profiles_dir / "host.toml").write_text('host = "exe.\\u202egnp"\nport = 443\n')
    listing = run(store.root, "profiles", "list")
    assert "\u202e" not in listing.stderr and "\\u202e" in listing.stderr
    assert "host.toml" in listing.stderr


# --- the data directory -----------------------------------------------------------------------------

def test_listener_certificate_that_is_a_fifo(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / "listener-cert.pem")
    for args in (["serve", "--tls", "--port", "0"], ["cert"]):
        result = run(tmp_path / "config", *args, data=data)
        assert result.returncode == 2
        assert "listener-cert.pem" in one_line(result) and "FIFO" in one_line(result)
    assert stat.S_ISFIFO(os.lstat(data / "listener-cert.pem").st_mode)


def test_listener_certificate_that_is_not_a_certificate_is_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "listener-cert.pem").write_text("my notes\n")
    result = run(tmp_path / "config", "cert", data=data)
    assert result.returncode == 2 and "listener-cert.pem" in one_line(result)
    assert (data / "listener-cert.pem").read_text() == "my notes\n"
    assert not (data / "listener-key.pem").exists()  # never half a pair


def test_lab_certificate_directory_with_a_fifo(tmp_path):
    from tlsbench.lab.certs import ensure_lab_certs
    from tlsbench.safe_files import FileRefused

    folder = tmp_path / "certs"
    folder.mkdir()
    os.mkfifo(folder / "ca.pem")
    with pytest.raises(FileRefused, match=r"ca\.pem.*FIFO"):
        ensure_lab_certs(folder)
    assert stat.S_ISFIFO(os.lstat(folder / "ca.pem").st_mode)


def test_read_regular_refuses_a_fifo_even_when_it_appears_after_the_check(tmp_path, monkeypatch):
    """The kind is checked again on the open descriptor: a swap after stat() cannot block the read."""
    from tlsbench import safe_files

    fifo = tmp_path / "swapped"
    os.mkfifo(fifo)
    monkeypatch.setattr(safe_files, "check_regular", lambda *a, **k: None)  # the stat() said "regular"
    with pytest.raises(safe_files.FileRefused, match="FIFO"):
        safe_files.read_regular(fifo, limit=100)

"""ProfileStore on a real directory: corruption, bad values, comments, atomicity, permissions, secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile, ProfileError
from tlsbench.profiles.store import ProfileStore


@pytest.fixture
def store(tmp_path) -> ProfileStore:
    return ProfileStore(tmp_path / "config")


def simple(name: str, target: str = "www.lab.test:443", **kw) -> Profile:
    return Profile(name, build_spec(target, **kw))


def write(store: ProfileStore, name: str, text: str | bytes) -> Path:
    store.profiles_dir.mkdir(parents=True, exist_ok=True)
    path = store.profiles_dir / f"{name}.toml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# --- corruption ------------------------------------------------------------------------------------

BROKEN = b'# my proxy box\nhost = "proxy.lab.test"\nport = \ntimeout = 5\n'


def test_syntax_error_names_file_and_line_and_others_still_load(store):
    store.save(simple("alpha"))
    store.save(simple("omega", "127.0.0.1:8443"))
    broken = write(store, "broken", BROKEN)

    report = store.load_all()

    assert sorted(report.profiles) == ["alpha", "omega"]
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.path == broken
    assert problem.line == 3
    assert "syntax" in problem.message.lower()
    assert str(problem).startswith(f"{broken}:3: ")
    assert broken.read_bytes() == BROKEN


def test_broken_file_is_never_overwritten_by_save(store):
    broken = write(store, "broken", BROKEN)
    store.load_all()
    with pytest.raises(ProfileError) as info:
        store.save(simple("broken"))
    message = str(info.value)
    assert str(broken) in message and ":3" in message
    assert "broken" in message and "by hand" in message
    assert "\n" not in message
    assert broken.read_bytes() == BROKEN
    assert sorted(p.name for p in store.profiles_dir.iterdir()) == ["broken.toml"]


def test_get_of_broken_profile_raises_one_line(store):
    write(store, "broken", BROKEN)
    with pytest.raises(ProfileError, match=r"broken\.toml:3: "):
        store.get("broken")


def test_not_utf8_is_a_problem_with_its_line(store):
    path = write(store, "latin", b'host = "a"\nport = 443\ndescription = "caf\xe9"\n')
    report = store.load_all()
    assert report.profiles == {}
    assert (report.problems[0].path, report.problems[0].line) == (path, 3)
    assert "UTF-8" in report.problems[0].message


# --- bad values point at their line ----------------------------------------------------------------

def test_port_out_of_range_names_file_and_line(store):
    path = write(store, "far", '# comment\nhost = "www.lab.test"\n\nport = 70000\n')
    store.save(simple("fine"))
    report = store.load_all()
    assert list(report.profiles) == ["fine"]
    (problem,) = report.problems
    assert (problem.path, problem.line) == (path, 4)
    assert "70000" in problem.message and "1-65535" in problem.message


def test_bad_value_inside_a_table_points_at_that_table(store):
    text = ('host = "www.lab.test"\nport = 443\n\n[proxy]\ntype = "socks5"\nhost = "127.0.0.1"\n'
            'port = 0\n\n[tls]\nmin_version = "1.4"\n')
    path = write(store, "p", text)
    (problem,) = store.load_all().problems
    assert (problem.path, problem.line) == (path, 7)
    assert "proxy port" in problem.message
    write(store, "p", text.replace("port = 0", "port = 1080"))
    (problem,) = store.load_all().problems
    assert problem.line == 10 and "1.4" in problem.message


@pytest.mark.parametrize("body, line, words", [
    ('host = "a.test"\nport = "443x"\n', 2, "whole number"),
    ('host = "a.test"\nport = 443\n[tls]\nsni = "sometimes"\n', 4, "sni"),
    ('host = "a b"\nport = 443\n', 1, "host"),
    ('host = "a.test"\nport = 443\npin = "not-an-ip"\n', 3, "pin"),
    ('host = "a.test"\nport = 443\ntls.alpn = 5\n', 3, "alpn"),
    ('host = "a.test"\nport = 443\n[proxy]\ntype = "ftp"\nhost = "127.0.0.1"\nport = 8080\n', 4, "proxy type"),
    ('host = "a.test"\nport = 443\n[tls]\ncafile = "/nonexistent/ca.pem"\n', 4, "does not exist"),
    ('port = 443\n', None, "host is missing"),
    ('host = "a.test"\nport = 443\ntls = "yes"\n', 3, "table"),
])
def test_each_bad_value_is_reported_at_its_line(store, body, line, words):
    path = write(store, "x", body)
    (problem,) = store.load_all().problems
    assert problem.path == path
    assert problem.line == line
    assert words in problem.message


# --- comments and unknown keys survive a save ------------------------------------------------------

HAND_WRITTEN = '''\
# The staging box. Ask Dana before changing the pin.
description = "staging"
host = "www.lab.test"   # the public name
port = 443
pin = "127.0.0.1"
owner = "dana"          # not a tlsbench key: must survive

[tls]
# trust the lab CA only
verify = "off"
alpn = ["http/1.1"]
'''


def test_comments_layout_and_unknown_keys_survive_save(store):
    path = write(store, "staging", HAND_WRITTEN)
    profile = store.get("staging")
    assert profile.description == "staging" and profile.spec.pin == "127.0.0.1"

    changed = Profile("staging", profile.spec.with_changes(port=8443, pin=None), "staging")
    store.save(changed)

    text = path.read_text()
    assert "# The staging box. Ask Dana before changing the pin." in text
    assert 'host = "www.lab.test"   # the public name' in text
    assert 'owner = "dana"          # not a tlsbench key: must survive' in text
    assert "# trust the lab CA only" in text
    assert "port = 8443" in text and "port = 443\n" not in text
    assert "pin" not in text.replace("the pin", "")
    assert store.get("staging") == changed


def test_unchanged_save_changes_nothing(store):
    path = write(store, "staging", HAND_WRITTEN)
    store.save(store.get("staging"))
    assert path.read_text() == HAND_WRITTEN


def test_full_spec_roundtrip(store, tmp_path, monkeypatch):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    cert = tmp_path / "me.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    key = tmp_path / "me.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    monkeypatch.setenv("LAB_PROXY_PW", "pw")
    spec = build_spec("[::1]:8443", pin="::1", proxies=["socks5h://[::1]:1080"], proxy_user="alice",
                      proxy_password_env="LAB_PROXY_PW", sni="alt.test", tls_min="1.2", tls_max="1.3",
                      ciphers="ECDHE+AESGCM", alpn="h2,http/1.1", cafile=str(ca), cert=str(cert), key=str(key),
                      timeout="2.5", http=True)
    original = Profile("everything", spec, "all the fields")
    store.save(original)
    assert store.get("everything") == original
    plain = Profile("plain", build_spec("127.0.0.1:25", tls=False, send="EHLO me\r\n", timeout=3))
    store.save(plain)
    assert store.get("plain") == plain


# --- atomic, private files ---------------------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_is_private_and_leaves_no_temp_files(store):
    path = store.save(simple("alpha"))
    store.save(simple("alpha", "www.lab.test:8443"))
    store.set_last_used("alpha")
    assert os.listdir(store.profiles_dir) == ["alpha.toml"]
    assert sorted(os.listdir(store.root)) == ["profiles", "state.toml"]
    assert mode(path) == 0o600
    assert mode(store.state_path) == 0o600
    assert mode(store.profiles_dir) == 0o700
    assert mode(store.root) == 0o700


def test_failed_write_keeps_the_old_file_and_no_temp(store, monkeypatch):
    path = store.save(simple("alpha"))
    before = path.read_bytes()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ProfileError, match="No space left"):
        store.save(simple("alpha", "www.lab.test:9443"))
    assert path.read_bytes() == before
    assert os.listdir(store.profiles_dir) == ["alpha.toml"]


def test_symlinked_profile_stays_a_symlink(store, tmp_path):
    real_dir = tmp_path / "dotfiles"
    real_dir.mkdir()
    real = real_dir / "shared.toml"
    real.write_text('# kept in my dotfiles\nhost = "www.lab.test"\nport = 443\n')
    store.profiles_dir.mkdir(parents=True)
    link = store.profiles_dir / "shared.toml"
    link.symlink_to(real)

    store.save(simple("shared", "www.lab.test:8443"))

    assert link.is_symlink() and link.resolve() == real.resolve()
    assert "# kept in my dotfiles" in real.read_text() and "port = 8443" in real.read_text()
    assert store.get("shared").spec.port == 8443
    assert sorted(os.listdir(real_dir)) == ["shared.toml"]


# --- secrets -----------------------------------------------------------------------------------------

def test_password_is_never_written(store, monkeypatch):
    monkeypatch.setenv("OFFICE_PW", "s3cret-from-env")
    spec = build_spec("www.lab.test:443", proxies=["socks5://127.0.0.1:1080"], proxy_user="alice",
                      proxy_password_env="OFFICE_PW")
    assert spec.proxy.password == "s3cret-from-env"
    path = store.save(Profile("office", spec))
    text = path.read_text()
    assert "s3cret" not in text
    assert 'password_env = "OFFICE_PW"' in text

    assert store.get("office").spec.proxy.password == "s3cret-from-env"
    monkeypatch.delenv("OFFICE_PW")
    loaded = store.get("office").spec.proxy
    assert loaded.password is None and loaded.password_env == "OFFICE_PW"  # asked at run time


def test_inline_password_is_dropped_not_written(store):
    spec = build_spec("www.lab.test:443", proxies=["socks5://127.0.0.1:1080"],
                      proxy_user="alice:inline-pass-123")
    path = store.save(Profile("inline", spec))
    assert b"inline-pass-123" not in path.read_bytes()
    assert "inline-pass-123" not in str(store.get("inline"))


# --- state, names, file operations --------------------------------------------------------------------

def test_last_used_roundtrip_and_follow_rename_and_delete(store):
    assert store.last_used() is None
    store.save(simple("alpha"))
    store.set_last_used("alpha")
    assert ProfileStore(store.root).last_used() == "alpha"
    store.rename("alpha", "beta")
    assert store.last_used() == "beta"
    store.delete("beta")
    assert store.last_used() is None


def test_broken_state_file_is_left_alone(store):
    store.save(simple("alpha"))
    store.root.joinpath("state.toml").write_bytes(b"last_used = \n")
    assert store.last_used() is None
    with pytest.raises(ProfileError, match=r"state\.toml:1"):
        store.set_last_used("alpha")
    assert store.state_path.read_bytes() == b"last_used = \n"


@pytest.mark.parametrize("name", ["../x", "..", ".hidden", "a/b", "", "-rf", "a b", "x\n"])
def test_bad_names_are_refused(store, tmp_path, name):
    for call in (lambda: store.save(simple(name)), lambda: store.get(name), lambda: store.delete(name),
                 lambda: store.set_last_used(name)):
        with pytest.raises(ProfileError, match="profile name"):
            call()
    assert not (store.root / "x.toml").exists() and not (tmp_path / "x.toml").exists()


def test_rename_duplicate_delete(store):
    path = write(store, "alpha", '# mine\nhost = "www.lab.test"\nport = 443\n')
    copy = store.duplicate("alpha", "beta")
    assert copy.read_text() == path.read_text()
    with pytest.raises(ProfileError, match="already exists"):
        store.rename("alpha", "beta")
    with pytest.raises(ProfileError, match="already exists"):
        store.save(simple("beta"), overwrite=False)
    store.rename("alpha", "gamma")
    assert store.names() == ["beta", "gamma"]
    assert "# mine" in store.profiles_dir.joinpath("gamma.toml").read_text()
    store.delete("gamma")
    with pytest.raises(ProfileError, match="no profile named 'gamma'"):
        store.delete("gamma")
    with pytest.raises(ProfileError, match="no profile named"):
        store.get("gamma")


def test_save_refuses_a_file_whose_table_is_not_a_table(store):
    text = 'host = "www.lab.test"\nport = 443\nproxy = 3\n'
    path = write(store, "odd", text)
    with pytest.raises(ProfileError, match="must be a table"):
        store.save(Profile("odd", build_spec("www.lab.test:443", proxies=["socks5://127.0.0.1:1080"])))
    assert path.read_text() == text


# --- files written by earlier versions, and what engine v2 added ------------------------------------

EARLIER_FORMAT = """# Intranet portal through the office proxy
description = "Intranet portal via the office SOCKS proxy"
host = "portal.example.com"
port = 443
pin = "10.1.2.3"
timeout = 7.5

[proxy]
type = "socks5h"
host = "127.0.0.1"
port = 1080
user = "alice"
password_env = "OFFICE_PROXY_PASSWORD"

[tls]
enabled = true
sni = "override"
sni_name = "portal.internal"
min_version = "1.2"
max_version = "1.3"
ciphers = "ECDHE+AESGCM"
alpn = ["h2", "http/1.1"]
verify = "cafile"
cafile = "~/ca/office.pem"

[app]
http = true
path = "/health"
"""


def test_a_file_written_by_an_earlier_version_loads_and_saves_unchanged(store, monkeypatch):
    home = store.profiles_dir.parent / "home"
    (home / "ca").mkdir(parents=True)
    (home / "ca" / "office.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OFFICE_PROXY_PASSWORD", "s3cret")
    path = write(store, "office", EARLIER_FORMAT)
    profile = store.get("office")
    spec = profile.spec
    assert profile.description == "Intranet portal via the office SOCKS proxy"
    assert (spec.host, spec.port, spec.pin, spec.timeout) == ("portal.example.com", 443, "10.1.2.3", 7.5)
    (hop,) = spec.proxies
    assert (hop.kind, hop.host, hop.port, hop.username, hop.password, hop.password_env) == (
        "socks5h", "127.0.0.1", 1080, "alice", "s3cret", "OFFICE_PROXY_PASSWORD")
    tls = spec.tls
    assert (tls.sni_mode, tls.sni_name, tls.min_version, tls.max_version, tls.ciphers, tls.alpn) == (
        "override", "portal.internal", "1.2", "1.3", "ECDHE+AESGCM", ("h2", "http/1.1"))
    # The path is kept as written, not expanded.
    assert (tls.verify, tls.cafile) == ("cafile", "~/ca/office.pem")
    assert spec.app.http and spec.app.path == "/health"
    store.save(profile)
    assert path.read_text() == EARLIER_FORMAT


def test_a_chain_and_the_local_side_roundtrip(store):
    spec = build_spec("www.lab.test:443", proxies=["http://127.0.0.1:3128", "socks5h://bob@127.0.0.1:1080"],
                      local_port="40000-40010", interface="127.0.0.1", family=4, environ={})
    store.save(Profile("chain", spec))
    text = (store.profiles_dir / "chain.toml").read_text()
    assert text.count("[[proxy]]") == 2 and "[local]" in text and 'port = "40000-40010"' in text
    again = store.get("chain").spec
    assert [(h.kind, h.address, h.username) for h in again.proxies] == [
        ("http", "127.0.0.1:3128", None), ("socks5h", "127.0.0.1:1080", "bob")]
    assert again.local == spec.local


def test_a_bad_hop_in_a_chain_is_reported_at_its_table(store):
    write(store, "x", 'host = "a.test"\nport = 443\n[[proxy]]\ntype = "http"\nhost = "127.0.0.1"\nport = 3128\n'
                      '[[proxy]]\ntype = "gopher"\nhost = "127.0.0.1"\nport = 70\n')
    (problem,) = store.load_all().problems
    assert "gopher" in problem.message and "proxy type" in problem.message

"""The new connection options (--keylog, --reconnect, --check-revocation) through the one
declaration: profiles keep them (but not a key log that came from $SSLKEYLOGFILE), the copy-as-
command lines say them in curl's and s_client's words or say they cannot."""

from __future__ import annotations

from tlsbench.engine.equivalents import equivalent_commands
from tlsbench.engine.options import values_of
from tlsbench.engine.spec import build_spec
from tlsbench.profiles.model import Profile
from tlsbench.profiles.store import ProfileStore


def test_a_profile_keeps_the_options_but_not_the_environment_key_log(tmp_path):
    store = ProfileStore(tmp_path / "config")
    spec = build_spec("localhost:443", keylog=str(tmp_path / "k.log"), reconnect=True, check_revocation=True)
    store.save(Profile("deep", spec))
    again = store.get("deep").spec
    assert (again.tls.keylog, again.tls.reconnect, again.tls.check_revocation) == (str(tmp_path / "k.log"),
                                                                                    True, True)
    from_env = build_spec("localhost:443", environ={"SSLKEYLOGFILE": str(tmp_path / "env.log")})
    assert from_env.tls.keylog == str(tmp_path / "env.log") and from_env.tls.keylog_from_env
    assert values_of(from_env)["keylog"] is None
    store.save(Profile("env", from_env))
    assert "keylog" not in (tmp_path / "config" / "profiles" / "env.toml").read_text()
    assert build_spec("localhost:443", tls=False, environ={"SSLKEYLOGFILE": "/x"}).tls.keylog is None


def test_copy_as_command(tmp_path):
    log = str(tmp_path / "k.log")
    text = equivalent_commands(build_spec("example.com:443", keylog=log, reconnect=True,
                                          check_revocation=True)).as_text()
    assert f"tlsbench probe example.com:443 --keylog {log} --reconnect --check-revocation" in text
    assert f"SSLKEYLOGFILE={log} curl" in text
    assert f"-keylogfile {log} -reconnect" in text
    assert "--check-revocation: s_client does not ask OCSP responders" in text


def test_a_hostile_subject_cannot_write_lines_into_the_pem_text():
    from tlsbench.engine.certs.chainpem import cert_block
    from tlsbench.engine.records.details import CertInfo

    evil = "CN=x\n-----BEGIN CERTIFICATE-----\nAAAA\x1b[31m\u202e"
    info = CertInfo(0, evil, evil, (), "", "", 1, "1", "EC", 256, "ecdsa", "AA", False, False,
                    pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    text = cert_block(info, "sent by the server")
    assert text.count("-----BEGIN CERTIFICATE-----") == 3  # the s: and i: lines hold theirs inside the line
    assert [line for line in text.splitlines() if line.startswith("-----BEGIN")] == ["-----BEGIN CERTIFICATE-----"]
    assert "\x1b" not in text and "\u202e" not in text

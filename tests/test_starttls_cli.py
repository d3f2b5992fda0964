"""--starttls, --name and --xmpphost on the command line, in profiles and in the equivalent command
lines; `tlsbench probe --starttls` as a user runs it (a real process against the machine's MTA and dovecot)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import need_binary
from tlsbench.engine.equivalents import equivalent_commands
from tlsbench.errors import InputError
from tlsbench.engine.options import spec_from_values, values_of
from tlsbench.engine.spec import StarttlsSpec, build_spec
from tlsbench.profiles.codec import data_to_profile, profile_to_data
from tlsbench.profiles.describe import tls_text
from tlsbench.profiles.model import Profile


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


@pytest.mark.parametrize("args, words", [
    (["mail.example.net:25", "--starttls", "gopher"], ["starttls", "gopher", "smtp", "auto"]),
    (["mail.example.net:25", "--no-tls", "--starttls", "smtp"], ["--no-tls", "--starttls"]),
    (["mail.example.net:25", "--name", "me.example"], ["--name", "--starttls"]),
    (["mail.example.net:25", "--xmpphost", "lab.test"], ["--xmpphost", "--starttls"]),
    (["mail.example.net:25", "--starttls", "smtp", "--name", "me example"], ["--name", "one word"]),
    (["chat.example.net:5222", "--starttls", "xmpp", "--xmpphost", "a'b"], ["--xmpphost", "quotes"]),
])
def test_bad_starttls_input_is_one_line_and_exit_2(args, words):
    done = run(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tlsbench probe: error: ") and "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0]


def test_auto_is_one_plain_value():
    spec = spec_from_values({"target": "mail.example.net:25", "starttls": "auto"})
    assert spec.starttls == StarttlsSpec("auto", "mail.example.com", None)
    assert values_of(spec)["starttls"] == "auto"
    assert spec_from_values({"target": "mail.example.net:25", "starttls": "none"}).starttls == StarttlsSpec()
    # Like every TLS option, a value set's STARTTLS means nothing with TLS off (the form hides it)...
    assert spec_from_values({"target": "mail.example.net:25", "starttls": "smtp", "tls": False}).starttls.protocol is None
    with pytest.raises(InputError) as err:  # ...while asking for both at the engine's door is an error
        build_spec("mail.example.net:25", starttls="smtp", tls=False)
    assert err.value.field == "tls"


def test_a_profile_keeps_starttls_in_its_tls_table():
    spec = build_spec("mail.example.net:587", starttls="smtp", starttls_name="me.example")
    data = profile_to_data(Profile("mail", spec))
    assert data["tls"]["starttls"] == "smtp" and data["tls"]["starttls_name"] == "me.example"
    assert "xmpphost" not in data["tls"]
    assert data_to_profile("mail", data).spec == spec
    assert tls_text(spec).startswith("TLS, STARTTLS smtp, ")
    chat = build_spec("chat.example.net:5222", starttls="xmpp", xmpphost="lab.test")
    assert data_to_profile("chat", profile_to_data(Profile("chat", chat))).spec == chat


def test_a_profile_with_a_starttls_name_but_no_starttls_is_refused():
    from tlsbench.profiles.codec import FormatError

    with pytest.raises(FormatError) as err:
        data_to_profile("x", {"host": "mail.example.net", "port": 25, "tls": {"starttls_name": "me.example"}})
    assert err.value.key == "starttls_name"


@pytest.mark.parametrize("kwargs", [
    dict(starttls="smtp", starttls_name="client.example"),
    dict(starttls="xmpp", xmpphost="lab.test", proxies=["socks5h://127.0.0.1:1080"]),
    dict(starttls="auto", cafile=None),
])
def test_the_probe_line_parses_back(kwargs):
    from tlsbench.commands.arguments import spec_from_args
    from tlsbench.commands.probe import make_parser

    spec = build_spec("mail.example.net:25", environ={}, **kwargs)
    words = shlex.split(equivalent_commands(spec).tlsbench.command)
    assert "--starttls" in words
    assert spec_from_args(make_parser().parse_args(words[2:]), environ={}) == spec


def test_equivalents_name_the_starttls():
    eq = equivalent_commands(build_spec("mail.example.net:587", starttls="smtp", starttls_name="me.example"))
    assert "-starttls smtp -name me.example" in eq.openssl.command
    assert any("--starttls smtp" in c for c in eq.curl.cannot)
    auto = equivalent_commands(build_spec("mail.example.net:587", starttls="auto"))
    assert "-starttls" not in auto.openssl.command and any("auto" in c for c in auto.openssl.cannot)


@pytest.mark.servers
def test_the_openssl_equivalent_upgrades_the_same_server(smtp_tls, lab_certs):
    need_binary("openssl")
    spec = build_spec(f"mail.lab.test:{smtp_tls.port}", pin="127.0.0.1", starttls="smtp",
                      cafile=str(lab_certs.ca_cert))
    command = equivalent_commands(spec).openssl.command
    done = subprocess.run(command, shell=True, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert "Verify return code: 0 (ok)" in done.stdout, done.stdout + done.stderr


@pytest.mark.servers
def test_json_has_the_stage_and_the_exchange(smtp_tls, lab_certs):
    done = run(smtp_tls.address, "--starttls", "smtp", "--cafile", str(lab_certs.ca_cert), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [s["name"] for s in result["stages"]] == ["resolve", "tcp", "proxy", "starttls", "tls", "chain", "app"]
    assert result["options"]["starttls"] == {"protocol": "smtp", "name": "mail.example.com", "xmpphost": None}
    starttls = result["stages"][3]
    detail = starttls["detail"]
    assert detail["protocol"] == "smtp" and detail["accepted"] is True and detail["starttls_offered"] is True
    first = detail["exchange"][0]
    assert first["direction"] == "received" and first["text"] == f"220 mail.lab.test ESMTP tlsbench lab {smtp_tls.name}"
    assert isinstance(first["at_ms"], float) and first["hex"] is None
    app = result["stages"][6]
    assert app["detail"]["phase"] == "tls" and app["detail"]["only_before_tls"] == ["STARTTLS"]


@pytest.mark.servers
def test_the_waterfall_shows_the_exchange(dovecot_tls, lab_certs):
    done = run(dovecot_tls.endpoint("imap").address, "--starttls", "imap", "--cafile", str(lab_certs.ca_cert))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "starttls IMAP (--starttls imap)" in out
    assert "-> A2 STARTTLS" in out and "<- A2 OK Begin TLS negotiation now." in out
    assert "over-tls IMAP: the capabilities asked again inside TLS" in out
    assert "only over TLS" in out and "AUTH=PLAIN" in out

"""Hostile and odd input at the edge: what the protocol cannot carry is refused with one line and exit 2
before anything reaches OpenSSL or the peer; what it can carry goes out exactly as given; text from a
peer is shown escaped; Ctrl-C still gives an answer.

Real processes (`tlsbench probe`, `tlsbench serve`) against real servers on loopback.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from test_serve_cli import Serve

TLSBENCH = [sys.executable, "-m", "tlsbench"]


@pytest.fixture
def env(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")}
    return {**environ, "TLSBENCH_DATA_DIR": str(tmp_path / "data"), "TLSBENCH_CONFIG_DIR": str(tmp_path / "cfg"),
            "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def serve(env):
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        s = Serve(list(args), env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def probe(env, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(TLSBENCH + ["probe", *args], capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def probe_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """probe's main() in this process: the same code path as the command, without a process start."""
    from tlsbench.commands.probe import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def usage_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    return lines[0]


def listening_port(server: Serve) -> int:
    return server.wait_event("listening")["port"]


# --- ALPN ----------------------------------------------------------------------------------------------

def test_non_ascii_alpn_is_sent_as_utf8_and_negotiated(tls_server, lab_certs, env):
    """`--alpn h2,ü` used to end in a UnicodeEncodeError traceback."""
    server = tls_server(alpn="ü")
    result = probe(env, f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--alpn", "h2,ü", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tls"]["alpn"] == "ü" and data["options"]["tls"]["alpn"] == ["h2", "ü"]


def test_serve_accepts_a_non_ascii_alpn(serve, env, lab_certs):
    server = serve("--tls", "--alpn", "ü,h2")
    port = listening_port(server)
    result = probe(env, f"127.0.0.1:{port}", "--insecure", "--alpn", "ü", "--json")
    assert result.returncode == 0, result.stderr
    assert server.wait_event("client-hello")["alpn"] == ["ü"]
    assert server.wait_event("handshake")["alpn"] == "ü"


def test_a_profile_holding_a_non_ascii_alpn(tls_server, lab_certs, env, tmp_path):
    server = tls_server(alpn="ü")
    profiles = tmp_path / "cfg" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "u.toml").write_text(f'host = "localhost"\nport = {server.port}\n[tls]\nalpn = ["h2", "ü"]\n'
                                     f'verify = "cafile"\ncafile = "{lab_certs.ca_cert}"\n')
    result = probe(env, "--profile", "u", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tls"]["alpn"] == "ü"


@pytest.mark.parametrize("alpn, words", [
    ("a" * 256, "256 bytes"),
    ("é" * 128, "256 bytes"),  # 128 characters, 256 bytes
    ("h2,,http/1.1", "empty protocol"),
    (",".join(["p" * 255] * 257), "holds at most 65533"),
    ("h2,\u202ehttp", None),  # invisible: refused like a control character, shown escaped
])
def test_alpn_the_protocol_cannot_carry_never_reaches_the_peer(silent_server, env, alpn, words, capsys):
    line = usage_error(probe_here(capsys, f"127.0.0.1:{silent_server.port}", "--alpn", alpn))
    assert "alpn" in line
    if words:
        assert words in line
    assert "\u202e" not in line
    assert not silent_server.seen.first_bytes  # nothing was sent


def test_serve_refuses_an_alpn_it_cannot_carry(env):
    result = subprocess.run(TLSBENCH + ["serve", "--tls", "--alpn", "a" * 300], capture_output=True, text=True,
                            env=env, timeout=20)
    assert result.returncode == 2 and "300 bytes" in result.stderr and "Traceback" not in result.stderr


# --- SNI ----------------------------------------------------------------------------------------------

def test_sni_with_a_trailing_dot_goes_out_without_it(serve, env):
    server = serve("--tls")
    port = listening_port(server)
    probe(env, f"127.0.0.1:{port}", "--insecure", "--sni", "localhost.")
    assert server.wait_event("client-hello")["sni"] == "localhost"


@pytest.mark.parametrize("name, words", [
    ("[::1]", "IP address"),
    ("lab.test..", "more than one dot"),
    ("a\u202eb.test", "invisible characters"),
    ("a\x1b[31m.test", "invisible characters"),
])
def test_sni_that_is_not_a_host_name_is_refused(silent_server, env, name, words, capsys):
    line = usage_error(probe_here(capsys, f"127.0.0.1:{silent_server.port}", "--sni", name))
    assert words in line
    assert "\x1b" not in line and "\u202e" not in line
    assert not silent_server.seen.first_bytes


# --- ports and seconds ----------------------------------------------------------------------------

@pytest.mark.parametrize("port", ["+443", "4_4_3", "\u0664\u0664\u0663"])
def test_ports_are_ascii_digits_in_range(closed_port, env, port, capsys):
    line = usage_error(probe_here(capsys, f"localhost:{port}"))
    assert "port" in line


def test_serve_port_is_checked_the_same_way(env):
    result = subprocess.run(TLSBENCH + ["serve", "--port", "1_0"], capture_output=True, text=True, env=env,
                            timeout=20)
    assert result.returncode == 2 and "not a number" in result.stderr


@pytest.mark.parametrize("seconds", ["1_0", "\u0665", "+5"])
def test_timeout_is_a_plain_number_of_seconds(silent_server, env, seconds, capsys):
    line = usage_error(probe_here(capsys, f"127.0.0.1:{silent_server.port}", "--timeout", seconds))
    assert "timeout" in line


@pytest.mark.parametrize("args, words", [
    (["127.0.0.1:1", "--sni", "127.0.0.1"], "IP address"), (["127.0.0.1:1", "--sni", "a..b"], "bad label"),
    (["127.0.0.1:1", "--sni", "x" * 64 + ".test"], "bad label"), (["localhost:0443000"], "port"),
    (["localhost:-1"], "port"), (["localhost:65536"], "port"), (["localhost:0x1bb"], "port"),
    (["127.0.0.1:1", "--timeout", "nan"], "timeout"), (["127.0.0.1:1", "--timeout", "inf"], "timeout"),
    (["127.0.0.1:1", "--timeout", "1e400"], "timeout"), (["127.0.0.1:1", "--timeout", "0"], "timeout"),
    (["127.0.0.1:1", "--timeout", "-3"], "timeout"),
])
def test_edges_the_old_checks_refused_still_are(capsys, args, words):
    """Refused before too; kept as a guard now that engine/findings/checks.py does the checking."""
    assert words in usage_error(probe_here(capsys, *args))


# --- --send and --reply: bytes as given -----------------------------------------------------------

def test_send_escapes_put_exactly_those_bytes_on_the_wire(serve, env):
    server = serve()  # plain TCP, echo
    port = listening_port(server)
    result = probe(env, f"127.0.0.1:{port}", "--no-tls", "--send", "A\\r\\n\\t\\\\\\x00\\xff\\x1bü", "--json")
    assert result.returncode == 0, result.stderr
    data = server.wait_event("data")
    expected = b"A\r\n\t\\\x00\xff\x1b" + "ü".encode()
    assert bytes.fromhex(data["hex"]) == expected
    app = json.loads(result.stdout)["stages"][5]["detail"]
    assert bytes.fromhex(app["first_bytes_hex"]) == expected  # echoed back: the bytes went out as asked


@pytest.mark.parametrize("text, words", [("\\q", "unknown escape"), ("abc\\", "lone backslash"),
                                         ("\\x4", "two hex digits"), ("\\xZZ", "two hex digits"),
                                         ("\\u00e9", "unknown escape")])
def test_an_invalid_escape_is_an_error_not_a_guess(silent_server, env, text, words, capsys):
    line = usage_error(probe_here(capsys, f"127.0.0.1:{silent_server.port}", "--no-tls", "--send", text))
    assert words in line
    assert not silent_server.seen.first_bytes


def test_serve_reply_escapes_are_the_bytes_the_client_gets(serve, env):
    server = serve("--reply", "hi\\x00\\xfe\\\\n\\r\\n")
    port = listening_port(server)
    result = probe(env, f"127.0.0.1:{port}", "--no-tls", "--send", "x", "--json")
    app = json.loads(result.stdout)["stages"][5]["detail"]
    assert bytes.fromhex(app["first_bytes_hex"]) == b"hi\x00\xfe\\n\r\n"
    bad = subprocess.run(TLSBENCH + ["serve", "--reply", "\\e"], capture_output=True, text=True, env=env,
                         timeout=20)
    assert bad.returncode == 2 and "unknown escape" in bad.stderr


def test_raw_bytes_to_send_cannot_be_saved_in_a_profile(capsys):
    from tlsbench.profiles.store import ProfileStore

    line = usage_error(probe_here(capsys, "127.0.0.1:1", "--no-tls", "--send", "\\xff", "--save-profile", "raw"))
    assert "not UTF-8" in line and "\\xff" in line
    assert not ProfileStore().exists("raw")


def test_copy_as_command_round_trips_every_byte():
    from tlsbench.engine.findings.checks import escape_text, unescape_text
    from tlsbench.engine.equivalents import tlsbench_command
    from tlsbench.engine.spec import build_spec

    text = unescape_text("a\\\\r\\r\\n\\t\\x00\\xff\\x1b\u202e")
    words = tlsbench_command(build_spec("127.0.0.1:7", tls=False, send=text)).words
    assert unescape_text(shlex.split(words[words.index("--send") + 1])[0]) == text
    assert escape_text(text) == "a\\\\r\\r\\n\\t\\x00\\xff\\x1b\\xe2\\x80\\xae"


# --- files named on the command line ------------------------------------------------------------

def test_a_device_given_as_the_listener_certificate(env):
    result = subprocess.run(TLSBENCH + ["serve", "--tls", "--cert", "/dev/zero"], capture_output=True,
                            text=True, env=env, timeout=20)
    assert result.returncode == 2 and "character device" in result.stderr  # not "file not found"


# --- text from the peer ---------------------------------------------------------------------------

def test_bidi_and_zero_width_characters_from_a_certificate_are_escaped_in_the_waterfall(tls_server, env,
                                                                                        tmp_path):
    from cryptography.x509.oid import NameOID

    from hostile_certs import self_signed

    files = self_signed(tmp_path, {NameOID.COMMON_NAME: "gnp.\u202eexe\u200b",
                                   NameOID.ORGANIZATION_NAME: "\u2066soft\u00adhyphen\ufeff"}, "localhost")
    server = tls_server(cert=files)
    result = probe(env, f"localhost:{server.port}", "--cafile", str(files.cert))
    assert result.returncode == 0, result.stdout + result.stderr
    for raw in ("\u202e", "\u200b", "\u2066", "\u00ad", "\ufeff"):
        assert raw not in result.stdout
    assert "gnp.\\u202eexe\\u200b" in result.stdout and "\\u2066soft\\u00adhyphen\\ufeff" in result.stdout
    data = json.loads(probe(env, f"localhost:{server.port}", "--cafile", str(files.cert), "--json").stdout)
    assert "gnp.\u202eexe\u200b" in data["chain"][0]["subject"]  # JSON keeps the text exact


# --- Ctrl-C ---------------------------------------------------------------------------------------

def _interrupt_when_tls_started(silent_server, env, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(TLSBENCH + ["probe", f"127.0.0.1:{silent_server.port}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while not silent_server.seen.first_bytes and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)  # the ClientHello reached the server: the tls stage is in flight
        assert silent_server.seen.first_bytes
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_with_json_prints_what_happened_marked_cancelled(silent_server, env):
    result = _interrupt_when_tls_started(silent_server, env, "--json")
    assert result.returncode == 130
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert data["cancelled"] is True and data["ok"] is False
    stages = {s["name"]: s for s in data["stages"]}
    assert stages["tcp"]["status"] == "ok" and stages["tls"]["summary"] == "cancelled"


def test_ctrl_c_on_the_waterfall_shows_what_ran_and_cancelled(silent_server, env):
    result = _interrupt_when_tls_started(silent_server, env)
    assert result.returncode == 130
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[1:2] == ["tcp"] for line in lines if len(line.split()) > 1)
    assert lines[-1].startswith(f"cancelled 127.0.0.1:{silent_server.port}")


def test_serve_describe_escapes_every_field_from_the_client():
    from tlsbench.commands.serve import describe
    from tlsbench.engine.listener.events import ClientHelloSeen, HandshakeDone

    hello = describe(ClientHelloSeen(1, "a\u202eb\x1b[2J", ("h2\u200b",), ("TLS 1.3",), 3))
    done = describe(HandshakeDone(client_id=1, ok=True, version="TLSv1.3", cipher="X", alpn="\x1b]0;t\x07\u2067",
                                  duration_ms=1.0))
    for line in (hello, done):
        assert not any(ch in line for ch in "\x1b\x07\u202e\u200b\u2067"), line
    assert "\\u2067" in done and "\\e]0;t\\x07" in done


def test_the_workbench_shows_invisible_characters_escaped():
    from tlsbench.tui.safe_text import data, line

    text = data("gnp.\u202eexe\u200b[bold]x[/]\x1b")
    assert text.plain == "gnp.\\u202eexe\\u200b[bold]x[/]\\e" and not text.spans
    assert line(("\u2066sni\u2069", "bold")).plain == "\\u2066sni\\u2069"


def test_the_compose_form_marks_a_bad_escape_on_its_field():
    from tlsbench.errors import InputError
    from tlsbench.engine.options import unescape

    with pytest.raises(InputError) as info:
        unescape("EHLO\\q")
    assert info.value.field == "send"
    assert unescape("EHLO x\\r\\n") == "EHLO x\r\n"

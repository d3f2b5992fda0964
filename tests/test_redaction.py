"""No secret leaves the process: a proxy password tlsbench was given, echoed back by a hostile proxy in
every form, appears in no output — the waterfall, -v/--msg, --json, a --save-run file, `show`, the
history, the clipboard (OSC 52) — decoded however it was written, and not as a piece left at a cut."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_peers import Peers, http_head, socks5_auth, socks5_greeting, socks5_request
from secret_search import leaks
from tlsbench.engine.records.redact import FRAGMENT, MASK, Redactor, credential_forms

USER = "alice"
PASSWORD = "Sx7!q p@ss/wörd%z-9Kf"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
CUT_HEX = 512  # the proxy stage keeps this much of a reply as hex
CUT_BODY = 2048  # and this much of a refusal's body as text


def _echo_407(conn: socket.socket) -> None:
    """An HTTP proxy that answers 407 and echoes the client's Proxy-Authorization in a header and in
    its body, decoded and re-encoded, with copies placed across the points where tlsbench cuts."""
    head = http_head(conn).decode("latin-1")
    auth = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                 if line.lower().startswith("proxy-authorization:")), "")
    token = auth.split(" ", 1)[-1]
    creds = base64.b64decode(token + "==").decode("utf-8", "replace") if token else ""
    password = creds.partition(":")[2]
    status = f"HTTP/1.1 407 Denied {creds}\r\nProxy-Authenticate: Basic realm=\"{auth}\"\r\n"
    echo = f"X-Echo: {auth}\r\nX-Creds: {creds}\r\n"
    # The second copy of the token starts so that byte CUT_HEX falls in its password part.
    lead = f"{status}{echo}X-Pad: "
    before_cut = len((lead + "\r\nX-Echo-2: Basic ").encode()) + 14
    pad = "a" * (CUT_HEX - before_cut)
    body = (f"Proxy-Authorization: {auth}\nyou are {creds}\nquoted: {quote(password, safe='')}\n"
            f"hex: {password.encode().hex(' ')}\n").encode()
    body += b"." * (CUT_BODY - len(body) - 7) + password.encode() + b"\n"  # cut 7 bytes into the password
    head_out = f"{lead}{pad}\r\nX-Echo-2: {auth}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    conn.sendall(head_out + body)
    conn.settimeout(2)
    try:
        conn.recv(1)
    except OSError:
        pass


def _malformed_echo(conn: socket.socket) -> None:
    """An HTTP proxy whose answer has a malformed header line (no colon) echoing the credentials, so
    that tlsbench quotes the line cut at 80 characters in the middle of its own words."""
    head = http_head(conn).decode("latin-1")
    auth = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                 if line.lower().startswith("proxy-authorization:")), "")
    pad = "x" * (80 - len("echo Basic ") - 12)  # the cut falls 12 characters into the token
    conn.sendall(f"HTTP/1.1 407 No\r\necho {pad}{auth}\r\n\r\n".encode("latin-1"))
    conn.settimeout(2)
    try:
        conn.recv(1)
    except OSError:
        pass


def test_a_cut_quoted_inside_a_message_leaks_nothing(peers, tmp_path):
    env = _env(tmp_path)
    done = _run("probe", "localhost:443", "-x", f"http://{peers.address(_malformed_echo)}", "-U",
                f"{USER}:{PASSWORD}", "--no-tls", "--timeout", "3", "--json", env=env)
    assert done.returncode == 1 and "malformed header" in done.stdout.decode()
    assert leaks(_everything(done), USER, PASSWORD) == []


def _socks5_echo(conn: socket.socket) -> None:
    """A SOCKS5 proxy that takes the RFC 1929 user/password and sends the sub-negotiation's bytes back
    as the bound address of its (refusing) reply."""
    socks5_greeting(conn)
    conn.sendall(b"\x05\x02")
    user, password = socks5_auth(conn)
    conn.sendall(b"\x01\x00")
    socks5_request(conn)
    echoed = b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password
    conn.sendall(b"\x05\x02\x00\x03" + bytes([len(echoed)]) + echoed + struct.pack(">H", 443))
    conn.settimeout(2)
    try:
        conn.recv(1)
    except OSError:
        pass


@pytest.fixture(scope="module")
def peers():
    registry = Peers()
    yield registry
    registry.stop()


def _env(tmp_path: Path) -> dict:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TLSBENCH_")},
            "TLSBENCH_CONFIG_DIR": str(tmp_path / "cfg"), "TLSBENCH_DATA_DIR": str(tmp_path / "data"),
            "PYTHONIOENCODING": "utf-8"}


def _run(*args: str, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "tlsbench", *args], capture_output=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert b"Traceback" not in done.stderr, done.stderr
    return done


def _everything(done: subprocess.CompletedProcess) -> str:
    return done.stdout.decode("utf-8", "surrogateescape") + "\n" + done.stderr.decode("utf-8", "surrogateescape")


def test_the_echo_proxy_really_echoes_the_secret(peers):
    """The peer is as hostile as the test says: without the mask its answer is full of the secret."""
    with socket.create_connection(tuple(peers.address(_echo_407).rsplit(":", 1)), timeout=5) as conn:
        conn.sendall(f"CONNECT x:443 HTTP/1.1\r\nProxy-Authorization: Basic {TOKEN}\r\n\r\n".encode())
        answer = bytearray()
        while chunk := conn.recv(65536):
            answer += chunk
            if len(answer) > CUT_BODY + 600:
                break
    raw = bytes(answer)
    assert TOKEN.encode() in raw and PASSWORD.encode() in raw
    assert raw[CUT_HEX - 8:CUT_HEX + 8] in TOKEN.encode()  # a copy straddles the hex cut


def test_a_407_echoing_proxy_authorization_leaks_nothing(peers, tmp_path):
    env = _env(tmp_path)
    route = ["-x", f"http://{peers.address(_echo_407)}", "-U", f"{USER}:{PASSWORD}", "--no-tls", "--timeout", "3"]
    saved = tmp_path / "run.json"
    outputs = {
        "waterfall": _run("probe", "localhost:443", *route, env=env),
        "-v": _run("probe", "localhost:443", *route, "-v", env=env),
        "--msg": _run("probe", "localhost:443", *route, "--msg", env=env),
        "--json": _run("probe", "localhost:443", *route, "--json", env=env),
        "--json --msg": _run("probe", "localhost:443", *route, "--json", "--msg", env=env),
        "--save-run": _run("probe", "localhost:443", *route, "--save-run", str(saved), "--save-profile", "echo",
                           env=env),
    }
    for name, done in outputs.items():
        assert done.returncode == 1, (name, done.stderr)
        assert done.stdout.strip(), name
    result = json.loads(outputs["--json"].stdout)
    proxy = next(s for s in result["stages"] if s["name"] == "proxy")
    assert proxy["detail"]["reply_code"] == 407
    assert MASK in proxy["detail"]["received_text"] and MASK in proxy["detail"]["body_text"]
    tls_route = [arg for arg in route if arg != "--no-tls"]
    outputs["--diagnose --json"] = _run("probe", "localhost:443", *tls_route, "--diagnose", "--json", env=env)
    outputs["--enumerate --json"] = _run("probe", "localhost:443", *tls_route, "--enumerate", "--json", env=env)
    outputs["show --text --msg"] = _run("show", str(saved), "--text", "--msg", env=env)
    outputs["show --json --msg"] = _run("show", str(saved), "--json", "--msg", env=env)
    outputs["history"] = _run("history", "echo", "--json", env=env)
    for name, done in outputs.items():
        assert leaks(_everything(done), USER, PASSWORD) == [], name
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert saved in files and any("history" in str(p) or p.suffix == ".jsonl" for p in files), files
    for path in files:
        assert leaks(path.read_bytes(), USER, PASSWORD) == [], path


def test_every_event_leaves_the_engine_masked(peers):
    """In process: each event and the result, as front-ends get them; the diagnosis still comes from the
    exact bytes (the proxy refused the credentials that were sent)."""
    from tlsbench.engine.runner import run_probe
    from tlsbench.engine.spec import build_spec

    spec = build_spec("localhost:443", proxies=[f"http://{peers.address(_echo_407)}"], proxy_user=USER,
                      proxy_password=PASSWORD, tls=False, timeout=3)
    events: list = []
    result = run_probe(spec, on_event=events.append)
    assert result.codes()[0] == "proxy-auth-failed"
    assert leaks(repr(events) + repr(result), USER, PASSWORD) == []
    for event in events:
        for value in _strings(event):
            assert leaks(value, USER, PASSWORD) == [], value[:200]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes):
        return [value.decode("latin-1"), value.hex(" ")]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _strings(v)]
    return []


def test_a_socks5_proxy_echoing_the_rfc1929_bytes_leaks_nothing(peers, tmp_path):
    env = _env(tmp_path)
    route = ["-x", f"socks5h://{peers.address(_socks5_echo)}", "-U", f"{USER}:{PASSWORD}", "--no-tls",
             "--timeout", "3"]
    shown = _run("probe", "localhost:443", *route, "-v", env=env)
    as_json = _run("probe", "localhost:443", *route, "--json", env=env)
    assert shown.returncode == as_json.returncode == 1
    proxy = next(s for s in json.loads(as_json.stdout)["stages"] if s["name"] == "proxy")
    assert proxy["detail"]["reply_code"] == 2 and "2a 2a 2a" in proxy["detail"]["received_hex"]
    for done in (shown, as_json):
        assert leaks(_everything(done), USER, PASSWORD) == []


def test_a_tunnel_through_squid_with_a_password_shows_every_message_and_no_secret(squid_proxy_auth, tls_server,
                                                                                  lab_certs, tmp_path):
    """A real authenticating proxy and a TLS server: -v/--msg and --json --msg hold every TLS message's
    bytes as they were (the mask changes nothing that is not a secret) and none of the password."""
    server = tls_server("good")
    user, password = squid_proxy_auth.username, squid_proxy_auth.password
    args = ["probe", f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "-x", squid_proxy_auth.url,
            "-U", f"{user}:{password}"]
    shown = _run(*args, "--msg", env=_env(tmp_path))
    as_json = _run(*args, "--json", "--msg", env=_env(tmp_path))
    assert shown.returncode == as_json.returncode == 0, shown.stderr
    for done in (shown, as_json):  # "squid-secret" shares "squid" with "squiduser", which is no secret
        assert leaks(_everything(done), user, password) == []
    data = json.loads(as_json.stdout)
    messages = data["tls"]["messages"]
    assert messages and all(m["length"] + 4 == len(bytes.fromhex(m["hex"])) for m in messages
                            if m["content_type"] == "handshake")
    assert "2a2a2a" not in "".join(m["hex"] for m in messages)
    proxy = next(s for s in data["stages"] if s["name"] == "proxy")
    assert proxy["detail"]["reply_code"] == 200 and "Proxy-Authorization: Basic" in proxy["detail"]["sent_text"]
    assert proxy["proxy"] == f"http://{user}@{squid_proxy_auth.address}"  # the user name is no secret: kept


async def test_the_workbench_copies_through_the_mask():
    """Whatever the workbench copies goes out as OSC 52 with the run's secrets masked."""
    from tlsbench.engine.spec import build_spec
    from tlsbench.tui.app import WorkbenchApp

    spec = build_spec("localhost:443", proxies=[f"http://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:9"])
    app = WorkbenchApp(spec=spec)
    async with app.run_test() as pilot:
        await pilot.pause()
        written: list[str] = []
        driver = app._driver
        assert driver is not None
        real_write = driver.write
        driver.write = lambda data: (written.append(data), real_write(data))[1]  # type: ignore[method-assign]
        text = f"echo: Basic {TOKEN} / {PASSWORD} / {quote(PASSWORD)}\ncut: {TOKEN[:15]}"
        assert leaks(text, USER, PASSWORD) != []  # the search sees it when it is there
        app.copy_to_clipboard(text)
        payload = "".join(w for w in written if w.startswith("\x1b]52;"))
        assert payload and leaks(payload, USER, PASSWORD) == [] and MASK in app.clipboard
        assert leaks(app.clipboard, USER, PASSWORD) == []


async def test_the_workbench_shows_and_keeps_nothing_of_the_secret(peers, tmp_path):
    """A run through the echoing proxy in the workbench: its screen, its stored events and result."""
    from tests.tui_helpers import app_for, settle, svg_text, wait_for_result
    from tlsbench.engine.spec import build_spec

    spec = build_spec("localhost:443", proxies=[f"http://{peers.address(_echo_407)}"], proxy_user=USER,
                      proxy_password=PASSWORD, tls=False, timeout=3)
    app = app_for(tmp_path, spec=spec, run=True)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        result = await wait_for_result(pilot)
        assert result.codes()[0] == "proxy-auth-failed"
        await pilot.press("f6")  # every row expanded
        await pilot.pause()
        shown = svg_text(app)
        assert "407" in shown
        assert leaks(shown, USER, PASSWORD) == []
        assert leaks(repr(app.screen.run_events) + repr(result), USER, PASSWORD) == []


# --- the mask itself ------------------------------------------------------------------------------

def _encodings(user: str, password: str) -> list[bytes]:
    raw = password.encode()
    return [raw, quote(password, safe="").encode(), base64.b64encode(f"{user}:{password}".encode()),
            b"\x01" + bytes([len(user.encode())]) + user.encode() + bytes([len(raw)]) + raw]


users = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters=":"), min_size=1,
                max_size=12)
passwords = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF), min_size=6, max_size=24)
filler = st.binary(max_size=64)


@settings(max_examples=300, deadline=None)
@given(users, passwords, filler, filler, st.integers(0, 3), st.integers(0, 200))
def test_no_encoding_of_a_secret_survives_the_mask(user, password, before, after, which, cut):
    mask = Redactor.of_credentials([(user, password)])
    form = _encodings(user, password)[which]
    buffer = before + form + after
    out = mask.redact_bytes(buffer)
    assert form not in out
    assert password.encode() not in out
    # What lies outside the match survives when it cannot be the start or end of a form.
    if not any(before.endswith(f[:k]) or after.startswith(f[-k:]) or f in before + after
               for f in mask.forms for k in range(1, len(f))):
        assert out == before + MASK.encode() + after
    # As text and as hex the same holds.
    text = mask.redact_text(buffer.decode("latin-1"))
    assert form.decode("latin-1") not in text and password not in text
    hexed = mask.redact_text(buffer.hex(" "))
    assert form.hex(" ") not in hexed
    # Cut anywhere, and quoted in the middle of other text: no start of FRAGMENT bytes or more that reaches
    # into the password, and no end of FRAGMENT bytes, is left (base64 and RFC 1929 begin with what
    # encodes the user name alone).
    k = min(cut, len(form))
    start, end = form[:k], form[len(form) - k:]
    if k >= FRAGMENT and k > mask.forms[form]:
        for buffer in (before + start, before + start + after):
            assert start not in mask.redact_bytes(buffer), buffer
            assert start.hex(" ") not in mask.redact_text(buffer.hex(" "))
            assert start.decode("latin-1") not in mask.redact_text(buffer.decode("latin-1"))
    if k >= FRAGMENT:
        for buffer in (end + after, before + end + after):
            assert end not in mask.redact_bytes(buffer), buffer
            assert end.hex() not in mask.redact_text(buffer.hex())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_the_mask_leaves_bytes_without_a_secret_alone(data):
    mask = Redactor.of_credentials([("bob", "correct horse")])
    if not any(f[:FRAGMENT] in data or f[-FRAGMENT:] in data for f in mask.forms):
        assert mask.redact_bytes(data) == data
        assert mask.redact_text(data.hex(" ")) == data.hex(" ")


def test_every_form_is_known():
    forms = credential_forms(USER, PASSWORD)
    assert TOKEN.encode() in forms and PASSWORD.encode() in forms
    assert quote(PASSWORD, safe="").encode() in forms and _lower_escapes(quote(PASSWORD, safe="")).encode() in forms
    assert b"\x01\x05alice" + bytes([len(PASSWORD.encode())]) + PASSWORD.encode() in forms
    assert re.search(rb"%[0-9a-f]{2}", _lower_escapes(quote(PASSWORD, safe="")).encode())


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def test_a_short_password_is_masked_where_it_stands_alone():
    """"p" cannot be masked inside every word: it is masked as a word, its long forms everywhere."""
    mask = Redactor.of_credentials([("u", "p")])
    assert mask.redact_text("user name and password") == "user name and password"
    assert mask.redact_text("X-Creds: u:p\r\n") == "X-Creds: u:***\r\n"
    token = base64.b64encode(b"u:p").decode()
    assert mask.redact_text(f"Basic {token}") == "Basic ***"
    assert mask.redact_bytes(b"\x01\x01u\x01p") == MASK.encode()
    assert mask.redact_bytes(b"\x16\x03\x01p") == b"\x16\x03\x01p"  # binary data stays as it is


def test_a_secret_quoted_by_python_is_masked():
    """A message that quotes peer bytes with {data!r} escapes backslashes, quotes and non-ASCII bytes."""
    password = 'a\\b"c\'dörd'
    mask = Redactor.of_credentials([(USER, password)])
    text = f"a malformed line: {password!r}; the bytes: {password.encode()!r}"
    assert mask.redact_text(text) == "a malformed line: '***'; the bytes: b'***'"



@pytest.mark.parametrize("url", ["htp://alice:Sx7-secret@127.0.0.1:3128", "http://alice:Sx7/secret@127.0.0.1:3128",
                                 "http://alice:Sx7-secret@127.0.0.1:3128/path"])
def test_a_bad_proxy_url_is_refused_without_its_password(url, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tlsbench", "probe", "localhost:443", "-x", url], capture_output=True,
                          env=_env(tmp_path), timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert b"secret" not in done.stderr and b"alice:***@" in done.stderr

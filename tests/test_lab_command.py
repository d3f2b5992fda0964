"""The lab (`tlsbench.lab.lab.Lab`) and `tlsbench lab`: real servers, real probes, real profiles."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest
from cryptography import x509

from conftest import need, need_binary
from tlsbench.lab.certs import ensure_lab_certs, load_lab_certs, make_lab_certs
from tlsbench.lab.lab import Lab, probe_command

pytestmark = pytest.mark.servers

EXPECTED = {
    "lab-good-tls": (0, []),
    "lab-socks5-tls": (0, []),
    "lab-sni-pinned": (0, []),
    "lab-sni-missing": (1, ["sni-required"]),
    "lab-plaintext-port": (1, ["not-tls"]),
    "lab-smtp-banner": (1, ["not-tls"]),
    "lab-expired": (1, ["cert-expired"]),
    "lab-silent": (1, ["tls-timeout"]),
    "lab-http2": (0, []),
    "lab-http3": (0, []),
    "lab-dns-plain": (0, []),
    "lab-dns-dot": (0, []),
    "lab-dns-doh": (0, []),
}
if os.geteuid() == 0:  # the MTA and dovecot start only as root (test_lab_starttls.py: the lab without them)
    EXPECTED.update({
        "lab-smtp-starttls": (0, []),
        "lab-smtp-no-starttls": (1, ["starttls-not-offered"]),
        "lab-imap-starttls": (0, []),
    })


def probe(spec) -> tuple[int, dict]:
    words = shlex.split(probe_command(spec))
    assert words[:2] == ["tlsbench", "probe"]
    result = subprocess.run([sys.executable, "-m", "tlsbench", *words[1:], "--json"],
                            capture_output=True, text=True, timeout=60)
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
def lab(tmp_path):
    # No preferred ports: tests must run beside each other and beside a person's own lab.
    with need(Lab(data_dir=tmp_path, preferred_ports={}).start) as running:
        yield running


def test_lab_entries_reproduce_the_seeds(lab):
    assert [e.name for e in lab.entries] == list(EXPECTED)
    for entry in lab.entries:
        assert not entry.unavailable, (entry.name, entry.unavailable)  # the suite's machine has every server
        code, report = probe(entry.spec)
        want_code, want_findings = EXPECTED[entry.name]
        errors = [f["code"] for f in report["findings"] if f["severity"] == "error"]
        assert (entry.name, code, errors) == (entry.name, want_code, want_findings)
        app = next(s for s in report["stages"] if s["name"] == "app")["detail"] or {}
        if entry.name == "lab-http2":
            assert (app.get("protocol"), app.get("status")) == ("h2", 200)
        if entry.name == "lab-http3":
            assert app.get("status") == 200
        if entry.name.startswith("lab-dns-"):
            resolve = report["stages"][0]["detail"]
            assert resolve["cname_chain"] == ["www.lab.test", "edge.lab.test", "host.lab.test"]
    assert lab.certs.directory == lab.data_dir / "lab" / "certs"


def test_lab_socks_seed_goes_through_the_proxy(lab):
    entry = lab.entry("lab-socks5-tls")
    assert entry.spec.proxy is not None and entry.spec.proxy.kind == "socks5h"
    code, report = probe(entry.spec)
    proxy_stage = next(s for s in report["stages"] if s["name"] == "proxy")
    assert code == 0 and proxy_stage["status"] == "ok"
    assert report["socket"]["peer_port"] == entry.spec.proxy.port


def test_lab_takes_another_port_when_the_preferred_one_is_busy(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        busy = squatter.getsockname()[1]
        with need(Lab(data_dir=tmp_path, preferred_ports={"good": busy, "plaintext": busy}).start) as lab:
            good, plain = lab.entry("lab-good-tls"), lab.entry("lab-plaintext-port")
            assert busy not in (good.spec.port, plain.spec.port)
            assert probe(good.spec)[0] == 0


def test_lab_serves_localhost_on_ipv6_too(monkeypatch, tmp_path):
    # Where "localhost" resolves to ::1 first, the seeds' servers must answer there as well.
    import ssl

    import tlsbench.lab.lab as lab_module

    need_binary("openssl")
    monkeypatch.setattr(lab_module, "_localhost_has_ipv6", lambda: True)
    with need(Lab(data_dir=tmp_path, preferred_ports={}).start) as lab:
        good, plain = lab.entry("lab-good-tls"), lab.entry("lab-plaintext-port")
        ctx = ssl.create_default_context(cafile=str(lab.certs.ca_cert))
        with socket.create_connection(("::1", good.spec.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == "TLSv1.3"
        with socket.create_connection(("::1", plain.spec.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 200 OK")


def _descendants(pid: int) -> set[int]:
    """Every process whose parent chain leads to `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _listener_pids(port: int) -> set[int]:
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    return {int(p) for p in re.findall(r"pid=(\d+)", out)}


def test_lab_stop_stops_every_server(tmp_path):
    lab = need(Lab(data_dir=tmp_path, preferred_ports={}).start)
    ports = {e.spec.port for e in lab.entries} | {e.spec.proxy.port for e in lab.entries if e.spec.proxy}
    ours = _descendants(os.getpid()) | {os.getpid()}  # the lab's servers, and this process's own
    assert ours - {os.getpid()}, "the lab started no server process"
    lab.stop()
    assert lab.entries == []
    for port in ports:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except ConnectionRefusedError:
            continue
        # Accepted: the suite's other workers start servers too, and one may have been given this
        # port since; it must not be a process of this lab (nor a server thread of this process).
        holders = _listener_pids(port)
        assert holders and not holders & ours, (port, holders)


def test_lab_certificates_are_reused_then_remade_when_stale(tmp_path):
    now = dt.datetime.now(dt.timezone.utc)
    first = ensure_lab_certs(tmp_path, names=("www.lab.test",))
    ca_bytes = first.ca_cert.read_bytes()
    assert ensure_lab_certs(tmp_path, names=("www.lab.test",)) == first
    assert first.ca_cert.read_bytes() == ca_bytes  # reused, not remade
    # Made 400 days ago: the good leaf has ended, so it is remade.
    make_lab_certs(tmp_path, now=now - dt.timedelta(days=400))
    assert load_lab_certs(tmp_path) is None
    fresh = ensure_lab_certs(tmp_path)
    leaf = x509.load_pem_x509_certificate(fresh.good.cert.read_bytes())
    assert leaf.not_valid_after_utc > now + dt.timedelta(days=300)
    fresh.expired.cert.unlink()
    assert load_lab_certs(tmp_path) is None


# --- the command --------------------------------------------------------------------------------

def run_lab_command(env, *args, wait_for="serving", stop_signal=signal.SIGINT):
    proc = subprocess.Popen([sys.executable, "-m", "tlsbench", "lab", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:  # the lab prints "serving; ..." once everything is up
            lines.append(line)
            if wait_for in line or time.monotonic() > deadline:
                break
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines) + out, err


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_lab_no_ui_prints_saves_and_stops_cleanly(tmp_path, stop_signal):
    need_binary("openssl")
    config, data = tmp_path / "config", tmp_path / "data"
    (config / "profiles").mkdir(parents=True)
    mine = config / "profiles" / "mine.toml"
    mine.write_text("# my own\nhost = \"example.org\"\nport = 443\n")
    env = dict(os.environ, TLSBENCH_CONFIG_DIR=str(config), TLSBENCH_DATA_DIR=str(data), NO_COLOR="1")
    code, out, err = run_lab_command(env, "--no-ui", stop_signal=stop_signal)
    assert code == 0, err
    assert "Traceback" not in err and err.strip() == "lab stopped"
    for name in EXPECTED:
        assert re.search(rf"^{name}\s", out, re.M), out
        assert (config / "profiles" / f"{name}.toml").is_file()
    assert mine.read_text() == "# my own\nhost = \"example.org\"\nport = 443\n"
    assert (data / "lab" / "certs" / "ca.pem").is_file()
    good_port = int(re.search(r"^lab-good-tls\s+localhost:(\d+)", out, re.M).group(1))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", good_port), timeout=5)


def test_lab_bad_option_is_one_line_and_exit_2():
    result = subprocess.run([sys.executable, "-m", "tlsbench", "lab", "--bogus"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--bogus" in result.stderr


def test_lab_opens_the_workbench_on_the_first_profile_and_stops_after(monkeypatch, tmp_path):
    # The workbench itself is tested elsewhere; here it is replaced by a function that connects
    # to the lab while it runs, the way the workbench would.
    import tlsbench.commands.workbench as workbench
    from tlsbench.commands import lab as lab_command
    from tlsbench.profiles.store import ProfileStore

    need_binary("openssl")
    seen = {}

    def fake_run_workbench(profile=None, run=False, spec=None):
        seen["profile"], seen["run"] = profile, run
        seen["spec"] = ProfileStore().get(profile).spec
        seen["probe"] = probe(seen["spec"])[0]
        return 0

    monkeypatch.setattr(workbench, "run_workbench", fake_run_workbench)
    assert lab_command.main([]) == 0
    assert (seen["profile"], seen["run"], seen["probe"]) == ("lab-good-tls", False, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", seen["spec"].port), timeout=5)


# --- situations whose server cannot start -------------------------------------------------------

def test_a_situation_whose_server_cannot_start_stays_marked_with_why(monkeypatch, tmp_path):
    import tlsbench.lab.mail_servers as mail_servers
    from tlsbench.commands.lab import describe, save_profiles
    from tlsbench.lab.processes import ServerUnavailable
    from tlsbench.profiles.store import ProfileStore

    def no_postfix(*args, **kwargs):
        raise ServerUnavailable("postfix")

    monkeypatch.setattr(mail_servers, "postfix", no_postfix)
    monkeypatch.setattr("tlsbench.lab.service.is_root", lambda: True)  # as root, where postfix would start
    monkeypatch.setattr(mail_servers, "dovecot", lambda *a, **k: (_ for _ in ()).throw(ServerUnavailable("dovecot")))
    with need(Lab(data_dir=tmp_path, preferred_ports={}).start) as lab:
        assert [e.name for e in lab.entries][-3:] == ["lab-smtp-starttls", "lab-smtp-no-starttls", "lab-imap-starttls"]
        smtp = lab.entry("lab-smtp-starttls")
        assert smtp.unavailable.startswith("postfix is not installed (Debian package: postfix")
        assert smtp.spec.starttls.protocol == "smtp" and smtp.spec.port == 42587
        assert lab.entry("lab-imap-starttls").unavailable.startswith("dovecot is not installed")
        assert lab.entry("lab-good-tls").unavailable == ""
        store = ProfileStore(tmp_path / "config")
        saved, problems = save_profiles(lab, store)
        assert "lab-smtp-starttls" in saved and problems == []
        assert store.get("lab-smtp-starttls").unavailable == smtp.unavailable
        assert store.get("lab-good-tls").unavailable == ""
        assert f"NOT RUNNING: {smtp.unavailable}" in describe(lab)


def test_a_profile_marked_not_running_loses_the_mark_once_its_server_runs(tmp_path):
    from tlsbench.engine.spec import build_spec
    from tlsbench.profiles.model import Profile
    from tlsbench.profiles.store import ProfileStore

    store = ProfileStore(tmp_path / "config")
    spec = build_spec("mail.lab.test:42587", starttls="smtp")
    store.save(Profile("lab-smtp-starttls", spec, "An SMTP server", "postfix is not installed"))
    assert 'unavailable = "postfix is not installed"' in store.read_text("lab-smtp-starttls")
    from tlsbench.profiles.describe import summary_lines

    assert "status    not running: postfix is not installed" in summary_lines(store.get("lab-smtp-starttls"))
    store.save(Profile("lab-smtp-starttls", spec, "An SMTP server"))
    assert "unavailable" not in store.read_text("lab-smtp-starttls")
    assert store.get("lab-smtp-starttls").unavailable == ""


async def test_the_workbench_marks_a_profile_whose_server_is_not_running_and_says_why(tmp_path):
    from tests.tui_helpers import SIZE, app_for, launched, screen_text
    from tlsbench.engine.spec import build_spec
    from tlsbench.profiles.model import Profile

    from tlsbench.profiles.store import ProfileStore

    store = ProfileStore(tmp_path / "config")  # the store app_for opens
    store.save(Profile("lab-imap-starttls", build_spec("mail.lab.test:42143", starttls="imap"), "IMAP",
                       "dovecot is not installed"))
    store.save(Profile("lab-good-tls", build_spec("localhost:44301")))
    app = app_for(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await launched(pilot)
        assert "⚠ not running: " in screen_text(app)  # the mark, on that profile only
        listed = app.screen.query_one("#profile-options")
        prompts = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
        assert [p for p in prompts if "not running" in p] == [
            "lab-imap-starttls\nmail.lab.test:42143\n⚠ not running: dovecot is not installed"]
        listed.focus()
        listed.highlighted = 1  # choosing it says why in full
        await pilot.pause()
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert "lab-imap-starttls is not running: dovecot is not installed" in said, said


def test_a_proxy_that_will_not_start_falls_back_and_then_is_marked(monkeypatch, tmp_path):
    import tlsbench.lab.socks_servers as socks_servers
    from tlsbench.lab.processes import ServerStartError, ServerUnavailable

    def broken(*args, **kwargs):
        raise ServerStartError("microsocks exited with code 1 before accepting on 127.0.0.1:41080: (no output)")

    def missing(*args, **kwargs):
        raise ServerUnavailable("pproxy", "pproxy (PyPI: pip install pproxy)")

    monkeypatch.setattr(socks_servers, "microsocks", broken)
    monkeypatch.setattr(socks_servers, "pproxy_socks5", missing)
    with need(Lab(data_dir=tmp_path, preferred_ports={}).start) as lab:  # the rest of the lab runs
        entry = lab.entry("lab-socks5-tls")
        assert entry.unavailable == ("no SOCKS5 proxy: microsocks exited with code 1 before accepting on "
                                     "127.0.0.1:41080: (no output); and pproxy is not installed (Debian package: "
                                     "pproxy (PyPI: pip install pproxy); apt-get install pproxy (PyPI: pip "
                                     "install pproxy))")
        assert entry.spec.proxy.kind == "socks5h" and entry.spec.proxy.port == 41080
        assert lab.entry("lab-good-tls").unavailable == ""

"""curl's --resolve HOST:PORT:ADDR and s_client's -servername spelling (--servername) work as aliases."""

import json
import subprocess
import sys

import pytest


def probe(*argv):
    return subprocess.run([sys.executable, "-m", "tlsbench", "probe", *argv], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_resolve_pins_the_target_and_keeps_the_name(tls_server, lab_certs):
    server = tls_server()
    done = probe(f"www.lab.test:{server.port}", "--resolve", f"www.lab.test:{server.port}:127.0.0.1",
                 "--cafile", str(lab_certs.ca_cert), "--json")
    result = json.loads(done.stdout)
    assert done.returncode == 0, result["findings"]
    resolve = result["stages"][0]["detail"]
    assert resolve["pinned"] is True and resolve["chosen"] == "127.0.0.1"
    assert result["tls"]["sni"] == "www.lab.test" and result["chain_verification"]["hostname"] == "www.lab.test"


def test_servername_is_sni(tls_server, lab_certs):
    server = tls_server(sni_name="alt.test", sni_cert="alt")
    done = probe(f"127.0.0.1:{server.port}", "--servername", "alt.test", "--cafile", str(lab_certs.ca_cert),
                 "--json")
    result = json.loads(done.stdout)
    assert result["tls"]["sni"] == "alt.test" and result["chain"][0]["subject"].startswith("CN=alt.test")


@pytest.mark.parametrize("argv, words", [
    (["www.lab.test:443", "--resolve", "other.test:443:127.0.0.1"], "but the target is www.lab.test:443"),
    (["www.lab.test:443", "--resolve", "www.lab.test:8443:127.0.0.1"], "but the target is"),
    (["www.lab.test:443", "--resolve", "nonsense"], "expected HOST:PORT:ADDR"),
    (["www.lab.test:443", "--resolve", "www.lab.test:443:not-an-ip"], "not an IP address"),
    (["www.lab.test:443", "--resolve", "www.lab.test:443:127.0.0.1", "--pin", "127.0.0.1"], "give one"),
])
def test_a_resolve_entry_for_something_else_is_refused(argv, words):
    done = probe(*argv)
    assert done.returncode == 2 and words in done.stderr and done.stderr.count("\n") == 1

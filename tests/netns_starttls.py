"""Run inside a new network namespace (`unshare -n`): start a server on a well-known port of the
empty namespace (993, 636, 389: free there whatever runs on the host), probe it with each value
set given, and print each result's JSON on a line. Used by test_starttls_servers.py.

    python netns_starttls.py '{"certs": DIR, "server": "s_server"|"slapd", "port": 993, "probes": [{...}]}'
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile


def main() -> int:
    config = json.loads(sys.argv[1])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    from tlsbench.engine.options import spec_from_values
    from tlsbench.engine.runner import run_probe
    from tlsbench.lab.certs import issue_leaf, load_lab_certs

    certs = load_lab_certs(config["certs"])
    port = config["port"]
    if config["server"] == "s_server":
        from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

        server = openssl_server(TlsServerOptions(certs.good), "127.0.0.1", port, tempfile.mkdtemp())
    else:
        from tlsbench.lab.ldap_server import slapd

        leaf = issue_leaf(certs, ("ldap.lab.test", "127.0.0.1", "localhost"), tempfile.mkdtemp(), "slapd")
        server = slapd(leaf, "127.0.0.1", port)
    try:
        if server.port != port:
            print(json.dumps({"error": f"port {port} was not free in the new namespace"}))
            return 3
        for values in config["probes"]:
            values = {"target": f"127.0.0.1:{port}", "verify": "cafile", "cafile": str(certs.ca_cert), **values}
            print(json.dumps(run_probe(spec_from_values(values)).to_json_dict()), flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

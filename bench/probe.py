"""Benchmark: `tlsbench probe` against a minimal Python client, curl and openssl, in one run.

Starts one local `openssl s_server` (lab certificates) and measures, alternating the tools
round by round so that machine noise hits them alike:

* whole process: `tlsbench probe --json` vs a minimal Python ssl client, the same client that also
  parses the leaf with `cryptography` and prints its subject and expiry (what a probe must at least
  do), curl and s_client — wall clock, and the CPU time of the process (steadier on a busy machine);
* per stage: tlsbench's own tcp and tls durations vs curl's time_connect and
  time_appconnect - time_connect, on the same server.

Prints a table of medians and the ratios. Usage: .venv/bin/python bench/probe.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tlsbench.lab.certs import make_lab_certs
from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

# What any Python program that parses certificates with cryptography pays before doing anything.
IMPORT_FLOOR = "import argparse, json, socket, ssl; from cryptography import x509"

MINIMAL_CLIENT = """
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=sys.argv[1]) as tls:
        print(tls.version())
"""

MINIMAL_X509_CLIENT = """
import socket, ssl, sys
from cryptography import x509
ctx = ssl.create_default_context(cafile=sys.argv[3])
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=sys.argv[1]) as tls:
        leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        print(tls.version(), leaf.subject.rfc4514_string(), leaf.not_valid_after_utc.isoformat())
"""

CPU: dict[str, list[float]] = {}  # per tool: the CPU ms (user + system) of each of its processes


def timed(argv: list[str], env: dict | None = None, name: str | None = None) -> tuple[float, str]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    elapsed = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if name:
        CPU.setdefault(name, []).append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:3])}... failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 2
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} is not installed")
    tlsbench = [sys.executable, "-m", "tlsbench"]
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_lab_certs(Path(tmp) / "certs")
        ca = str(certs.ca_cert)
        with openssl_server(TlsServerOptions(cert=certs.good)) as server:
            host, port = "127.0.0.1", server.port
            target = f"{host}:{port}"
            runs: dict[str, list[float]] = {k: [] for k in
                                            ("tlsbench", "python", "python_x509", "floor", "curl", "s_client", "tb_tcp", "tb_tls",
                                             "curl_tcp", "curl_tls")}
            env = dict(os.environ, NO_COLOR="1")
            for _ in range(args.rounds):
                ms, out = timed([*tlsbench, "probe", target, "--cafile", ca, "--json"], env, "tlsbench")
                runs["tlsbench"].append(ms)
                result = json.loads(out)
                if not result["ok"]:
                    raise SystemExit(f"bench: the probe failed: {result['findings']}")
                stages = {s["name"]: s for s in result["stages"]}
                runs["tb_tcp"].append(stages["tcp"]["duration_ms"])
                runs["tb_tls"].append(stages["tls"]["duration_ms"])

                ms, _ = timed([sys.executable, "-c", MINIMAL_CLIENT, host, str(port), ca], name="python")
                runs["python"].append(ms)

                ms, _ = timed([sys.executable, "-c", MINIMAL_X509_CLIENT, host, str(port), ca], name="python_x509")
                runs["python_x509"].append(ms)

                ms, _ = timed([sys.executable, "-c", IMPORT_FLOOR])
                runs["floor"].append(ms)

                ms, out = timed(["curl", "-s", "-o", "/dev/null", "--cacert", ca,
                                 "-w", "%{time_connect} %{time_appconnect}", f"https://{target}/"])
                runs["curl"].append(ms)
                connect, appconnect = (float(x) * 1000 for x in out.split())
                runs["curl_tcp"].append(connect)
                runs["curl_tls"].append(appconnect - connect)

                ms, _ = timed(["openssl", "s_client", "-connect", target, "-CAfile", ca, "-verify_return_error",
                               "-brief"])
                runs["s_client"].append(ms)

    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"{args.rounds} rounds against one local openssl s_server (TLS 1.3, EC P-256), medians:\n")
    print("| measured | tlsbench | peer | ratio |")
    print("|---|---|---|---|")
    rows = [
        ("whole process vs minimal Python ssl client", "tlsbench", "python"),
        ("whole process vs minimal client parsing the leaf (cryptography)", "tlsbench", "python_x509"),
        ("import floor (python + ssl + cryptography.x509) vs minimal client", "floor", "python"),
        ("whole process vs curl", "tlsbench", "curl"),
        ("whole process vs openssl s_client", "tlsbench", "s_client"),
        ("tcp stage vs curl time_connect", "tb_tcp", "curl_tcp"),
        ("tls stage vs curl time_appconnect - time_connect", "tb_tls", "curl_tls"),
    ]
    for label, mine, peer in rows:
        print(f"| {label} | {med[mine]:.2f} ms | {med[peer]:.2f} ms | {med[mine] / med[peer]:.2f}x |")
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    print("\nCPU time of the whole process (user + system), medians:\n")
    print("| measured | tlsbench | peer | ratio |")
    print("|---|---|---|---|")
    for label, peer in (("vs minimal Python ssl client", "python"),
                        ("vs minimal client parsing the leaf (cryptography)", "python_x509")):
        print(f"| {label} | {cpu['tlsbench']:.2f} ms | {cpu[peer]:.2f} ms | {cpu['tlsbench'] / cpu[peer]:.2f}x |")
    print(f"\ntlsbench's own share of the whole process: {med['tlsbench'] - med['floor']:.2f} ms above the floor")
    spread = {k: (min(v), max(v)) for k, v in runs.items()}
    print("\nranges (min-max ms): " + ", ".join(f"{k} {a:.2f}-{b:.2f}" for k, (a, b) in spread.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: are tlsbench's stage times the wire's times? Against a minimal client, in one run.

Starts one local `openssl s_server` (lab certificates) and microsocks, then alternates, round by
round, two fresh processes that do the same steps against the same proxy and server:

* `tlsbench probe localhost:PORT --socks5h 127.0.0.1:PROXY --cafile CA --json`, reading each
  stage's `duration_ms`;
* a minimal Python client that times the same steps with nothing else inside the clock: the
  lookup of the proxy's name, the TCP connect to the proxy, the SOCKS5 greeting and request as raw
  bytes, and the TLS handshake (`ssl` over the tunnel).

For each stage it prints both medians and checks tlsbench's against 1.3 x the raw median + 0.2 ms.
Exit code 1 when a stage is outside that bound.

    .venv/bin/python bench/fidelity.py [--rounds N] [--direct]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tlsbench.lab.certs import make_lab_certs
from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server
from tlsbench.lab.socks_servers import microsocks

# The same steps as tlsbench's stages, each timed around its exchange only.
RAW_CLIENT = r"""
import json, socket, ssl, struct, sys, time
proxy_host, proxy_port, target, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
ctx = ssl.create_default_context(cafile=cafile)
out = {}
t = time.perf_counter()
addr = socket.getaddrinfo(proxy_host, proxy_port, 0, socket.SOCK_STREAM)[0][4]
out["resolve"] = (time.perf_counter() - t) * 1000
sock = socket.socket()
t = time.perf_counter()
sock.connect(addr)
out["tcp"] = (time.perf_counter() - t) * 1000
if proxy_host != target:
    name = target.encode()
    t = time.perf_counter()
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
    reply = b""
    while len(reply) < 10:
        reply += sock.recv(10 - len(reply))
    out["proxy"] = (time.perf_counter() - t) * 1000
    assert reply[1] == 0
tls = ctx.wrap_socket(sock, server_hostname=target, do_handshake_on_connect=False)
t = time.perf_counter()
tls.do_handshake()
out["tls"] = (time.perf_counter() - t) * 1000
tls.close()
print(json.dumps(out))
"""

RATIO, SLACK = 1.3, 0.2


def run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode not in (0,):
        raise SystemExit(f"fidelity: {' '.join(argv[:4])}... failed ({done.returncode}): {done.stderr.strip()[:400]}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--direct", action="store_true", help="no proxy: resolve, tcp and tls only")
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 2
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_lab_certs(Path(tmp) / "certs")
        ca = str(certs.ca_cert)
        with openssl_server(TlsServerOptions(cert=certs.good)) as server, microsocks() as proxy:
            stages = ["resolve", "tcp", "tls"] if args.direct else ["resolve", "tcp", "proxy", "tls"]
            probe = [sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--cafile", ca, "--json"]
            raw = [sys.executable, "-c", RAW_CLIENT]
            if args.direct:
                raw += ["localhost", str(server.port), "localhost", str(server.port), ca]
            else:
                probe += ["--socks5h", proxy.address]
                raw += ["127.0.0.1", str(proxy.port), "localhost", str(server.port), ca]
            ours: dict[str, list[float]] = {s: [] for s in stages}
            theirs: dict[str, list[float]] = {s: [] for s in stages}
            env = dict(os.environ, NO_COLOR="1")
            for _ in range(args.rounds):
                result = json.loads(subprocess.run(probe, capture_output=True, text=True, timeout=60,
                                                   env=env).stdout)
                if not result["ok"]:
                    raise SystemExit(f"fidelity: the probe failed: {[f['code'] for f in result['findings']]}")
                for stage in result["stages"]:
                    if stage["name"] in ours:
                        ours[stage["name"]].append(stage["duration_ms"])
                for name, ms in json.loads(run(raw)).items():
                    theirs[name].append(ms)
    route = "direct" if args.direct else "through microsocks (socks5h)"
    print(f"{args.rounds} rounds, {route}, against one local openssl s_server; medians in ms\n")
    print("| stage | tlsbench | minimal client | bound (1.3x + 0.2 ms) | within |")
    print("|---|---|---|---|---|")
    bad = 0
    for name in stages:
        mine, raw_median = statistics.median(ours[name]), statistics.median(theirs[name])
        bound = RATIO * raw_median + SLACK
        ok = mine <= bound
        bad += not ok
        print(f"| {name} | {mine:.3f} | {raw_median:.3f} | {bound:.3f} | {'yes' if ok else 'NO'} |")
    return 1 if bad and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())

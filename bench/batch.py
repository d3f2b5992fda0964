"""Benchmark: `tlsbench probe --count N --concurrency C --json` against a bare Python ssl client, in one run.

    .venv/bin/python bench/batch.py [--count 1500] [--concurrency 16] [--rounds 5] [--routes direct] [--s-time 0]
    .venv/bin/python bench/batch.py --memory 100000      # RSS at 1,000 and at N runs

Where a run's time goes, and what two engine changes would give: bench/batch_profile.py.

Starts one local nginx (a default TLS server, so that `openssl s_time`, which sends no SNI, is
served too) and microsocks, then alternates, round by round, direct and through SOCKS5:

* a minimal client: C threads doing bare `socket.create_connection` + `SSLContext.wrap_socket`
  handshakes (verification on, same CA, same name), in its own Python process;
* `tlsbench probe localhost:PORT --cafile CA --count N --concurrency C --json` (`--pin 127.0.0.1`
  with --pin: no lookup of localhost per run), whose summary gives the rate over the runs (first
  start to last end); the whole process is timed too;
* `openssl s_time -new` (one connection at a time, no SNI) for reference.

Handshakes per second are compared as medians over the rounds. The CPU each side spent (client
processes via getrusage; nginx and microsocks via /proc) is printed per handshake: on a machine
whose cores are all busy, that cost is what bounds the rate, and the ratio of the two sides' totals
is the ceiling printed beside the measured ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tlsbench.lab.certs import make_lab_certs
from tlsbench.lab.nginx_server import NginxServer, _q
from tlsbench.lab.processes import require_binary, start_on_free_port
from tlsbench.lab.socks_servers import microsocks

RAW_CLIENT = r"""
import socket, ssl, sys, threading, time
host, port, ca, count, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
proxy = (sys.argv[6], int(sys.argv[7])) if len(sys.argv) > 7 else None
ctx = ssl.create_default_context(cafile=ca)
left = [count]
lock = threading.Lock()

def socks5(sock):
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + port.to_bytes(2, "big"))
    reply = b""
    while len(reply) < 10:
        reply += sock.recv(10 - len(reply))
    assert reply[1] == 0

def work():
    while True:
        with lock:
            if left[0] <= 0:
                return
            left[0] -= 1
        with socket.create_connection(proxy or ("127.0.0.1", port), timeout=10) as raw:
            if proxy:
                socks5(raw)
            with ctx.wrap_socket(raw, server_hostname=host):
                pass

workers = [threading.Thread(target=work) for _ in range(threads)]
start = time.perf_counter()
for w in workers:
    w.start()
for w in workers:
    w.join()
print(count / (time.perf_counter() - start))
"""


def nginx_default_tls(cert, prefix: Path, workers: int) -> NginxServer:
    """nginx answering TLS on a free port with `cert` for any name (or none), logs off."""
    nginx = require_binary("nginx", "nginx-light")
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""

    def make(port: int) -> NginxServer:
        conf = prefix / "nginx.conf"
        temp = prefix / "temp"
        conf.write_text(f"""{user}daemon off;
master_process on;
worker_processes {workers};
pid {_q(prefix / "nginx.pid")};
error_log {_q(prefix / "error.log")} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {_q(temp / "body")};
    proxy_temp_path {_q(temp / "proxy")};
    fastcgi_temp_path {_q(temp / "fastcgi")};
    uwsgi_temp_path {_q(temp / "uwsgi")};
    scgi_temp_path {_q(temp / "scgi")};
    server {{
        listen 127.0.0.1:{port} ssl default_server backlog=1024;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate {_q(cert.chain)};
        ssl_certificate_key {_q(cert.key)};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
        argv = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        return NginxServer(argv, host="127.0.0.1", port=port, prefix=prefix, server_names=("localhost",))

    return start_on_free_port(make, "127.0.0.1")  # type: ignore[return-value]


def tree_cpu(root_pid: int) -> float:
    """User + system CPU seconds of root_pid and its children (nginx's master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry), int(fields[1])
        if pid == root_pid or ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Measured:
    def __init__(self) -> None:
        self.rates: list[float] = []
        self.whole: list[float] = []
        self.client_cpu: list[float] = []  # ms per handshake
        self.server_cpu: list[float] = []


def timed_child(argv: list[str], server_pids: list[int]) -> tuple[str, float, float, float]:
    """(stdout, wall s, client CPU s, servers' CPU s) of one child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = sum(tree_cpu(pid) for pid in server_pids)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = sum(tree_cpu(pid) for pid in server_pids) - server_before
    if done.returncode not in (0,):
        raise SystemExit(f"bench: {' '.join(argv[:4])}... failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu, server


def s_time_rate(port: int, ca: Path, seconds: int) -> float:
    done = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(seconds),
                           "-CAfile", str(ca), "-verify", "1"], capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"(\d+) connections in ([\d.]+)s", done.stdout)
    if not found:
        raise SystemExit(f"bench: could not read openssl s_time's output: {done.stdout[-300:]}")
    return int(found.group(1)) / float(found.group(2))


def speed(args, certs, server, proxy) -> int:
    py = sys.executable
    ca = str(certs.ca_cert)
    port = server.port
    routes = {"direct": [], "socks5": ["--socks5", proxy.address]}
    routes = {k: v for k, v in routes.items() if k in args.routes}
    results = {(who, route): Measured() for who in ("raw", "tlsbench") for route in routes}
    s_time: list[float] = []
    for rnd in range(args.rounds):
        for route, extra in routes.items():
            raw_proxy = [proxy.host, str(proxy.port)] if route == "socks5" else []
            servers = [server.pid, proxy.pid] if route == "socks5" else [server.pid]
            out, wall, cpu, srv = timed_child([py, "-c", RAW_CLIENT, "localhost", str(port), ca, str(args.count),
                                               str(args.concurrency), *raw_proxy], servers)
            m = results[("raw", route)]
            m.rates.append(float(out))
            m.whole.append(args.count / wall)
            m.client_cpu.append(cpu / args.count * 1000)
            m.server_cpu.append(srv / args.count * 1000)

            pin = ["--pin", "127.0.0.1"] if args.pin else []
            out, wall, cpu, srv = timed_child([py, "-m", "tlsbench", "probe", f"localhost:{port}", *pin,
                                               "--cafile", ca, "--count", str(args.count), "--concurrency",
                                               str(args.concurrency), "--json", *extra], servers)
            summary = json.loads(out)
            if summary["failed"] or summary["runs"] != args.count:
                raise SystemExit(f"bench: tlsbench runs failed: {summary['findings']}")
            m = results[("tlsbench", route)]
            m.rates.append(summary["rate_per_s"])
            m.whole.append(args.count / wall)
            m.client_cpu.append(cpu / args.count * 1000)
            m.server_cpu.append(srv / args.count * 1000)
        if args.s_time:
            s_time.append(s_time_rate(port, certs.ca_cert, args.s_time))
        print(f"round {rnd + 1}/{args.rounds}: " + ", ".join(
            f"{who} {route} {results[(who, route)].rates[-1]:.0f}/s" for who, route in results)
              + (f", s_time {s_time[-1]:.0f}/s" if s_time else ""), file=sys.stderr)

    med = statistics.median
    print(f"{args.rounds} rounds, {args.count} handshakes each, concurrency {args.concurrency}, against one local "
          f"nginx ({args.nginx_workers} worker); {os.cpu_count()} cores shared by clients and server. Medians:\n")
    print("| route | client | handshakes/s | whole process /s | client CPU ms/handshake | "
          "servers' CPU ms/handshake (nginx, + microsocks) |")
    print("|---|---|---|---|---|---|")
    for (who, route), m in results.items():
        name = "minimal Python client (threads)" if who == "raw" else "tlsbench probe --count --json"
        print(f"| {route} | {name} | {med(m.rates):.0f} | {med(m.whole):.0f} | {med(m.client_cpu):.2f} | "
              f"{med(m.server_cpu):.2f} |")
    if s_time:
        print(f"| direct | openssl s_time -new (one at a time, no SNI) | {med(s_time):.0f} | | | |")
    print()
    for route in routes:
        raw, tb = results[("raw", route)], results[("tlsbench", route)]
        ratios = [t / r for t, r in zip(tb.rates, raw.rates)]
        ceiling = (med(raw.client_cpu) + med(raw.server_cpu)) / (med(tb.client_cpu) + med(tb.server_cpu))
        print(f"{route}: tlsbench / minimal client = {med(tb.rates) / med(raw.rates):.0%} of the handshakes per "
              f"second (per round: {', '.join(f'{r:.0%}' for r in ratios)}); CPU-bound ceiling from the CPU "
              f"per handshake of both sides: {ceiling:.0%}")
    return 0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory(args, certs, server) -> int:
    """RSS of the probe process (and its workers) after 1,000 runs and after all of them."""
    argv = [sys.executable, "-m", "tlsbench", "probe", f"localhost:{server.port}", "--pin", "127.0.0.1",
            "--cafile", str(certs.ca_cert), "--count", str(args.memory), "--concurrency", str(args.concurrency),
            "--json-lines"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    marks = sorted({1000, 10000, args.memory} & set(range(1, args.memory + 1)))
    seen: dict[int, tuple[int, list[int]]] = {}
    lines = 0
    last = b""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines += 1
        last = line
        if lines in marks:
            seen[lines] = (rss_kib(proc.pid), [rss_kib(c) for c in children(proc.pid)])
            print(f"after {lines} runs: probe {seen[lines][0]} KiB, workers {seen[lines][1]} KiB", file=sys.stderr)
    proc.wait()
    summary = json.loads(last)
    print(f"{args.memory} runs, concurrency {args.concurrency}, --json-lines read by this script; "
          f"{summary['succeeded']} succeeded in {summary['elapsed_s']:.0f} s\n")
    print("| after runs | probe process RSS | each worker RSS | total |")
    print("|---|---|---|---|")
    for n, (parent, workers) in sorted(seen.items()):
        print(f"| {n:,} | {parent / 1024:.1f} MiB | {', '.join(f'{w / 1024:.1f}' for w in workers)} MiB | "
              f"{(parent + sum(workers)) / 1024:.1f} MiB |")
    ports = summary["ports"]
    reuse = ports["first_reuse"]
    print(f"\nports: {ports['distinct']} distinct of a range of {ports['range_size']}; "
          + (f"first reused at run {reuse['run']:,}; {ports['runs_on_a_reused_port']:,} runs got a port used before"
             if reuse else "none reused"))
    return 0 if proc.returncode == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--s-time", type=int, default=5, help="seconds of openssl s_time per round (0: none)")
    parser.add_argument("--routes", default="direct,socks5", help="which routes: direct, socks5 or both (comma)")
    parser.add_argument("--pin", action="store_true", help="probe with --pin 127.0.0.1 (no lookup of localhost)")
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--memory", type=int, metavar="N", help="measure RSS over N runs instead")
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args()
    if args.quick:
        args.count, args.rounds, args.s_time = 200, 1, 1
        args.memory = args.memory and 500
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_lab_certs(Path(tmp) / "certs")
        with nginx_default_tls(certs.good, Path(tmp) / "nginx", args.nginx_workers) as server:
            if args.memory:
                return memory(args, certs, server)
            with microsocks() as proxy:
                return speed(args, certs, server, proxy)


if __name__ == "__main__":
    raise SystemExit(main())

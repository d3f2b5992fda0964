"""Benchmark: does `tlsbench serve` hold load? Idle connections, handshakes beside them, and its rate.

Three measures, each against a fresh `tlsbench serve --tls --json` whose output goes to a pipe that
this script reads (as a script consuming --json would):

1. **Held**: N idle connections (default 10,000) opened and held; the listener's RSS and threads
   once it has accepted them all (target: RSS under 150 MB).
2. **Handshakes beside them**: full TLS handshakes (TCP connect + handshake, Python `ssl` in a process
   of its own, the listener's certificate verified) while the N are held, and for 3 s from the moment
   they all close (target: each under 50 ms on loopback). `tlsbench probe`'s own tls stage too.
3. **Rate**: `openssl s_time -new` clients (default 2) doing back-to-back full handshakes for a
   few seconds; handshakes per second, and the listener's CPU use, which says what the ceiling is.

    .venv/bin/python bench/listener.py [--clients N] [--rate-seconds S] [--rate-clients K] [--json]

Only loopback is used. Every loop is bounded in count and time; everything it starts is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class Serve:
    """`tlsbench serve --json` in its own process; a thread reads its pipe and counts the events."""

    def __init__(self, args: list[str], env: dict) -> None:
        self.proc = subprocess.Popen([PYTHON, "-m", "tlsbench", "serve", "--json", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.counts: dict[str, int] = {}
        self.first: dict[str, dict] = {}
        self.lines = 0
        self.last_at: dict[str, float] = {}  # when the latest event of each kind was read
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            start = raw.find(b'"event": "') + 10
            kind = raw[start:raw.find(b'"', start)].decode()
            with self.cond:
                self.lines += 1
                self.counts[kind] = self.counts.get(kind, 0) + 1
                self.last_at[kind] = time.monotonic()
                if kind not in self.first:
                    self.first[kind] = json.loads(raw)
                self.cond.notify_all()

    def wait_count(self, kind: str, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.counts.get(kind, 0) < n:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.cond.wait(min(left, 0.5))
        return True

    def status(self) -> dict[str, int]:
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads", "FDSize"):
                out[key] = int(value.split()[0])
        return out

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# Handshakes are timed from a process of their own, started beforehand and released by a line on
# stdin: in this process, the thread reading the listener's pipe would hold the GIL and add its
# own delays to the clock.
TIMER = r"""
import json, socket, ssl, sys, time
port, cafile, n, at_least = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ctx = ssl.create_default_context(cafile=cafile)
ctx.load_verify_locations(cafile)
sys.stdin.readline()
out, began = [], time.monotonic()
while len(out) < n or (time.monotonic() - began < at_least and len(out) < 500):
    start = time.perf_counter()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    out.append((time.perf_counter() - start) * 1000)
    tls.close()
print(json.dumps(out), flush=True)
"""


class Timer:
    def __init__(self, port: int, cafile: str, n: int, at_least: float = 0.0) -> None:
        self.proc = subprocess.Popen([PYTHON, "-c", TIMER, str(port), cafile, str(n), str(at_least)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)  # its imports done before the window opens

    def run(self) -> list[float]:
        assert self.proc.stdin is not None
        out, _ = self.proc.communicate("go\n", timeout=120)
        return json.loads(out)


def probe_tls_ms(port: int, cafile: str, env: dict) -> float | None:
    r = subprocess.run([PYTHON, "-m", "tlsbench", "probe", f"localhost:{port}", "--cafile", cafile, "--json"],
                       capture_output=True, env=env, timeout=60)
    try:
        stages = json.loads(r.stdout)["stages"]
    except (ValueError, KeyError):
        return None
    tls = [s for s in stages if s["name"] == "tls"]
    return tls[0]["duration_ms"] if tls and tls[0]["status"] == "ok" else None


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median_ms": round(statistics.median(values), 2), "max_ms": round(max(values), 2),
            "over_50ms": sum(1 for v in values if v >= 50)}


def open_idle(port: int, n: int, deadline: float) -> list[socket.socket]:
    socks = []
    while len(socks) < n and time.monotonic() < deadline:
        s = socket.socket()
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def held_phase(args, env: dict) -> dict:
    serve = Serve(["--tls", "--port", "0", "--backlog", "4096", "--client-timeout", "3600",
                   "--handshake-timeout", "86400", "--total-timeout", "86400"], env)
    try:
        if not serve.wait_count("listening", 1, 30):
            raise SystemExit("tlsbench serve did not start")
        serve.wait_count("certificate", 1, 10)
        port = serve.first["listening"]["port"]
        cafile = serve.first["certificate"]["cert"]
        baseline = serve.status()
        began = time.monotonic()
        socks = open_idle(port, args.clients, began + 120)
        accepted_all = serve.wait_count("accepted", args.clients, 120)
        opened_s = time.monotonic() - began
        held = serve.status()
        during = Timer(port, cafile, args.samples).run()
        probe_during = [probe_tls_ms(port, cafile, env) for _ in range(3)]
        # all of them close at once; handshakes start right away, for 3 s
        timer = Timer(port, cafile, args.samples, at_least=3.0)
        closed_at = time.monotonic()
        for s in socks:
            s.close()
        after = timer.run()
        probe_after = [probe_tls_ms(port, cafile, env) for _ in range(3)]
        all_closed = serve.wait_count("closed", args.clients + len(during) + len(after) + 6, 120)
        drained_s = serve.last_at.get("closed", closed_at) - closed_at
        return {
            "clients": args.clients, "opened": len(socks), "accepted_all": accepted_all,
            "open_seconds": round(opened_s, 2),
            "rss_mb_before": round(baseline["VmRSS"] / 1024, 1), "rss_mb_held": round(held["VmRSS"] / 1024, 1),
            "rss_mb_peak": round(serve.status()["VmHWM"] / 1024, 1), "threads_held": held["Threads"],
            "handshake_during": summary(during), "handshake_after_close": summary(after),
            "first_after_close_ms": [round(v, 1) for v in after[:8]],
            "probe_tls_ms_during": probe_during, "probe_tls_ms_after": probe_after,
            "closed_all": all_closed, "seconds_to_log_every_close": round(drained_s, 2),
        }
    finally:
        serve.stop()


def rate_phase(args, env: dict) -> dict:
    openssl = shutil.which("openssl")
    if openssl is None:
        return {"error": "openssl not installed"}
    serve = Serve(["--tls", "--port", "0", "--backlog", "4096"], env)
    try:
        serve.wait_count("listening", 1, 30)
        port = serve.first["listening"]["port"]
        time.sleep(0.5)
        cpu0, hs0, t0 = serve.cpu_seconds(), serve.counts.get("handshake", 0), time.monotonic()
        clients = [subprocess.Popen([openssl, "s_time", "-connect", f"127.0.0.1:{port}", "-new",
                                     "-time", str(args.rate_seconds)], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL) for _ in range(args.rate_clients)]
        outputs = [c.communicate(timeout=args.rate_seconds + 60)[0].decode() for c in clients]
        wall = time.monotonic() - t0
        cpu = serve.cpu_seconds() - cpu0
        handshakes = serve.counts.get("handshake", 0) - hs0
        serve.wait_count("closed", serve.counts.get("accepted", 0), 10)
        connections = 0
        for out in outputs:
            for line in out.splitlines():
                if "connections in" in line and "real seconds" in line:
                    connections += int(line.split()[0])
        return {"rate_clients": args.rate_clients, "seconds": round(wall, 2), "s_time_connections": connections,
                "listener_handshakes": handshakes, "handshakes_per_second": round(handshakes / wall, 1),
                "listener_cpu_share": round(cpu / wall, 2), "listener_cpu_ms_per_handshake":
                round(cpu * 1000 / max(handshakes, 1), 3), "json_lines": serve.lines,
                "machine_load_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}
    finally:
        serve.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30, help="handshakes measured in each window")
    parser.add_argument("--rate-seconds", type=int, default=8)
    parser.add_argument("--rate-clients", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.samples, args.rate_seconds, args.rate_clients = 200, 5, 1, 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.clients + 100 > hard:
        raise SystemExit(f"the open-file limit ({hard}) is below {args.clients} clients")
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "src")], check=False)  # as setup does
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "TLSBENCH_DATA_DIR": data}
        result = {"held": held_phase(args, env), "rate": rate_phase(args, env)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    h, r = result["held"], result["rate"]
    print(f"held      {h['opened']:,} idle connections (all accepted: {h['accepted_all']}) in {h['open_seconds']} s; "
          f"listener RSS {h['rss_mb_before']} MB -> {h['rss_mb_held']} MB (peak {h['rss_mb_peak']} MB), "
          f"{h['threads_held']} threads")
    for label, key in (("during", "handshake_during"), ("after", "handshake_after_close")):
        s = h[key]
        print(f"handshake {label:6} {s['n']} x connect+TLS: median {s['median_ms']} ms, max {s['max_ms']} ms, "
              f"{s['over_50ms']} at 50 ms or more")
    print(f"          the first after the close: {h['first_after_close_ms']} ms")
    print(f"probe     tls stage during {h['probe_tls_ms_during']} ms, after {h['probe_tls_ms_after']} ms")
    print(f"closes    the last `closed` line read {h['seconds_to_log_every_close']} s after they closed "
          "(the probes above ran meanwhile)")
    if "error" in r:
        print(f"rate      {r['error']}")
    else:
        print(f"rate      {r['handshakes_per_second']} handshakes/s with {r['rate_clients']} s_time clients over "
              f"{r['seconds']} s ({r['listener_handshakes']:,} handshakes, {r['json_lines']:,} JSON lines to the "
              f"pipe); listener CPU {r['listener_cpu_share'] * 100:.0f}% of one core, "
              f"{r['listener_cpu_ms_per_handshake']} ms per handshake; {r['cores']} cores, load {r['machine_load_1min']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

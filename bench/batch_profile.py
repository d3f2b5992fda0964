"""Where the time of one `probe --count` run goes, against the local nginx of bench/batch.py.

    .venv/bin/python bench/batch_profile.py [--runs 500] [--rounds 5]  # CPU per run, by part
    .venv/bin/python bench/batch_profile.py --what-if [--rounds 3]   # the rate with two engine changes

Without options: the CPU one run costs this process (run_probe + the digest for the statistics)
against one bare `wrap_socket` handshake, one at a time, in alternating rounds, with the CPU of
each stage and part (the CPU clock around it; no profiler: cProfile inflates Python code against C
code); some parts on their own; the CPU per run of the worker processes and of the parent when
`Batch` runs them as `probe --count` does (concurrency 16); then cProfile's view, by stage.

`--what-if` measures the rate of `Batch` (concurrency 16, the same worker processes as `probe
--count`) with and without two changes proposed for the engine, alternated with the minimal
client of bench/batch.py: certificate parsing cached by DER (every run of a series sees the same
chain), and an address (`--pin`, an IP) given to getaddrinfo without starting a thread. The
changes are applied to this benchmark's process only (and its forked workers): the engine itself
is not changed.
"""

from __future__ import annotations

import argparse
import functools
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from batch import RAW_CLIENT, nginx_default_tls

from tlsbench.engine.runner import preflight, run_probe
from tlsbench.engine.spec import build_spec
from tlsbench.engine.series.stats import digest
from tlsbench.lab.certs import make_lab_certs


def cpu_ms(fn, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1000


def parts(args, spec, server, ca: str) -> None:
    """Where one run's CPU goes: the run against a bare handshake, each part timed with the CPU clock
    around it (no profiler), in rounds alternating the two; then cProfile's view."""
    import tlsbench.engine.runner as runner
    from tlsbench.engine.stages import tls as tls_stage
    from tlsbench.engine.tls.tlspump import TlsStream

    prepared = preflight(spec)
    for _ in range(50):
        run_probe(spec, prepared=prepared)
    ctx = ssl.create_default_context(cafile=ca)

    def bare() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost"):
                pass

    spent: dict[str, float] = {}

    def timed(owner, name: str, label) -> None:
        inner = getattr(owner, name)

        def wrapper(*a, **k):
            start = time.process_time()
            try:
                return inner(*a, **k)
            finally:
                key = label(*a) if callable(label) else label
                spent[key] = spent.get(key, 0.0) + time.process_time() - start
        setattr(owner, name, wrapper)
        undo.append((owner, name, inner))

    undo: list = []
    timed(runner._Run, "run_stage", lambda self, step, stage: f"{step.name} stage")
    timed(runner._Run, "update_socket", "  socket snapshot after the tcp and tls stages (getsockname, TCP_INFO)")
    timed(runner._Run, "close", "clean close: close_notify, the server's session tickets and close_notify read")
    timed(TlsStream, "handshake", "  of the tls stage: the handshake through the pump, message callback included")
    timed(tls_stage, "_hello_fingerprint", "  of the tls stage: JA3/JA4 of the ClientHello")
    n = args.runs
    whole, bare_ms = [], []
    rounds = max(args.rounds, 3)
    for _ in range(rounds):
        whole.append(cpu_ms(lambda: digest(run_probe(spec, prepared=prepared), 1), n))
        bare_ms.append(cpu_ms(bare, n))
    for owner, name, inner in undo:
        setattr(owner, name, inner)
    med = statistics.median
    runs = n * rounds
    print(f"one run at a time, {rounds} rounds of {n} runs alternating with a bare handshake, CPU of this "
          f"process per run (medians; parts summed over all rounds):\n")
    print("| measured | CPU ms per run |")
    print("|---|---|")
    print(f"| tlsbench run (run_probe + digest) | {med(whole):.3f} |")
    print(f"| bare handshake (create_connection + wrap_socket, timeout 10 s) | {med(bare_ms):.3f} |")
    order = ["resolve stage", "tcp stage", "tls stage", "chain stage"]
    for key in order + sorted(k for k in spent if k not in order):
        if key in spent:
            print(f"| {key} | {spent[key] / runs * 1000:.3f} |")
    parts_sum = sum(v for k, v in spent.items() if not k.startswith("  "))
    print(f"| the rest (the runner's records and events, the result, the digest) | "
          f"{max(med(whole) - parts_sum / runs * 1000, 0.0):.3f} |")
    print()
    sock = socket.create_connection(("127.0.0.1", server.port))
    from tlsbench.engine.route import sockinfo
    rows = [
        ("start and join one thread (what the resolve stage did per lookup before its kept threads)",
         cpu_ms(_thread_start_join, n)),
        ("getaddrinfo('localhost') in this thread", cpu_ms(lambda: socket.getaddrinfo(b"localhost", 443, 0, socket.SOCK_STREAM), n)),
        ("one socket snapshot (getsockname, getpeername, TCP_INFO)", cpu_ms(
            lambda: sockinfo.snapshot(sock, via_proxy=False), n)),
        ("the whole JSON line (only with --json-lines)", cpu_ms(
            lambda: digest(run_probe(spec, prepared=prepared), 1, json_line=True), n) - med(whole)),
    ]
    sock.close()
    print("| part, on its own | CPU ms |")
    print("|---|---|")
    for label, ms in rows:
        print(f"| {label} | {ms:.3f} |")
    print()

    from tlsbench.engine.series.batch import Batch
    from tlsbench.engine.series.stats import SeriesStats

    parent, workers = [], []
    for _ in range(rounds):
        stats = SeriesStats()
        batch = Batch(spec, count=args.count, concurrency=16)
        self_before, child_before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        batch.run(stats.add)
        self_after, child_after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        parent.append(_cpu(self_before, self_after) / args.count * 1000)
        workers.append(_cpu(child_before, child_after) / args.count * 1000)
    print(f"as `probe --count {args.count} --concurrency 16` runs them ({batch.processes} worker processes of "
          f"{16 // batch.processes} threads), CPU per run, medians of {rounds}:\n")
    print("| process | CPU ms per run |")
    print("|---|---|")
    print(f"| the workers (runs, digests, pickling) | {med(workers):.3f} |")
    print(f"| the parent (dispatch, statistics) | {med(parent):.3f} |")
    print()

    import cProfile
    import pstats

    prof = cProfile.Profile(time.process_time)  # CPU: waits on the server or on a thread do not count
    prof.enable()
    for _ in range(n):
        digest(run_probe(spec, prepared=prepared), 1)
    prof.disable()
    cumulative: dict = {}
    for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in pstats.Stats(prof).stats.items():  # type: ignore
        key = (Path(path).name, func)
        cumulative[key] = max(cumulative.get(key, 0.0), ct)
    total = cumulative[("runner.py", "run_probe")] + cumulative[("stats.py", "digest")]
    print("cProfile (CPU timer; it inflates Python code against C code), shares of a run:\n")
    print("| part | share |")
    print("|---|---|")
    for label, key in PROFILE_PARTS:
        print(f"| {label} | {cumulative.get(key, 0.0) / total:.0%} |")


PROFILE_PARTS = [
    ("resolve stage", ("resolve.py", "run")),
    ("tcp stage", ("tcp.py", "run")),
    ("tls stage", ("tls.py", "run")),
    ("  of which OpenSSL's handshake", ("ssl.py", "do_handshake")),
    ("  of which the message callback", ("tls.py", "on_message")),
    ("chain stage", ("chain.py", "run")),
    ("socket snapshots", ("runner.py", "update_socket")),
    ("clean close", ("runner.py", "close")),
    ("digest", ("stats.py", "digest")),
]


def _thread_start_join() -> None:
    thread = threading.Thread(target=int)
    thread.start()
    thread.join()


def what_if(args, spec, server, ca: str) -> None:
    import tlsbench.engine.stages.resolve as resolve
    from tlsbench.engine.certs import certparse
    from tlsbench.engine.series.batch import Batch
    from tlsbench.engine.series.stats import SeriesStats

    original = (certparse.parse_cert, certparse.match_name, resolve.lookup)

    def lookup_inline(name, port, family, timeout, ctx):
        seen = []
        for fam, _t, _p, _c, addr in socket.getaddrinfo(name, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP):
            if (fam, addr) not in seen:
                seen.append((fam, addr))
        return seen

    def apply(changes: str) -> None:
        certparse.parse_cert, certparse.match_name, resolve.lookup = original
        if "cache" in changes:
            certparse.parse_cert = functools.lru_cache(64)(original[0])
            certparse.match_name = functools.lru_cache(64)(original[1])
        if "inline" in changes:
            resolve.lookup = lookup_inline

    variants = {"tlsbench": "", "tlsbench, certificates parsed once": "cache",
                "tlsbench, no resolve thread": "inline", "tlsbench, both changes": "cache inline"}
    rates: dict[str, list[float]] = {"minimal client": [], **{k: [] for k in variants}}
    cpu: dict[str, list[float]] = {k: [] for k in rates}
    for _ in range(args.rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-c", RAW_CLIENT, "localhost", str(server.port), ca, str(args.count),
                               "16"], capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rates["minimal client"].append(float(done.stdout))
        cpu["minimal client"].append(_cpu(before, after) / args.count * 1000)
        for label, changes in variants.items():
            apply(changes)
            try:
                stats = SeriesStats()
                batch = Batch(spec, count=args.count, concurrency=16)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                batch.run(stats.add)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
            finally:
                apply("")
            if stats.failed or stats.runs != args.count:
                raise SystemExit(f"bench: runs failed ({stats.failed}) or missing ({stats.runs})")
            rates[label].append(args.count / batch.elapsed)
            cpu[label].append(_cpu(before, after) / args.count * 1000)
        print(", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()), file=sys.stderr)
    base = statistics.median(rates["minimal client"])
    print(f"{args.rounds} rounds of {args.count} handshakes, concurrency 16, medians:\n")
    print("| client | handshakes/s | of the minimal client | worker CPU ms per run |")
    print("|---|---|---|---|")
    for label, values in rates.items():
        rate = statistics.median(values)
        print(f"| {label} | {rate:.0f} | {rate / base:.0%} | {statistics.median(cpu[label]):.2f} |")


def _cpu(before, after) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help="runs per round (parts)")
    parser.add_argument("--what-if", action="store_true")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.count, args.rounds = 30, 200, 1
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_lab_certs(Path(tmp) / "certs")
        ca = str(certs.ca_cert)
        with nginx_default_tls(certs.good, Path(tmp) / "nginx", 1) as server:
            spec = build_spec(f"localhost:{server.port}", cafile=ca, timeout="10")
            preflight(spec)
            if args.what_if:
                what_if(args, spec, server, ca)
            else:
                parts(args, spec, server, ca)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

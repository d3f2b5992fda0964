"""Benchmark: the workbench's engine process, one child per run vs one long-lived child, in one run.

Starts one local `openssl s_server` (lab certificates) and measures, alternating the ways round by
round so that machine noise hits them alike, from "run" (the call) to the first event (PlanReady)
and to RunFinished, for a loopback TLS run:

* per-child: a fresh `python -m tlsbench.engine.series.isolated` for the run (what the workbench did);
* persistent, first run: the long-lived child started by the run itself (the first run of a session);
* persistent, warmed: the child started in the background beforehand (what the workbench does once
  its first screen is drawn), then its first run;
* persistent, reused: the next runs through the same child.

Prints a table of medians. Usage: .venv/bin/python bench/engine_process.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tlsbench.engine.events import Event, PlanReady, RunFinished
from tlsbench.engine.series.isolated import EngineProcess
from tlsbench.engine.spec import ConnectionSpec, build_spec
from tlsbench.lab.certs import make_lab_certs
from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server

WAYS = ("per-child", "persistent, first run", "persistent, warmed", "persistent, reused")


def timed_run(engine: EngineProcess, spec: ConnectionSpec) -> tuple[float, float]:
    """(ms to the first event, ms to RunFinished) of one run through `engine`."""
    marks: dict[str, float] = {}

    def on_event(event: Event) -> None:
        now = time.perf_counter()
        if isinstance(event, PlanReady):
            marks.setdefault("first", now)
        if isinstance(event, RunFinished):
            marks["finished"] = now

    start = time.perf_counter()
    result = engine.probe(spec, on_event=on_event)
    if not result.ok:
        raise SystemExit(f"bench: the run failed: {[f.code for f in result.findings]}")
    return (marks["first"] - start) * 1000, (marks["finished"] - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--reused", type=int, default=5, help="runs through the same child per round")
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.reused = 2, 2
    samples: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_lab_certs(Path(tmp) / "certs")
        with openssl_server(TlsServerOptions(cert=certs.good)) as server:
            spec = build_spec(f"127.0.0.1:{server.port}", cafile=str(certs.ca_cert))
            for _ in range(args.rounds):
                with EngineProcess() as engine:  # the old way: one child, one run, gone
                    samples["per-child"].append(timed_run(engine, spec))
                with EngineProcess() as engine:
                    samples["persistent, first run"].append(timed_run(engine, spec))
                    for _ in range(args.reused):
                        samples["persistent, reused"].append(timed_run(engine, spec))
                with EngineProcess() as engine:
                    engine.start()
                    time.sleep(1.0)  # the workbench warms it up while the person looks at the screen
                    samples["persistent, warmed"].append(timed_run(engine, spec))
    print(f"{args.rounds} rounds against one local openssl s_server (TLS 1.3, EC P-256, verification on), "
          "medians (min-max):\n")
    print("| engine process | to the first event | to RunFinished |")
    print("|---|---|---|")
    for way in WAYS:
        first = [s[0] for s in samples[way]]
        done = [s[1] for s in samples[way]]
        print(f"| {way} | {statistics.median(first):.1f} ms ({min(first):.1f}-{max(first):.1f}) "
              f"| {statistics.median(done):.1f} ms ({min(done):.1f}-{max(done):.1f}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

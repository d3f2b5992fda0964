"""Benchmark: the workbench's Listener answering while the UI redraws.

The workbench (headless, 160x50) opens its Listener tab and starts a TLS listener (F5). While a task
keeps the UI redrawing (a status line rewritten and the screen refreshed every frame, as a busy
workbench does), a client in another process makes 50 full TLS handshakes (TCP connect + handshake,
Python `ssl`, one after the other) and times each. Printed: the p50, p95 and max, for the listener as
the workbench runs it (a child process), for `tlsbench serve --tls` with no UI at all (the floor the
machine allows: on a loaded machine the scheduler, not the UI, sets the tail) and, with --in-process,
for a listener in the workbench's own process as it ran before (for comparison). Target: p95 under 10 ms.

    .venv/bin/python bench/listener_redraw.py [--handshakes 50] [--in-process] [--json]

Only loopback is used; everything it starts is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CLIENT = r"""
import json, socket, ssl, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the listener's self-signed certificate: the time is what counts here
times = []
for _ in range(count):
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost"):
            times.append((time.perf_counter() - start) * 1000.0)
    time.sleep(0.02)  # clients one after the other, with the UI drawing between them
print(json.dumps(times))
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class InProcess:
    """The listener as the workbench ran it before: threads in the workbench's own process."""

    def __init__(self, config, on_event=None) -> None:
        from tlsbench.engine.listener.server import Listener

        self._listener = Listener(config, on_event=on_event)
        self.pid = os.getpid()

    def __getattr__(self, name: str):
        return getattr(self._listener, name)


async def measure(handshakes: int, in_process: bool) -> list[float]:
    from textual.widgets import Static

    from tlsbench.commands.workbench import make_app
    from tlsbench.profiles.store import ProfileStore
    from tlsbench.tui.listener import listener_view

    if in_process:
        listener_view.ListenerProcess = InProcess  # type: ignore[misc,assignment]
    with tempfile.TemporaryDirectory() as home:
        os.environ["TLSBENCH_DATA_DIR"] = str(Path(home) / "data")
        app = make_app(store=ProfileStore(Path(home) / "config"))
        async with app.run_test(size=(160, 50)) as pilot:
            for _ in range(100):
                await pilot.pause()
                if app.screen.query("#form"):
                    break
            await pilot.press("ctrl+t")
            await pilot.pause()
            # TLS on: the form's switch, then F5
            view = app.screen.query_one("#listener").content
            for _ in range(100):
                await pilot.pause(0.02)
                if view.query("#tls"):
                    break
            view.query_one("#tls").value = True
            await pilot.press("f5")
            for _ in range(400):
                await pilot.pause(0.05)
                if view.listener is not None and view.listener.port:
                    break
            port = view.listener.port
            status = view.query_one("#lv-status", Static)
            drawing = True

            async def redraw() -> None:
                frame = 0
                while drawing:
                    frame += 1
                    status.update(f"frame {frame} " + "·" * (frame % 80))
                    app.screen.refresh(layout=True)
                    await asyncio.sleep(1 / 60)

            task = asyncio.create_task(redraw())
            client = await asyncio.create_subprocess_exec(sys.executable, "-c", CLIENT, str(port), str(handshakes),
                                                          stdout=subprocess.PIPE)
            out, _ = await client.communicate()
            drawing = False
            await task
            await pilot.press("f5")
            await pilot.pause(0.2)
    return json.loads(out)


def serve_alone(handshakes: int) -> list[float]:
    import re

    serve = subprocess.Popen([sys.executable, "-m", "tlsbench", "serve", "--tls", "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert serve.stdout is not None
        port = next(int(m.group(1)) for line in serve.stdout
                    if (m := re.search(r"listening on 127\.0\.0\.1:(\d+)", line)))
        out = subprocess.run([sys.executable, "-c", CLIENT, str(port), str(handshakes)], capture_output=True,
                             text=True, timeout=120).stdout
    finally:
        serve.terminate()
        serve.wait(10)
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=50)
    parser.add_argument("--in-process", action="store_true", help="also measure the listener in the UI's process")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a few samples, to check that the benchmark runs: its figures mean nothing, and it exits 0 unless something failed")
    args = parser.parse_args()
    if args.quick:
        args.handshakes = 5
    report = {}
    runs = [("a child process", False), ("tlsbench serve, no UI", None)]
    runs += [("the UI's process", True)] if args.in_process else []
    for label, in_process in runs:
        times = serve_alone(args.handshakes) if in_process is None else asyncio.run(measure(args.handshakes, in_process))
        report[label] = {"handshakes": len(times), "p50_ms": round(statistics.median(times), 2),
                         "p95_ms": round(percentile(times, 0.95), 2), "max_ms": round(max(times), 2)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for label, r in report.items():
            print(f"listener in {label}: {r['handshakes']} handshakes (UI redrawing where there is one): "
                  f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, max {r['max_ms']} ms (target: p95 under 10 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

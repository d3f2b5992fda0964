"""`tlsbench lab [--no-ui]`: start the local lab, save a "lab-..." profile per seed situation,
and open the workbench on them (or, with --no-ui, print them and wait for Ctrl-C).

With the workbench, the lab's servers live in a child process (this same command with --no-ui):
some of them are small Python servers, and in the workbench's process they would answer only
when the UI let go of the interpreter, which would show up as the server's time in every probe.

Lab ports may change between starts, so the lab rewrites its own "lab-..." profiles each time;
profiles with other names are never touched. The lab's servers stop when this command ends,
whether by the workbench closing, Ctrl-C, SIGTERM or a closed terminal.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any

from tlsbench.commands.arguments import QuietParser, UsageError, fail_usage

PROG = "tlsbench lab"
SAVED = "profiles saved:"
READY = "serving; press Ctrl-C to stop"
EXIT_OK, EXIT_FAILED = 0, 1
LAB_PREFIX = "lab-"


def build_parser() -> QuietParser:
    parser = QuietParser(prog=PROG, description="Start real servers on loopback that reproduce common "
                         "TCP, SOCKS and TLS situations, save a profile for each and open the workbench.")
    parser.add_argument("--no-ui", action="store_true",
                        help="print the lab's situations and probe commands; keep serving until Ctrl-C")
    return parser


def save_profiles(lab, store=None) -> tuple[list[str], list[str]]:
    """Save one profile per lab entry; returns (names saved, one-line problems)."""
    from tlsbench.profiles.model import Profile, ProfileError
    from tlsbench.profiles.store import ProfileStore

    try:
        store = store if store is not None else ProfileStore()
    except (ProfileError, OSError) as exc:
        return [], [f"profiles not saved: {exc}"]
    saved, problems = [], []
    for entry in lab.entries:
        if not entry.name.startswith(LAB_PREFIX):  # the lab only ever writes its own profiles
            continue
        try:
            store.save(Profile(entry.name, entry.spec, entry.description, entry.unavailable))
            saved.append(entry.name)
        except (ProfileError, OSError) as exc:
            problems.append(f"profile {entry.name} not saved: {exc}")
    return saved, problems


def describe(lab) -> str:
    """The lab's situations as text: name, address, what it shows and the probe command."""
    from tlsbench.lab.lab import probe_command

    width = max(len(e.name) for e in lab.entries)
    lines = [f"tlsbench lab: {len(lab.entries)} situations on loopback "
             f"(trust anchor: {lab.certs.ca_cert if lab.certs else '?'})", ""]
    lines.append(f"{'NAME':<{width}}  ADDRESS  [SERVED BY]")
    for e in lab.entries:
        lines.append(f"{e.name:<{width}}  {e.address}  [{e.served_by}]")
        lines.append(f"{'':<{width}}  {e.description}")
        if e.unavailable:
            lines.append(f"{'':<{width}}  NOT RUNNING: {e.unavailable}")
        lines.append(f"{'':<{width}}  $ {probe_command(e.spec)}")
    for note in lab.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


@contextmanager
def _signals_end_the_lab():
    """SIGINT, SIGTERM and SIGHUP all become KeyboardInterrupt, so the servers are stopped on the
    way out (they run in their own sessions). SIGINT too: a process started with `&` from a
    script inherits it ignored, and Python then installs no handler of its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous: dict = {}
    wanted: list[tuple[signal.Signals, Any]] = [
        (signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, interrupt), (signal.SIGHUP, interrupt)]
    for sig, handler in wanted:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str]) -> int:
    parser = build_parser()
    if any(a in ("-h", "--help") for a in argv):
        parser.print_help()
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return fail_usage(PROG, str(exc))

    if not args.no_ui:
        return run_with_workbench()

    from tlsbench.lab.lab import Lab
    from tlsbench.lab.processes import LabError
    from tlsbench.visible import visible

    lab = Lab()
    with _signals_end_the_lab():
        try:
            try:
                lab.start()
            except LabError as exc:
                print(f"{PROG}: cannot start the lab: {exc}", file=sys.stderr)
                return EXIT_FAILED
            except OSError as exc:
                where = f": {visible(str(exc.filename), keep_newlines=False)}" if exc.filename else ""
                print(f"{PROG}: cannot start the lab: {exc.strerror or exc}{where}", file=sys.stderr)
                return EXIT_FAILED
            saved, problems = save_profiles(lab)
            for problem in problems:
                print(f"{PROG}: warning: {problem}", file=sys.stderr)
            print(describe(lab), flush=True)
            print(f"\n{SAVED} {', '.join(saved) or 'none'}", flush=True)
            print(READY, flush=True)
            threading.Event().wait()  # until Ctrl-C / SIGTERM
            return EXIT_OK
        except KeyboardInterrupt:
            print("\nlab stopped", file=sys.stderr)
            return EXIT_OK
        finally:
            lab.stop()


def run_with_workbench() -> int:
    """Start the lab in a child process, open the workbench on its first profile, stop the lab after."""
    import os
    import subprocess
    import tempfile

    errors = tempfile.TemporaryFile()
    from tlsbench.lab.children import popen

    # The lab stops its servers on SIGTERM; the kernel sends it when this process dies, even killed.
    child = popen([sys.executable, "-m", "tlsbench", "lab", "--no-ui"], pdeathsig=signal.SIGTERM,
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, text=True,
                  env=dict(os.environ), start_new_session=True)
    try:
        with _signals_end_the_lab():
            saved = wait_until_serving(child)
            if saved is None:  # it ended before serving: pass on its last word and its exit code
                errors.seek(0)
                lines = errors.read().decode("utf-8", "replace").strip().splitlines()
                print(lines[-1] if lines else f"{PROG}: the lab did not start", file=sys.stderr)
                return child.wait() or EXIT_FAILED
            from tlsbench.commands.workbench import run_workbench

            return run_workbench(profile=saved[0] if saved else None, run=False)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        stop_lab_process(child)
        errors.close()


def wait_until_serving(child) -> list[str] | None:
    """Read the child's listing until it says it serves; the profile names it saved, or None."""
    saved: list[str] = []
    for text in child.stdout:
        if text.startswith(SAVED):
            saved = [n.strip() for n in text[len(SAVED):].split(",") if n.strip() and n.strip() != "none"]
        if text.strip() == READY:
            return saved
    return None  # it ended before serving


def stop_lab_process(child) -> None:
    import subprocess

    if child.poll() is None:
        child.terminate()  # the lab turns SIGTERM into a clean stop of every server
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    child.stdout.close()

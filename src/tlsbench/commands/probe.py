"""`tlsbench probe HOST:PORT [options]`: one connection, headless, as a waterfall or as JSON.

Exit codes: 0 the connection completed (warnings allowed), 1 it failed, 2 bad input, 130 interrupted
(Ctrl-C: the waterfall or the JSON of what ran so far is still printed, marked cancelled).
Imports stay light: no Textual here, PySocks only when a proxy is used (in the proxy stage).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

from tlsbench.commands.arguments import QuietParser, UsageError, fail_usage, spec_from_args
from tlsbench.engine.argv import flag_given, probe_parser
from tlsbench.errors import InputError, TlsbenchError
from tlsbench.engine.spec import ConnectionSpec, format_hostport

PROG = "tlsbench probe"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# The flags that bring in a series (commands/repeat.py) or a diagnosis (commands/diagnose.py): those
# modules are imported only when one is given, so a plain probe does not load them.
_SERIES_FLAGS = ("count", "interval", "concurrency", "json_lines", "watch")
_DIAGNOSE_FLAGS = ("diagnose", "diagnose_budget", "diagnose_timeout", "diagnose_sni")
INSECURE_WARNING = ("WARNING: --insecure: the server's certificate is NOT verified; "
                    "anyone on the path could pose as this server.")


def make_parser() -> QuietParser:
    return probe_parser(PROG)


def build_from_args(args: argparse.Namespace) -> ConnectionSpec:
    """The spec: the flags given, over a profile's values when --profile names one."""
    if args.profile:
        from tlsbench.engine.options import values_of
        from tlsbench.profiles.store import ProfileStore

        profile = ProfileStore().get(args.profile)
        args.password_note = profile.password_note  # a password typed into the file: ignored, and said so
        return spec_from_args(args, base=values_of(profile.spec))
    return spec_from_args(args)


def ask_proxy_password(spec: ConnectionSpec, note: str | None = None) -> ConnectionSpec:
    """A proxy user with no password anywhere: ask on a terminal, as curl -U USER does; else refuse.
    `note`: the profile's password that is ignored, said once (in the refusal when there is one)."""
    hops = list(spec.proxies)
    for i, proxy in enumerate(hops):
        if not proxy.needs_password:
            continue
        if not sys.stdin.isatty():
            ignored = f"the profile's {note}; or " if note else ""
            raise InputError(f"proxy user {proxy.username!r} has no password: {ignored}give USER:PASS, set "
                             f"${proxy.password_env}, or run on a terminal to be asked", field="proxy_password")
        if note:
            print(f"{PROG}: the profile's {note}", file=sys.stderr)
            note = None
        import getpass

        hops[i] = proxy._replace(password=getpass.getpass(
            f"proxy password for {proxy.username}@{format_hostport(proxy.host, proxy.port)}: "))
    if note:  # the password came from elsewhere (its variable, the command line): still say it
        print(f"{PROG}: the profile's {note}", file=sys.stderr)
    return spec._replace(proxies=tuple(hops))


def main(argv: list[str]) -> int:
    parser = make_parser()
    if any(a in ("-h", "--help") for a in argv):
        parser.print_help()
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
        if not args.target and not args.profile:
            raise UsageError("no target given; expected HOST:PORT (or --profile NAME)")
        enum_concurrency = None
        enum_scope: tuple[str, ...] = ("versions", "ciphers")
        if args.enumerate_scope is not None:
            from tlsbench.engine.tls.enum13 import parse_scope

            try:
                enum_scope = parse_scope(args.enumerate_scope)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            args.enumerate = True
        if args.enumerate:
            if args.count is not None or args.interval is not None or args.json_lines:
                raise UsageError("--enumerate cannot be used with --count/--interval/--json-lines")
            from tlsbench.commands import repeat

            enum_concurrency = 4 if args.concurrency is None else repeat._whole(
                args.concurrency, "--concurrency", 1, 64)
            args.concurrency = None  # here it is the enumeration's, not a series'
        series = None
        if any(getattr(args, name, None) not in (None, False) for name in _SERIES_FLAGS):
            from tlsbench.commands import repeat

            series = repeat.options(args) if repeat.wanted(args) else None
        if args.save_run and series is not None:
            raise UsageError("--save-run keeps one run: it cannot be used with --count/--interval/--json-lines")
        if args.pcap is not None and (series is not None or args.enumerate):
            raise UsageError("--pcap captures one run: it cannot be used with --enumerate or "
                             "--count/--interval/--json-lines/--watch")
        why = None
        if any(getattr(args, name, None) not in (None, False) for name in _DIAGNOSE_FLAGS):
            from tlsbench.commands import diagnose

            why = diagnose.options(args)
        if why is not None and args.enumerate:
            raise UsageError("--diagnose and --enumerate are two separate runs: give one of them")
        spec = ask_proxy_password(build_from_args(args), getattr(args, "password_note", None))
        if args.save_profile:
            from tlsbench.profiles.model import Profile
            from tlsbench.profiles.store import ProfileStore

            path = ProfileStore().save(Profile(args.save_profile, spec))
            print(f"saved profile {args.save_profile} to {path}", file=sys.stderr)
    except (UsageError, InputError, TlsbenchError) as exc:
        return fail_usage(PROG, " ".join(str(exc).split()))
    except OSError as exc:  # e.g. the profile directory cannot be read or written
        return fail_usage(PROG, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))

    if (args.showcerts or args.save_chain or args.enumerate) and not spec.tls.enabled:
        return fail_usage(PROG, "--showcerts/--save-chain/--enumerate need TLS (drop --no-tls)")
    if args.save_chain:
        from tlsbench.engine.certs.chainpem import check_chain_file

        try:
            check_chain_file(args.save_chain)
        except InputError as exc:
            return fail_usage(PROG, f"--save-chain {' '.join(str(exc).split())}")
    if args.save_run:
        from tlsbench.engine.records.runfile import check_run_path

        try:
            check_run_path(args.save_run)
        except InputError as exc:
            return fail_usage(PROG, f"--save-run {' '.join(str(exc).split())}")
    if args.pcap is not None:
        from tlsbench.engine.capture.files import check_pcap_path

        try:
            check_pcap_path(args.pcap)
        except InputError as exc:
            return fail_usage(PROG, f"--pcap {' '.join(str(exc).split())}")
    if flag_given(args, "--alpn") and flag_given(args, "--http2"):
        print(f"{PROG}: warning: --alpn {','.join(spec.tls.alpn) or '(none)'} wins over --http2 (h2,http/1.1 "
              "is not offered)", file=sys.stderr)
    if spec.tls.enabled and spec.tls.verify == "off":
        print(INSECURE_WARNING, file=sys.stderr)
    if spec.tls.enabled and spec.tls.keylog:
        source = "$SSLKEYLOGFILE" if spec.tls.keylog_from_env else "--keylog"
        print(f"WARNING: {source}: the TLS session secrets are written to {spec.tls.keylog}; anyone who can read "
              "it can decrypt this traffic.", file=sys.stderr)

    from tlsbench.commands.probe_output import Waterfall, want_colour, write_json
    from tlsbench.engine.runner import preflight, run_probe

    try:
        prepared = preflight(spec)
    except InputError as exc:  # a CA file, certificate or key that OpenSSL itself refuses
        return fail_usage(PROG, " ".join(str(exc).split()))
    if series is not None:
        from tlsbench.commands import repeat

        return repeat.run_repeat(spec, series, prog=PROG, history=args.save_profile or args.profile)
    from tlsbench.engine.cancel import CancelToken

    token = CancelToken()
    capture = None
    if args.pcap is not None:
        from tlsbench.engine.capture.taps import Capture

        capture = Capture()
    view = None
    events: list = []  # kept for --save-run only
    keep = events.append if args.save_run else None
    with sigint_cancels(token):
        if args.json:
            result = run_probe(spec, on_event=keep, prepared=prepared, cancel=token, capture=capture)
            extra = None
            if enum_concurrency is not None and not result.cancelled:
                found = _enumerate(spec, enum_concurrency, token, enum_scope)
                extra = {"enumeration": found.to_dict()}
                result = result._replace(findings=result.findings + found.findings)
            if why is None or result.cancelled:
                write_json(result, sys.stdout, include_bytes=args.msg, extra=extra)
        else:
            view = Waterfall(sys.stdout, colour=want_colour(sys.stdout), trace=args.verbose, hexdump=args.msg,
                             showcerts=args.showcerts)
            view.emit(f"tlsbench probe {spec.target}")
            result = run_probe(spec, on_event=view if keep is None else _both(keep, view), prepared=prepared,
                               cancel=token, capture=capture)
            if enum_concurrency is not None and not result.cancelled:
                _show_enumeration(view, _enumerate(spec, enum_concurrency, token, enum_scope))
    if args.save_profile or args.profile:  # a profile's run is kept in its history
        from tlsbench.history.recording import record_run

        problem = record_run(args.save_profile or args.profile, "probe", spec, result.to_json_dict()).problem
        if problem:
            print(f"{PROG}: {problem}", file=sys.stderr)
    if args.save_run:  # also (above all) when the run failed: that is when a run is shared
        code = _save_run(args.save_run, spec, events)
        if code:
            return code
    if capture is not None:  # a failed or cancelled run's bytes too: they are what a person looks at
        code = _save_pcap(args.pcap, capture.finished())
        if code:
            return code
    if args.save_chain:
        code = _save_chain(args.save_chain, result)
        if code:
            return code
    if result.cancelled or token.cancelled:  # Ctrl-C during the run, or during --enumerate after it
        return EXIT_INTERRUPTED
    if why is not None:
        from tlsbench.commands import diagnose

        return diagnose.run(spec, result, why, as_json=args.json, view=view)
    return EXIT_OK if result.ok else EXIT_FAILED


def _enumerate(spec: ConnectionSpec, concurrency: int, token, scope: tuple[str, ...]):
    from tlsbench.engine.tls.enumeration import enumerate_server

    if sys.stderr.isatty():
        print("asking which versions and cipher suites the server accepts ...", file=sys.stderr)
    return enumerate_server(spec, concurrency=concurrency, cancel=token, scope=scope)


def _show_enumeration(view, found) -> None:
    from tlsbench.engine.tls.enumeration import enumeration_lines

    view.emit()
    for line in enumeration_lines(found):
        view.emit(line)
    view.findings(found.findings)


def _both(first, second):
    def emit(event) -> None:
        first(event)
        second(event)

    return emit


def _save_run(path: str, spec: ConnectionSpec, events: list) -> int:
    """Write the run (--save-run); 0, or the exit code when it could not be written."""
    from tlsbench.engine.records.runfile import run_record, save_run

    try:
        written = save_run(path, run_record(spec, events))
    except (InputError, OSError, ValueError) as exc:
        return fail_usage(PROG, f"--save-run {' '.join(str(exc).split())}")
    print(f"saved the run to {written} (open it with: tlsbench show {written})", file=sys.stderr)
    return 0


def _save_pcap(path: str, capture) -> int:
    """Write the capture (--pcap); 0, or the exit code when it could not be written."""
    from tlsbench.engine.capture.files import save_pcap

    try:
        written = save_pcap(path, capture)
    except (InputError, OSError) as exc:
        if not isinstance(exc, InputError):
            from tlsbench.visible import visible

            exc = InputError(f"{visible(path, keep_newlines=False)}: cannot be written: {exc.strerror or exc}")
        return fail_usage(PROG, f"--pcap {' '.join(str(exc).split())}")
    count = len(capture.connections)
    print(f"saved the capture to {written} ({count} connection{'s' if count != 1 else ''}); it holds the TLS "
          "session secrets: anyone with the file can read the traffic", file=sys.stderr)
    for note in _pcap_notes(capture):
        print(f"{PROG}: {note}", file=sys.stderr)
    return 0


def _pcap_notes(capture) -> list[str]:
    from tlsbench.engine.capture.pcapng import notes

    return [note.removeprefix("tlsbench: ") for note in notes(capture)]


def _save_chain(path: str, result) -> int:
    """Write the chain (--save-chain); 0, or the exit code when there was none or it could not be written."""
    from tlsbench.engine.certs.chainpem import chain_pem, save_chain

    if result.chain is None or not result.chain.certificates:
        print(f"{PROG}: no certificate to save to {path}: the handshake did not get that far", file=sys.stderr)
        return EXIT_FAILED
    try:
        written = save_chain(path, chain_pem(result.chain))
    except (InputError, OSError) as exc:
        return fail_usage(PROG, f"--save-chain {' '.join(str(exc).split())}")
    count = len(result.chain.certificates) + (1 if result.chain.verified_path and not
                                              result.chain.verified_path[-1].sent else 0)
    print(f"saved {count} certificate(s) to {written}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def sigint_cancels(token):
    """While a run is in flight, Ctrl-C (SIGINT) cancels it instead of killing the process.

    The run then ends with what happened so far, marked cancelled: the waterfall says so, --json
    prints the object with "cancelled": true, and the exit code is 130. A second Ctrl-C, should
    the run not end, interrupts as usual (exit 130, no output).
    """
    def on_sigint(signum, frame):
        signal.signal(signal.SIGINT, previous)  # the next Ctrl-C is a plain interrupt
        token.cancel()

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread (e.g. called from a test's worker): nothing to wire
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

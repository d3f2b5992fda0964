"""`tlsbench serve`: a listener that shows what clients really send, one line per event.

    tlsbench serve --port 8443 --tls --http
    tlsbench serve --port 0 --backlog 4 --pause-accept --json

Exit codes: 0 after a clean stop (Ctrl-C, SIGINT, SIGTERM, SIGHUP), 2 for bad input — a port out of range,
a bind address that is not an IP address, a port already in use (the port is the user's
choice, so it is reported like any other bad input), missing certificate/key files or a key
that does not match the certificate. While it runs, Enter (on a terminal) or SIGUSR1 toggles
pausing the accept loop.

Why `--http` sends a status line: a reply without one is HTTP/0.9 style, the body alone. An
HTTP/1.x client reads the first bytes of the answer as "HTTP/1.1 200 OK"; when they are
instead the body itself, the client has no status code, no headers and no Content-Length, so it
cannot tell a success from an error page, what the content type is, or where the response
ends. Browsers either refuse it outright (Chrome and Firefox no longer accept HTTP/0.9 on
ports other than 80, and never inside TLS), show it as a download or as plain text, or wait
until the connection closes to decide the body is complete; curl says "Received HTTP/0.9 when
not allowed". `--http` therefore answers with a complete HTTP/1.1 response: a status line,
Content-Type, a Content-Length that matches the body, and `Connection: close`, so every client
knows exactly where the answer ends.
"""

from __future__ import annotations

import signal
import sys
import threading

from tlsbench.commands.arguments import QuietParser, UsageError
from tlsbench.commands.whole_lines import write_line
from tlsbench.engine.records import jsonout
from tlsbench.errors import InputError
from tlsbench.engine.listener import certstore
from tlsbench.engine.listener.config import ListenerConfig, ReplyMode
from tlsbench.engine.listener.fdlimit import raise_open_files
from tlsbench.engine.listener.events import (Accepted, ClientFinding, ClientHelloSeen, Closed, DataReceived,
                                             HandshakeDone, ListenerError, ListenerEvent, Listening, Notice,
                                             PauseChanged, ProxyHeaderSeen, QueueChanged, Stopped)
from tlsbench.engine.suggestions import cli_text
from tlsbench.visible import visible, visible_bytes

EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> QuietParser:
    p = QuietParser(prog="tlsbench serve", description="A listener that shows what clients really send.")
    p.add_argument("--bind", default="127.0.0.1", metavar="ADDR", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", default="0", metavar="N", help="port; 0 picks a free one (default)")
    p.add_argument("--backlog", type=int, default=16, metavar="N", help="listen() backlog (default 16)")
    p.add_argument("--tls", action="store_true", help="speak TLS (self-signed certificate unless --cert)")
    p.add_argument("--cert", metavar="FILE", help="server certificate (PEM; may hold the key too)")
    p.add_argument("--key", metavar="FILE", help="server private key (PEM)")
    p.add_argument("--name", action="append", default=[], metavar="NAME",
                   help="extra name for the self-signed certificate (repeatable)")
    p.add_argument("--alpn", metavar="LIST", help="ALPN protocols to accept, e.g. h2,http/1.1")
    p.add_argument("--require-client-cert", action="store_true", help="ask for and verify a client certificate")
    p.add_argument("--client-ca", metavar="FILE", help="CA that signs accepted client certificates")
    answer = p.add_mutually_exclusive_group()
    answer.add_argument("--reply", metavar="TEXT", help="answer TEXT (UTF-8) and close; escapes: \\r \\n \\t \\\\ \\xHH, "
                        "any other backslash is an error")
    answer.add_argument("--http", action="store_true", help="answer a minimal HTTP/1.1 200 response and close")
    p.add_argument("--pause-accept", action="store_true", help="start without accepting: watch the queue fill")
    p.add_argument("--json", action="store_true", help="one JSON object per line, each with an 'event' field")
    p.add_argument("--client-timeout", default="10", metavar="SECONDS",
                   help="idle deadline: cut off a client that sends nothing this long (default 10)")
    p.add_argument("--handshake-timeout", metavar="SECONDS",
                   help="handshake deadline: the TLS handshake must end this long after the connection (default 10)")
    p.add_argument("--total-timeout", metavar="SECONDS",
                   help="total deadline: no connection lasts longer (default 60, or 6 x --client-timeout)")
    p.add_argument("--max-clients", type=int, metavar="N", help="serve at most N clients at once")
    return p


def config_from_args(args) -> ListenerConfig:
    from tlsbench.engine.findings.checks import check_alpn, check_port, check_seconds, unescape_text
    from tlsbench.engine.listener.config import MAX_SECONDS

    alpn = check_alpn(args.alpn, "--alpn") if args.alpn is not None else ()
    mode: ReplyMode
    if args.reply is not None:
        mode, text = "text", unescape_text(args.reply, "--reply") or ""
    elif args.http:
        mode, text = "http", ""
    else:
        mode, text = "echo", ""
    if (args.cert or args.key or args.name or args.alpn or args.require_client_cert) and not args.tls:
        raise InputError("--cert, --key, --name, --alpn and --require-client-cert need --tls")
    port = check_port(args.port, "port", allow_zero=True)
    return ListenerConfig(bind=args.bind, port=port, backlog=args.backlog, tls=args.tls, cert=args.cert,
                          key=args.key, names=tuple(args.name), alpn=alpn,
                          require_client_cert=args.require_client_cert, client_ca=args.client_ca,
                          reply_mode=mode, reply_text=text, pause_accept=args.pause_accept,
                          client_timeout=check_seconds(args.client_timeout, "--client-timeout"),
                          handshake_timeout=_seconds(args.handshake_timeout, "--handshake-timeout", MAX_SECONDS),
                          total_timeout=_seconds(args.total_timeout, "--total-timeout", MAX_SECONDS),
                          max_clients=args.max_clients)


def _seconds(value: str | None, field: str, maximum: float) -> float | None:
    from tlsbench.engine.findings.checks import check_seconds

    return None if value is None else check_seconds(value, field, maximum=maximum)


def _evidence(event: ClientFinding) -> str:
    return "; ".join(f"{e.label}: {visible(e.value, keep_newlines=False)}" for e in event.finding.evidence)


def _backlog_words(effective: int | None) -> str:
    """Linux's 'backlog + 1': the queue is full when its length exceeds the backlog."""
    if effective is None or not sys.platform.startswith("linux"):
        return ""
    return (f" (Linux lets backlog + 1 = {effective + 1} connections wait unaccepted; past that it drops "
            "new SYNs, which clients retry after 1 s, 3 s, ...)")


def _queue_full_words(length: int, backlog: int | None) -> str:
    if backlog is None or length <= backlog or not sys.platform.startswith("linux"):
        return ""
    return (f" (full: {length} = backlog {backlog} + 1; new SYNs are dropped until one is accepted, "
            "and clients see a connect of 1 s or more: tcp-syn-retransmitted)")


def describe(event: ListenerEvent) -> str:
    """One human line per event; untrusted text made visible (--json carries the explanations)."""
    tag = f"#{getattr(event, 'client_id', '')} " if getattr(event, "client_id", None) is not None else ""
    if isinstance(event, Listening):
        cap = f", somaxconn {event.somaxconn}" if event.somaxconn is not None else ""
        return (f"listening on {_hostport(event.address, event.port)} ({'TLS' if event.tls else 'plain TCP'}); "
                f"backlog asked {event.backlog}, effective {event.effective_backlog}{cap}"
                + _backlog_words(event.effective_backlog)
                + ("; accepting is PAUSED" if event.paused else ""))
    if isinstance(event, QueueChanged):
        return (f"accept queue {event.length} / {event.backlog} waiting"
                + _queue_full_words(event.length, event.backlog)
                + (" (paused: not accepting)" if event.paused else ""))
    if isinstance(event, PauseChanged):
        return "accepting paused: new connections wait in the queue" if event.paused else "accepting resumed"
    if isinstance(event, Accepted):
        return (f"{tag}accepted {_hostport(event.peer_address, event.peer_port)} "
                f"(client's ephemeral port {event.peer_port}) on {_hostport(event.local_address, event.local_port)}")
    if isinstance(event, ProxyHeaderSeen):
        if event.source is None or event.destination is None:
            return f"{tag}PROXY header {event.family}: the sender names no addresses"
        return (f"{tag}PROXY header {event.family}: client {_hostport(*event.source)} -> "
                f"{_hostport(*event.destination)} (as the sender says)")
    if isinstance(event, ClientHelloSeen):
        return f"{tag}{describe_hello(event)}"

    if isinstance(event, HandshakeDone):
        if event.ok:
            extra = (f", client cert {visible(event.client_cert_subject, keep_newlines=False)}"
                     if event.client_cert_subject else "")
            alpn = visible(event.alpn, keep_newlines=False) if event.alpn else "(none)"
            return (f"{tag}handshake ok: {event.version} {event.cipher}, ALPN {alpn}, "
                    f"{event.duration_ms:.1f} ms{extra}")
        alert = f" (client sent alert {event.alert})" if event.alert else ""
        return (f"{tag}handshake failed after {event.duration_ms:.1f} ms: "
                f"{visible(event.failure or '', keep_newlines=False)}{alert}")
    if isinstance(event, DataReceived):
        shown = visible_bytes(event.data[:160])
        more = "…" if len(event.data) > 160 or event.truncated else ""
        return f"{tag}first bytes ({len(event.data)}{'+' if event.truncated else ''}): {shown}{more}"
    if isinstance(event, ClientFinding):
        f = event.finding
        evidence = f" [{_evidence(event)}]" if f.evidence else ""
        return (f"{tag}{f.severity}: {f.code}: {visible(f.title, keep_newlines=False)} -> "
                f"{visible(cli_text(f.suggestion), keep_newlines=False)}{evidence}")
    if isinstance(event, Closed):
        return (f"{tag}closed after {event.duration_ms:.1f} ms: {event.bytes_received} bytes in, "
                f"{event.bytes_sent} out ({visible(event.reason, keep_newlines=False)})")
    if isinstance(event, Notice):
        return f"note: {visible(event.message, keep_newlines=False)}"
    if isinstance(event, Stopped):
        return f"stopped; {event.clients_served} clients served"
    if isinstance(event, ListenerError):
        return f"{tag}error: {visible(event.message, keep_newlines=False)}"
    return visible(str(event), keep_newlines=False)


def describe_hello(event: ClientHelloSeen) -> str:
    """The ClientHello in one line; what did not arrive is said to be missing, never 'none'."""
    versions = visible(", ".join(event.versions), keep_newlines=False) or "(not reached)"
    ciphers = f"{event.cipher_count} cipher suites" if event.ciphers_reached else "cipher suites (not reached)"
    whole = event.declared_length is not None and event.length >= event.declared_length
    if event.sni is not None:
        sni = visible(event.sni, keep_newlines=False)
    elif whole or event.declared_length is None and event.complete:
        sni = "(none)"
    else:
        sni = "(not reached)"
    alpn = visible(",".join(event.alpn), keep_newlines=False) or ("(none)" if whole or event.complete else "(not reached)")
    if not whole and event.declared_length is not None:
        state = f" (cut short: {event.length:,} of {event.declared_length:,} bytes)"
    elif event.problem:
        state = f" (malformed: {visible(event.problem, keep_newlines=False)})"
    elif not event.complete:
        state = " (cut short)"
    else:
        state = ""
    records = f", {event.length:,} bytes in {event.records} records" if event.records > 1 else ""
    prints = f"; JA4 {event.ja4}, JA3 {event.ja3_hash}" if event.ja4 and event.ja3_hash else ""
    return f"ClientHello: SNI {sni}, ALPN {alpn}, versions {versions}, {ciphers}{records}{state}{prints}"


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Printer:
    """Writes events to stdout (called from the listener's threads, one at a time).

    Event lines are kept and written together when the listener ends a round of its loop
    (`flush`, or every 256 lines): a burst of events costs one write to the pipe, not one (or two,
    under PYTHONUNBUFFERED) per line.
    """

    BATCH = 256

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.broken = threading.Event()
        self.lock = threading.Lock()  # the main thread prints too: keep lines whole and in order
        self.pending: list[str] = []

    def __call__(self, event) -> None:
        line = jsonout.dumps(event.to_dict()) if self.as_json else describe(event)
        with self.lock:
            self.pending.append(line)
            if len(self.pending) >= self.BATCH:
                self._write_pending()

    def write(self, text: str) -> None:
        with self.lock:
            self.pending.append(text)
            self._write_pending()

    def flush(self) -> None:
        with self.lock:
            self._write_pending()

    def _write_pending(self) -> None:
        lines, self.pending = self.pending, []
        if not lines or self.broken.is_set():
            return
        try:
            write_line(sys.stdout, "\n".join(lines))  # whole lines, whatever signal comes meanwhile
        except (BrokenPipeError, OSError):
            self.broken.set()


def _print_certificate(info: certstore.CertInfo, port: int, printer: "Printer") -> None:
    if printer.as_json:
        printer.write(jsonout.dumps({"event": "certificate", **info.to_dict()}))
        return
    state = "generated" if info.generated else "reusing"
    lines = [f"{state} the self-signed certificate {visible(str(info.cert_path), keep_newlines=False)}",
             f"  SHA-256 {info.fingerprint}; names {', '.join(info.names)}", "  to trust it:"]
    lines += [f"    {visible(hint, keep_newlines=False)}" for hint in certstore.trust_hints(info, "127.0.0.1", port)]
    printer.write("\n".join(lines))


def main(argv: list[str]) -> int:
    from tlsbench.engine.listener.server import Listener

    if any(a in ("-h", "--help") for a in argv):
        build_parser().print_help()
        return EXIT_OK
    try:
        args = build_parser().parse_args(argv)
        config = config_from_args(args)
        printer = Printer(args.json)
        listener = Listener(config, on_event=printer, on_flush=printer.flush)
        _install_signals(listener)  # before start: a SIGUSR1 must never meet the default (fatal) action
        files = raise_open_files()  # one descriptor per client: take what the system allows
        listener.start()
    except (UsageError, InputError) as exc:
        print(f"tlsbench serve: {visible(' '.join(str(exc).split()), keep_newlines=False)}", file=sys.stderr)
        return EXIT_USAGE
    if not listener.config.is_loopback():
        print(f"note: binding {listener.config.bind} is an explicit choice: "
              "other machines may reach this listener", file=sys.stderr)
    if config.port == 0 and not args.json:
        printer.write(f"port 0 asked: the kernel picked port {listener.port}")
    printer.write(jsonout.dumps({"event": "open-files", **files.to_dict()}) if args.json else files.describe())
    if listener.cert_info is not None:
        _print_certificate(listener.cert_info, listener.port, printer)
    return _run_until_stopped(listener, printer)


def _install_signals(listener) -> None:
    def toggle(*_):
        listener.toggle_pause_soon()  # printing here could meet the main thread's own print: no lock taken

    def stop(*_):
        raise KeyboardInterrupt

    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, toggle)
    # SIGINT too: started with `&` from a script, it arrives ignored and Python sets no handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def _run_until_stopped(listener, printer: Printer) -> int:
    if sys.stdin is not None and sys.stdin.isatty():
        threading.Thread(target=_toggle_on_enter, args=(lambda: listener.toggle_pause(),), daemon=True).start()
    try:
        while not listener.wait(0.2) and not printer.broken.is_set():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        try:
            listener.stop()
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def _toggle_on_enter(toggle) -> None:
    try:
        for _line in sys.stdin:
            toggle()
    except (OSError, ValueError):
        pass

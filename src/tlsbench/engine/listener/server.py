"""The listener: bind, listen(backlog), and serve every client from one event-loop thread.

    listener = Listener(ListenerConfig(port=0, tls=True), on_event=print)
    listener.start()            # binds now; InputError for a bad address or a port in use
    listener.pause(); listener.resume(); listener.stop()

One thread polls (poller.py) the listening socket and every client's non-blocking socket;
clients are state machines (client.py) that move TLS through the engine's TlsPump. So 10,000
held connections cost 10,000 small objects, not 10,000 threads; an idle client has no SSL object
until its ClientHello is whole. While paused (or at --max-clients, or out of descriptors),
nothing is accepted: connections complete the kernel's handshake and wait in the accept queue,
up to the backlog; the `queue` events show it fill and drain. Out of descriptors (EMFILE), the
listener says so once, stops polling the listening socket (no busy loop), keeps serving the
clients it has, and accepts again when one leaves. `on_event` is called for every event, one at
a time, mostly from the loop's thread.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import time
from typing import Callable

from tlsbench.errors import InputError
from tlsbench.engine.listener import certstore
from tlsbench.engine.listener.alerts import alert_name
from tlsbench.engine.listener.backlog import queue_state, somaxconn
from tlsbench.engine.listener.client import ClientSession
from tlsbench.engine.listener.config import ListenerConfig, checked, server_context
from tlsbench.engine.listener.deadlines import TimerHeap
from tlsbench.engine.listener.events import (Accepted, ListenerError, ListenerEvent, Listening, Notice, PauseChanged,
                                             QueueChanged, Stopped)
from tlsbench.engine.listener.fdlimit import descriptors_in_use, open_files
from tlsbench.engine.listener.poller import READ, WRITE, Poller

POLL_SECONDS = 0.05  # the loop wakes at least this often (queue sampling, stop)
QUEUE_SAMPLE_SECONDS = 0.02  # the accept queue (TCP_INFO) is read at most this often
ACCEPT_BATCH = 64  # accepts per wake, so clients already connected are served between batches
# Events handled per round of the loop (young clients first: see poller.py), so that 10,000 clients
# closing at once (each a `closed` event to write) do not hold up a newcomer's handshake.
EVENTS_PER_ROUND = 128
YOUNG_SECONDS = 1.0  # a client is polled with the newcomers this long, or until its handshake is done
STARVED_RETRY_SECONDS = 0.5  # out of descriptors: try accept() again this often (or when a client leaves)
ALERT_CONTENT_TYPE = 21
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_LISTEN, _WAKE = object(), object()


# OpenSSL's message callback as the C slot calls it: (conn, direction, version, content_type, msg_type, data).
MessageHook = Callable[[object, str, int, int, int, bytes], None]


def _set_message_hook(ctx: ssl.SSLContext, hook: MessageHook) -> None:
    """SSLContext._msg_callback, without ssl.py's wrapper that turns every argument of every record
    into an enum member (a tenth of a millisecond per handshake); the hook gets plain ints."""
    def raw(conn: object, direction: str, version: int, content_type: int, msg_type: int, data: bytes) -> None:
        return hook(conn, direction, version, content_type, msg_type, data)

    raw.user_function = hook  # type: ignore[attr-defined]  # what the property's getter returns
    try:
        super(ssl.SSLContext, ssl.SSLContext)._msg_callback.__set__(ctx, raw)  # type: ignore[misc]
    except (AttributeError, TypeError):
        ctx._msg_callback = hook  # type: ignore[attr-defined]


class Listener:
    def __init__(self, config: ListenerConfig, on_event: Callable[[ListenerEvent], object] | None = None,
                 on_flush: Callable[[], None] | None = None) -> None:
        self.config = checked(config)
        self.on_event = on_event
        # Called after a round of the loop that emitted events: a consumer that buffers its output
        # (serve --json to a pipe) writes it out once per round rather than once per event.
        self.on_flush = on_flush
        self._unflushed = False
        self.ssl_context: ssl.SSLContext | None = None
        self.cert_path: str | None = None  # what a client should trust (TLS only)
        self.cert_info: certstore.CertInfo | None = None
        self.sock: socket.socket | None = None
        self.port = 0
        self.address = self.config.bind
        self.tls_owner: ClientSession | None = None  # the client whose TLS is being pumped (for alerts)
        self._emit_lock = threading.Lock()
        self._accept_lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = self.config.pause_accept
        self._clients: dict[int, ClientSession] = {}
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self._poller: Poller | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._timers = TimerHeap()
        self._listening_registered = False
        self._starved = False
        self._starved_retry_at = 0.0
        self._freed = False  # a client left since the last accept attempt
        self._queue_last: tuple | None = None
        self._queue_sampled = 0.0
        self._stopped_emitted = False
        self._toggles_asked = self._toggles_done = 0
        self._t0 = time.monotonic()

    # -- events -------------------------------------------------------------------------------
    def now_ms(self) -> float:
        return round((time.monotonic() - self._t0) * 1000, 3)

    def emit(self, event: ListenerEvent) -> None:
        if self.on_event is None:
            return
        with self._emit_lock:
            self._unflushed = True
            try:
                self.on_event(event)
            except Exception:  # a broken consumer must not take the listener down
                pass

    def flush(self) -> None:
        if self._unflushed and self.on_flush is not None:
            with self._emit_lock:
                self._unflushed = False
                try:
                    self.on_flush()
                except Exception:
                    pass

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Listening:
        if self.config.tls:
            self._prepare_tls()
        family = socket.AF_INET6 if self.config.family_is_v6() else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((self.config.bind, self.config.port))
            sock.listen(self.config.backlog)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            where = f"{self.config.bind} port {self.config.port}"
            if exc.errno == errno.EADDRINUSE:
                raise InputError(f"{where} is already in use; pick another --port (0 picks a free one)",
                                 field="port") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InputError(f"cannot bind {self.config.bind}: no interface here has that address",
                                 field="bind") from None
            if exc.errno == errno.EACCES:
                raise InputError(f"{where}: permission denied (ports below 1024 need privileges)",
                                 field="port") from None
            raise InputError(f"cannot listen on {where}: {exc.strerror or exc}", field="port") from None
        self.sock = sock
        self.address, self.port = sock.getsockname()[:2]
        self._poller = Poller()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._poller.register(self._wake_r.fileno(), READ, _WAKE)
        state = queue_state(sock)
        event = Listening(address=self.address, port=self.port, backlog=self.config.backlog,
                          effective_backlog=state[1] if state else None, somaxconn=somaxconn(),
                          tls=self.config.tls, paused=self._paused, at_ms=self.now_ms(),
                          open_files_limit=open_files().soft)
        self.emit(event)
        self._thread = threading.Thread(target=self._run, name=f"tlsbench-listener-{self.port}", daemon=True)
        self._thread.start()
        return event

    def _prepare_tls(self) -> None:
        if self.config.cert:
            cert, key = self.config.cert, self.config.key
        else:
            self.cert_info = certstore.ensure_certificate(self.config.names)
            cert, key = str(self.cert_info.cert_path), str(self.cert_info.key_path)
        self.ssl_context = server_context(self.config, cert, key)
        self.cert_path = cert
        # The private message hook shows every alert, TLS 1.3's encrypted ones included.
        _set_message_hook(self.ssl_context, self._on_tls_message)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop accepting, cut every client off, and wait (bounded) for the loop to finish."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if thread is None or not thread.is_alive():
            self._emit_stopped()
            self.flush()

    def _emit_stopped(self) -> None:
        with self._accept_lock:
            if self._stopped_emitted:
                return
            self._stopped_emitted = True
        self.emit(Stopped(clients_served=self._next_id, at_ms=self.now_ms()))

    @property
    def running(self) -> bool:
        return self.sock is not None and not self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stop() (True) or the timeout (False)."""
        return self._stop.wait(timeout)

    def _wake(self) -> None:
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"\0")
            except OSError:
                pass  # already full (a wake is pending) or closed

    # -- pause / resume -----------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._accept_lock:  # once pause() returns, nothing more is accepted
            if self._paused:
                return
            self._paused = True
        self.emit(PauseChanged(paused=True, at_ms=self.now_ms()))
        self.flush()
        self._wake()

    def resume(self) -> None:
        with self._accept_lock:
            if not self._paused:
                return
            self._paused = False
        self.emit(PauseChanged(paused=False, at_ms=self.now_ms()))
        self.flush()
        self._wake()

    def toggle_pause(self) -> bool:
        """Pause when accepting, resume when paused; returns the new state (True = paused)."""
        self.resume() if self._paused else self.pause()
        return self._paused

    def toggle_pause_soon(self) -> None:
        """toggle_pause() from the loop's thread, soon. Safe in a signal handler: it takes no lock
        (the handler may interrupt a thread that holds the printer's)."""
        self._toggles_asked += 1
        self._wake()

    @property
    def active_clients(self) -> int:
        return len(self._clients)

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        poller = self._poller
        assert poller is not None and self.sock is not None
        try:
            while not self._stop.is_set():
                while self._toggles_done < self._toggles_asked:
                    self._toggles_done += 1
                    self.toggle_pause()
                now = time.monotonic()
                self._sync_accepting(now)
                self._sample_queue(now)
                timeout = POLL_SECONDS
                due = self._timers.next_at()
                if due is not None:
                    timeout = min(timeout, due - now)
                if self._starved:
                    timeout = min(timeout, self._starved_retry_at - now)
                events = poller.poll(max(timeout, 0.0), EVENTS_PER_ROUND)
                if self._listening_registered:
                    self._accept_batch()  # first, and whether or not its event made this round's share
                for target, mask in events:
                    if target is _WAKE:
                        self._drain_wake()
                    elif target is not _LISTEN:
                        self._serve(target, mask)
                now = time.monotonic()
                for n, session in enumerate(self._timers.pop_due(now)):
                    if not session.done:
                        self._guarded(session, session.on_timer, now)
                    if n >= EVENTS_PER_ROUND:
                        break  # the rest are still due: the next round comes at once
                if len(self._timers) > 2 * len(self._clients) + 1024:
                    self._timers.rebuild(self._clients.values())
                self.flush()
        except Exception as exc:  # the loop itself failed: say so, and end like a stop
            self.emit(ListenerError(message=f"the listener's loop failed: {type(exc).__name__}: {exc}",
                                    at_ms=self.now_ms()))
        finally:
            self._stop.set()
            self._close_everything()
            self._emit_stopped()
            self.flush()

    def _serve(self, session: ClientSession, mask: int) -> None:
        if session.done:  # ended by an earlier event of the same wake
            return
        now = time.monotonic()
        if mask & READ:
            self._guarded(session, session.on_readable, now)
        if mask & WRITE and not session.done:
            self._guarded(session, session.on_writable, now)

    def _guarded(self, session: ClientSession, call: Callable[[float], object], now: float) -> None:
        try:
            call(now)
        except Exception as exc:  # one client's surprise never reaches the listener
            self.emit(ListenerError(message=f"client {session.client_id}: {type(exc).__name__}: {exc}",
                                    client_id=session.client_id, at_ms=self.now_ms()))
            self.tls_owner = None
            session.finish(f"internal error: {type(exc).__name__}")
        if not session.done:
            self._sync(session)

    def _sync(self, session: ClientSession) -> None:
        """Selector interest and timer for a session after it ran."""
        read, write = session.wants()
        mask = (READ if read else 0) | (WRITE if write else 0)
        poller = self._poller
        assert poller is not None
        if mask != session.mask:
            if session.mask == 0:
                poller.register(session.fd, mask, session, young=session.young)
            elif mask == 0:
                poller.unregister(session.fd)
            else:
                poller.modify(session.fd, mask, session)
            session.mask = mask
        at = session.next_deadline()
        if session.young:
            young_until = session.started + YOUNG_SECONDS
            if session.state not in ("first", "handshake") or time.monotonic() >= young_until:
                session.young = False
                if session.mask:
                    poller.settle(session.fd)
            else:
                at = min(at, young_until)
        self._timers.schedule(at, session)

    def release(self, session: ClientSession) -> None:
        """A session is ending: forget it before its socket closes."""
        if session.mask and self._poller is not None:
            try:
                self._poller.unregister(session.fd)
            except (KeyError, ValueError, OSError):
                pass
            session.mask = 0
        if self._clients.pop(session.client_id, None) is not None:
            self._freed = True

    def _drain_wake(self) -> None:
        assert self._wake_r is not None
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _close_everything(self) -> None:
        for session in list(self._clients.values()):
            self.tls_owner = None
            try:
                session.finish("the listener stopped")
            except Exception:
                pass
        for closable in (self.sock, self._wake_r, self._wake_w, self._poller):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass

    # -- accepting ----------------------------------------------------------------------------
    def _at_capacity(self) -> bool:
        limit = self.config.max_clients
        return limit is not None and len(self._clients) >= limit

    def _sync_accepting(self, now: float) -> None:
        want = not (self._paused or self._at_capacity() or self._stop.is_set())
        if want and self._starved:
            want = self._freed or now >= self._starved_retry_at
        if want != self._listening_registered:
            assert self._poller is not None and self.sock is not None
            if want:
                self._poller.register(self.sock.fileno(), READ, _LISTEN)
            else:
                self._poller.unregister(self.sock.fileno())
            self._listening_registered = want

    def _accept_batch(self) -> None:
        assert self.sock is not None
        for _ in range(ACCEPT_BATCH):
            with self._accept_lock:
                if self._paused:  # paused while we waited in select()
                    return
                try:
                    conn, peer = self.sock.accept()
                except (BlockingIOError, InterruptedError):
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as exc:
                    if exc.errno in _OUT_OF_DESCRIPTORS:
                        return self._out_of_descriptors(exc)
                    self.emit(ListenerError(message=f"accept failed: {exc.strerror or exc}", at_ms=self.now_ms()))
                    return
            self._freed = False
            if self._starved:
                self._starved = False
                self.emit(Notice(message=f"accepting again: descriptors freed ({len(self._clients)} clients open)",
                                 code="accepting-again", at_ms=self.now_ms()))
            self._add_client(conn, peer)
            if self._at_capacity():
                return

    def _out_of_descriptors(self, exc: OSError) -> None:
        self._freed = False
        self._starved_retry_at = time.monotonic() + STARVED_RETRY_SECONDS
        if self._starved:
            return  # said once already
        self._starved = True
        limit = open_files().soft
        in_use = descriptors_in_use()
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        self.emit(ListenerError(
            message=(f"out of file descriptors ({name}: {exc.strerror}): {len(self._clients)} clients open, "
                     f"{in_use if in_use is not None else '?'} descriptors in use, limit {limit}; new connections "
                     "wait in the accept queue until a client leaves; the clients already here are still served"),
            code="descriptors-exhausted", at_ms=self.now_ms()))

    def _add_client(self, conn: socket.socket, peer: tuple) -> None:
        conn.setblocking(False)
        self._next_id += 1
        client_id = self._next_id
        now = time.monotonic()
        try:
            local = conn.getsockname()
        except OSError:
            local = (self.address, self.port)
        session = ClientSession(self, conn, client_id, peer, now)
        self._clients[client_id] = session
        self.emit(Accepted(client_id=client_id, peer_address=peer[0], peer_port=peer[1], local_address=local[0],
                           local_port=local[1], at_ms=self.now_ms()))
        self._sync(session)

    def _sample_queue(self, now: float) -> None:
        if now - self._queue_sampled < QUEUE_SAMPLE_SECONDS:
            return
        self._queue_sampled = now
        assert self.sock is not None
        state = queue_state(self.sock)
        if state is not None and (state, self._paused) != self._queue_last:
            self._queue_last = (state, self._paused)
            self.emit(QueueChanged(length=state[0], backlog=state[1], paused=self._paused, at_ms=self.now_ms()))

    # -- alerts the client sends (seen through the message hook, in the loop's thread) -------
    def _on_tls_message(self, conn: object, direction: str, version: int, content_type: int, msg_type: int,
                        data: bytes) -> None:
        owner = self.tls_owner
        if owner is None or direction != "read" or int(content_type) != ALERT_CONTENT_TYPE or len(data) < 2:
            return
        if data[1] != 0:  # close_notify is not an abort
            owner.alert = alert_name(data[1])
            owner.alert_bytes = bytes(data[:2])


"""The listener: bind, listen(backlog), and serve every client from one event-loop thread.

    listener = Listener(ListenerConfig(port=0, tls=True), on_event=print)
    listener.start()            # binds now; InputError for a bad address or a port in use
    listener.pause(); listener.resume(); listener.stop()

One thread runs a selector over the listening socket and every client's non-blocking socket;
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
import selectors
import socket
import ssl
import threading
import time
from typing import Callable

from tlsbench.engine.errors import InputError
from tlsbench.engine.listener import certstore
from tlsbench.engine.listener.alerts import alert_name
from tlsbench.engine.listener.backlog import queue_state, somaxconn
from tlsbench.engine.listener.client import ClientSession
from tlsbench.engine.listener.config import ListenerConfig, checked, server_context
from tlsbench.engine.listener.deadlines import TimerHeap
from tlsbench.engine.listener.events import (Accepted, ListenerError, ListenerEvent, Listening, Notice, PauseChanged,
                                             QueueChanged, Stopped)
from tlsbench.engine.listener.fdlimit import descriptors_in_use, open_files

POLL_SECONDS = 0.05  # the loop wakes at least this often (queue sampling, stop)
QUEUE_SAMPLE_SECONDS = 0.02  # the accept queue (TCP_INFO) is read at most this often
ACCEPT_BATCH = 64  # accepts per wake, so clients already connected are served between batches
STARVED_RETRY_SECONDS = 0.5  # out of descriptors: try accept() again this often (or when a client leaves)
ALERT_CONTENT_TYPE = 21
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_LISTEN, _WAKE = object(), object()


class Listener:
    def __init__(self, config: ListenerConfig, on_event: Callable[[ListenerEvent], None] | None = None) -> None:
        self.config = checked(config)
        self.on_event = on_event
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
        self._selector: selectors.BaseSelector | None = None
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
        self._t0 = time.monotonic()

    # -- events -------------------------------------------------------------------------------
    def now_ms(self) -> float:
        return round((time.monotonic() - self._t0) * 1000, 3)

    def emit(self, event: ListenerEvent) -> None:
        if self.on_event is None:
            return
        with self._emit_lock:
            try:
                self.on_event(event)
            except Exception:  # a broken consumer must not take the listener down
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
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
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
        self.ssl_context._msg_callback = self._on_tls_message  # type: ignore[attr-defined]

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
        self._wake()

    def resume(self) -> None:
        with self._accept_lock:
            if not self._paused:
                return
            self._paused = False
        self.emit(PauseChanged(paused=False, at_ms=self.now_ms()))
        self._wake()

    def toggle_pause(self) -> bool:
        """Pause when accepting, resume when paused; returns the new state (True = paused)."""
        self.resume() if self._paused else self.pause()
        return self._paused

    @property
    def active_clients(self) -> int:
        return len(self._clients)

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        selector = self._selector
        assert selector is not None and self.sock is not None
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                self._sync_accepting(now)
                self._sample_queue(now)
                timeout = POLL_SECONDS
                due = self._timers.next_at()
                if due is not None:
                    timeout = min(timeout, due - now)
                if self._starved:
                    timeout = min(timeout, self._starved_retry_at - now)
                for key, mask in selector.select(max(timeout, 0.0)):
                    target = key.data
                    if target is _LISTEN:
                        self._accept_batch()
                    elif target is _WAKE:
                        self._drain_wake()
                    else:
                        self._serve(target, mask)
                now = time.monotonic()
                for session in self._timers.pop_due(now):
                    if not session.done:
                        self._guarded(session, session.on_timer, now)
                if len(self._timers) > 2 * len(self._clients) + 1024:
                    self._timers.rebuild(self._clients.values())
        except Exception as exc:  # the loop itself failed: say so, and end like a stop
            self.emit(ListenerError(message=f"the listener's loop failed: {type(exc).__name__}: {exc}",
                                    at_ms=self.now_ms()))
        finally:
            self._stop.set()
            self._close_everything()
            self._emit_stopped()

    def _serve(self, session: ClientSession, mask: int) -> None:
        if session.done:  # ended by an earlier event of the same wake
            return
        now = time.monotonic()
        if mask & selectors.EVENT_READ:
            self._guarded(session, session.on_readable, now)
        if mask & selectors.EVENT_WRITE and not session.done:
            self._guarded(session, session.on_writable, now)

    def _guarded(self, session: ClientSession, call, now: float) -> None:
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
        mask = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        if mask != session.mask:
            assert self._selector is not None
            if session.mask == 0:
                self._selector.register(session.sock, mask, session)
            elif mask == 0:
                self._selector.unregister(session.sock)
            else:
                self._selector.modify(session.sock, mask, session)
            session.mask = mask
        self._timers.schedule(session.next_deadline(), session)

    def release(self, session: ClientSession) -> None:
        """A session is ending: forget it before its socket closes."""
        if session.mask and self._selector is not None:
            try:
                self._selector.unregister(session.sock)
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
        for closable in (self.sock, self._wake_r, self._wake_w, self._selector):
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
            assert self._selector is not None and self.sock is not None
            if want:
                self._selector.register(self.sock, selectors.EVENT_READ, _LISTEN)
            else:
                self._selector.unregister(self.sock)
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
    def _on_tls_message(self, conn, direction, version, content_type, msg_type, data) -> None:
        owner = self.tls_owner
        if owner is None or direction != "read" or int(content_type) != ALERT_CONTENT_TYPE or len(data) < 2:
            return
        if data[1] != 0:  # close_notify is not an abort
            owner.alert = alert_name(data[1])
            owner.alert_bytes = bytes(data[:2])


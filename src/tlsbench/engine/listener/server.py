"""The listener: bind, listen(backlog), accept in a thread, serve each client in its own thread.

    listener = Listener(ListenerConfig(port=0, tls=True), on_event=print)
    listener.start()            # binds now; InputError for a bad address or a port in use
    listener.pause(); listener.resume(); listener.stop()

While paused, nothing is accepted: connections still complete the kernel's handshake and
wait in the accept queue, up to the backlog; the `queue` events show it fill and drain.
`on_event` is called for every event, one at a time (a lock serialises the threads).
"""

from __future__ import annotations

import errno
import select
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
from tlsbench.engine.listener.events import (ListenerError, ListenerEvent, Listening, PauseChanged, QueueChanged,
                                             Stopped)

POLL_SECONDS = 0.05
ALERT_CONTENT_TYPE = 21


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
        self._emit_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._accept_lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = self.config.pause_accept
        self._clients: dict[int, tuple[threading.Thread, socket.socket]] = {}
        self._alert_watch: dict[int, ClientSession] = {}
        self._next_id = 0
        self._thread: threading.Thread | None = None
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
        state = queue_state(sock)
        event = Listening(address=self.address, port=self.port, backlog=self.config.backlog,
                          effective_backlog=state[1] if state else None, somaxconn=somaxconn(),
                          tls=self.config.tls, paused=self._paused, at_ms=self.now_ms())
        self.emit(event)
        self._thread = threading.Thread(target=self._accept_loop, name=f"tlsbench-listener-{self.port}",
                                        daemon=True)
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
        """Stop accepting, cut every client off, and wait (bounded) for the threads."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.sock is not None:
            self.sock.close()
        with self._state_lock:
            clients = list(self._clients.values())
        for _thread, conn in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread, _conn in clients:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.emit(Stopped(clients_served=self._next_id, at_ms=self.now_ms()))

    @property
    def running(self) -> bool:
        return self.sock is not None and not self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stop() (True) or the timeout (False)."""
        return self._stop.wait(timeout)

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

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self.emit(PauseChanged(paused=False, at_ms=self.now_ms()))

    def toggle_pause(self) -> bool:
        """Pause when accepting, resume when paused; returns the new state (True = paused)."""
        self.resume() if self._paused else self.pause()
        return self._paused

    @property
    def active_clients(self) -> int:
        with self._state_lock:
            return len(self._clients)

    # -- the accept loop ----------------------------------------------------------------------
    def _accept_loop(self) -> None:
        last: tuple | None = None
        sock = self.sock
        assert sock is not None
        while not self._stop.is_set():
            state = queue_state(sock)
            if state is not None and (state, self._paused) != last:
                last = (state, self._paused)
                self.emit(QueueChanged(length=state[0], backlog=state[1], paused=self._paused, at_ms=self.now_ms()))
            limit = self.config.max_clients
            if self._paused or (limit is not None and self.active_clients >= limit):
                self._stop.wait(POLL_SECONDS)
                continue
            try:
                ready, _, _ = select.select([sock], [], [], POLL_SECONDS)
            except (OSError, ValueError):
                break
            if not ready:
                continue
            try:
                with self._accept_lock:
                    if self._paused:  # paused while we waited in select()
                        continue
                    conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                self.emit(ListenerError(message=f"accept failed: {exc.strerror or exc}", at_ms=self.now_ms()))
                self._stop.wait(POLL_SECONDS)  # e.g. out of file descriptors: do not spin
                continue
            self._start_client(conn, peer)

    def _start_client(self, conn: socket.socket, peer: tuple) -> None:
        conn.setblocking(True)
        with self._state_lock:
            self._next_id += 1
            client_id = self._next_id
        session = ClientSession(self, conn, client_id, peer)
        thread = threading.Thread(target=self._run_client, args=(session,), daemon=True,
                                  name=f"tlsbench-client-{client_id}")
        with self._state_lock:
            self._clients[client_id] = (thread, conn)
        thread.start()

    def _run_client(self, session: ClientSession) -> None:
        try:
            session.run()
        except Exception as exc:  # last resort: one client's surprise never reaches the listener
            self.emit(ListenerError(message=f"client {session.client_id}: {type(exc).__name__}: {exc}",
                                    client_id=session.client_id, at_ms=self.now_ms()))
        finally:
            with self._state_lock:
                self._clients.pop(session.client_id, None)

    # -- alerts the client sends (seen through the message hook) -------------------------------
    def watch_alerts(self, sslobj: ssl.SSLObject, session: ClientSession) -> None:
        with self._state_lock:
            self._alert_watch[id(sslobj)] = session

    def unwatch_alerts(self, sslobj: ssl.SSLObject) -> None:
        with self._state_lock:
            self._alert_watch.pop(id(sslobj), None)

    def _on_tls_message(self, conn, direction, version, content_type, msg_type, data) -> None:
        if direction != "read" or int(content_type) != ALERT_CONTENT_TYPE or len(data) < 2:
            return
        session = self._alert_watch.get(id(conn))
        if session is not None and data[1] != 0:  # close_notify is not an abort
            session.alert_received = alert_name(data[1])

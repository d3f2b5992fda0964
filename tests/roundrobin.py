"""A minimal round-robin TCP forwarder for tests: one address, several real servers behind it.

Each accepted connection goes to the next backend in turn (1st to the first, 2nd to the second,
...), and bytes are copied both ways until either side closes. Enough to put two TLS servers
with different certificates behind one address, as a load balancer does.
"""

from __future__ import annotations

import socket
import threading


class RoundRobin:
    def __init__(self, backends: list[tuple[str, int]], host: str = "127.0.0.1") -> None:
        self.backends = list(backends)
        self.listener = socket.create_server((host, 0))
        self.host, self.port = host, self.listener.getsockname()[1]
        self.address = f"{host}:{self.port}"
        self.accepted = 0
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="roundrobin", daemon=True)

    def __enter__(self) -> "RoundRobin":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread (close alone does not)
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            for sock in self._socks:
                sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            backend = self.backends[self.accepted % len(self.backends)]
            self.accepted += 1
            try:
                upstream = socket.create_connection(backend, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                for sock in (src, dst):
                    if sock in self._socks:
                        self._socks.remove(sock)
                        sock.close()

"""A TLS listener (ssl module, the lab's good leaf and its intermediate) that leaves connections in
the accept queue a while before accepting them: the client's connect is quick (the kernel completes
it), its handshake waits for the accept."""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

from tlsbench.lab.certs import LabCerts


class LateAccept:
    """Connection number `only` (1-based), or every one when `only` is None, waits `delay` s in the
    accept queue; the others are accepted at once. Each is served in turn until the client closes."""

    def __init__(self, certs: LabCerts, delay: float, only: int | None = None) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(certs.good.chain), str(certs.good.key))
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=4)
        self.port: int = self.sock.getsockname()[1]
        self.delay, self.only = delay, only
        self.seen = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                # readable: a connection waits in the queue; then leave it there a while (or not)
                if not select.select([self.sock], [], [], 0.1)[0]:
                    continue
                self.seen += 1
                if self.only is None or self.seen == self.only:
                    time.sleep(self.delay)
                conn, _ = self.sock.accept()
            except (OSError, ValueError):  # closed
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except OSError:
                pass

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=6)
        self.sock.close()

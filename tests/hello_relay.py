"""A TCP relay on loopback that loses large ClientHellos, as some middleboxes do: it forwards both
ways, but a client->server flight (the bytes that arrive together) larger than `limit` is silently
held — never forwarded, the connection left open — so the client waits for an answer that never
comes. Used between tlsbench and a real server."""

from __future__ import annotations

import select
import socket
import threading


class HelloRelay:
    def __init__(self, upstream: tuple[str, int], limit: int) -> None:
        self.upstream, self.limit = upstream, limit
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[int] = []  # sizes of the flights held
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _flight(self, client: socket.socket) -> bytes:
        """What the client sent together: reads until it pauses for 50 ms."""
        data = client.recv(65536)
        while data and select.select([client], [], [], 0.05)[0]:
            more = client.recv(65536)
            if not more:
                break
            data += more
        return data

    def _relay(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        self._open += [client, server]
        holding = False
        try:
            while True:
                ready = select.select([client, server], [], [], 30)[0]
                if not ready:
                    return
                if server in ready:
                    data = server.recv(65536)
                    if not data:
                        return
                    client.sendall(data)
                if client in ready:
                    data = self._flight(client)
                    if not data:
                        return
                    if holding or len(data) > self.limit:
                        holding = True  # this connection's client->server bytes go nowhere from now on
                        self.held.append(len(data))
                        continue
                    server.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def stop(self) -> None:
        self.sock.close()
        for s in self._open:
            try:
                s.close()
            except OSError:
                pass

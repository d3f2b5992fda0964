"""The one module that knows PySocks' names: a SOCKS negotiation run by PySocks' own negotiator,
its reads and writes going through a tlsbench stream (a socket, a tunnel, TLS to an HTTPS proxy),
so SOCKS works at any depth of a chain and every byte is on the stream's record.

Only the negotiator is called (not `socksocket.connect()`, which flattens every reply into
"Socket error: ..."), so TCP-to-proxy and the handshake are timed apart. PySocks is imported when
`prepare()` is called, by the stage's preparation, before any clock.
"""

from __future__ import annotations

import socket
from typing import Any

from tlsbench.engine.stream import Stream


class _StreamFile:
    """What PySocks gets from `makefile()`: writes gathered until flush, reads from the stream.

    PySocks reads a reply a few bytes at a time (2, 3, 1, 4, 2); each read here takes whatever the
    stream has, and serves the rest from a buffer, so a reply costs one receive, as it does any
    client. What is left after the negotiation (the target's first bytes, in the same segment) is
    given back to the stream."""

    def __init__(self, stream: Stream, buffer: bytearray, eof: list[bool]) -> None:
        self._stream = stream
        self._out = bytearray()
        self._in = buffer
        self.eof = eof  # gets an entry when the proxy closed its side

    def write(self, data: bytes) -> int:
        self._out += data
        return len(data)

    def flush(self) -> None:
        if self._out:
            data, self._out = bytes(self._out), bytearray()
            self._stream.send(data)

    def read(self, size: int = -1) -> bytes:
        want = size if size and size > 0 else 65536
        if not self._in:
            data = self._stream.recv(65536)
            if not data:
                self.eof.append(True)
            self._in += data
        out = bytes(self._in[:want])
        del self._in[:want]
        return out

    def close(self) -> None:
        self.flush()


class Negotiation:
    """One SOCKS request over a stream. After `run()`: `bound` (the address the proxy's reply
    names, or None), `leftover` (bytes read past the reply) and `closed` (the proxy closed)."""

    def __init__(self, client: SocksClient, version: int, host: str, port: int, *, remote_dns: bool,
                 username: str | None, password: str | None) -> None:
        # PySocks keeps its settings on a socket object; the bytes go through the stream. One per
        # run (a prepared plan may run many times), made before the clock starts.
        self._socket = client.socket_class(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.set_proxy(client.socks.SOCKS4 if version == 4 else client.socks.SOCKS5, host, port,
                               rdns=remote_dns, username=username, password=password)
        self.bound: tuple | None = None
        self._leftover = bytearray()
        self._eof: list[bool] = []

    @property
    def leftover(self) -> bytes:
        return bytes(self._leftover)

    @property
    def closed(self) -> bool:
        return bool(self._eof)

    def run(self, stream: Stream, dest: str, port: int) -> None:
        """The handshake; raises what PySocks raises (judge it from the stream's bytes, not its text)."""
        ss = self._socket
        ss.stream, ss.unread, ss.eof = stream, self._leftover, self._eof
        try:
            ss._proxy_negotiators[ss.proxy[0]](ss, dest, port)
        finally:
            self.bound = ss.get_proxy_sockname()
            ss.stream = None
            ss.close()


class SocksClient:
    """PySocks, loaded: makes the negotiations of a hop."""

    def __init__(self) -> None:
        import socks  # PySocks: imported before the clock, by the stage's preparation

        class StreamSocket(socks.socksocket):
            stream: Stream | None = None
            unread: bytearray
            eof: list[bool]

            # PySocks' negotiators call makefile() and only read, write and flush what it gives.
            def makefile(self, *args: object, **kwargs: object) -> _StreamFile:  # type: ignore[override]
                assert self.stream is not None  # set for the negotiation
                return _StreamFile(self.stream, self.unread, self.eof)

        self.socks = socks
        self.socket_class: Any = StreamSocket  # PySocks is untyped

    def negotiation(self, version: int, host: str, port: int, *, remote_dns: bool, username: str | None,
                    password: str | None) -> Negotiation:
        return Negotiation(self, version, host, port, remote_dns=remote_dns, username=username, password=password)



def prepare() -> SocksClient:
    return SocksClient()


def is_protocol_error(exc: BaseException) -> bool:
    """PySocks' own error about what the proxy said (not the connection's)."""
    import socks  # loaded already when there was a negotiation

    return isinstance(exc, socks.ProxyError)

"""DoH servers for the tests: unbound 1.17 serving DNS over HTTPS (HTTP/2 only) from local data, and a
scripted HTTP/2 server that answers DoH queries wrongly (the wrong content type, a reset stream, a
GOAWAY) as no real resolver does on demand.

A small fixture of this file's own; the lab's DNS module may take unbound's start over later. And a
run whose resolve stage looks names up over DoH first (`run_with_doh`), as the resolve stage does
with --doh-url.
"""

from __future__ import annotations

import dns.message
import socket
import ssl
from pathlib import Path
from typing import Callable

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest

from tests.conftest import need
from tests.hostile_peers import ScriptedServer
from tlsbench.engine.cancel import CancelToken
from tlsbench.engine.dns.doh import DohTransport
from tlsbench.engine.dns.transport import Exchanged
from tlsbench.engine.events import Event
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.runner import preflight, run_probe
from tlsbench.engine.spec import ConnectionSpec
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stages.resolve import ResolveStage
from tlsbench.lab.certs import CertFiles
from tlsbench.lab.processes import ManagedProcess, require_binary, start_on_free_port

NAME = "www.lab.test"
ADDRESS_A = "127.0.0.1"
ADDRESS_AAAA = "::1"
TTL = 300


class Unbound(ManagedProcess):
    """unbound in the foreground (-d), no chroot, no user change, DoH on 127.0.0.1:PORT."""

    def __init__(self, port: int, cert: CertFiles, directory: Path) -> None:
        conf = directory / f"unbound-{port}.conf"
        conf.write_text(f"""server:
    interface: 127.0.0.1@{port}
    https-port: {port}
    tls-service-key: "{cert.key}"
    tls-service-pem: "{cert.chain}"
    chroot: ""
    username: ""
    directory: "{directory}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    do-daemonize: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: yes
    local-zone: "lab.test." static
    local-data: "{NAME}. {TTL} IN A {ADDRESS_A}"
    local-data: "{NAME}. {TTL} IN AAAA {ADDRESS_AAAA}"
remote-control:
    control-enable: no
""")
        super().__init__([require_binary("unbound"), "-d", "-c", str(conf)], host="127.0.0.1", port=port,
                         name="unbound", log_dir=directory / f"log-{port}")

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/dns-query"


def start_unbound(cert: CertFiles, directory: Path) -> Unbound:
    require_binary("unbound")
    return start_on_free_port(lambda port: Unbound(port, cert, directory))


@pytest.fixture(scope="session")
def unbound_doh(lab_certs, tmp_path_factory):
    """unbound serving DoH at https://localhost:PORT/dns-query with the lab's good certificate;
    www.lab.test has an A (127.0.0.1) and an AAAA (::1)."""
    server = need(start_unbound, lab_certs.good, tmp_path_factory.mktemp("unbound"))
    yield server
    server.stop()


# --- a DoH server that answers wrongly ------------------------------------------------------------

Answer = Callable[[h2.connection.H2Connection, int, bytes], None]


def wrong_type(conn: h2.connection.H2Connection, stream: int, query: bytes) -> None:
    conn.send_headers(stream, [(":status", "200"), ("content-type", "text/html")])
    conn.send_data(stream, b"<html>a web page</html>", end_stream=True)


def reset(conn: h2.connection.H2Connection, stream: int, query: bytes) -> None:
    conn.reset_stream(stream, 7)  # REFUSED_STREAM


def goaway(conn: h2.connection.H2Connection, stream: int, query: bytes) -> None:
    conn.close_connection(1, b"not now")  # PROTOCOL_ERROR


def silent(conn: h2.connection.H2Connection, stream: int, query: bytes) -> None:
    pass


ANSWERS: dict[str, Answer] = {"wrong-type": wrong_type, "reset": reset, "goaway": goaway, "silent": silent}


class WrongDoh(ScriptedServer):
    """TLS with ALPN h2 and a real HTTP/2 server side (the h2 library), answering each request with
    one of ANSWERS."""

    def __init__(self, cert: CertFiles, behaviour: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert.chain), str(cert.key))
        context.set_alpn_protocols(["h2"])
        answer = ANSWERS[behaviour]

        def script(sock: socket.socket) -> None:
            try:
                with context.wrap_socket(sock, server_side=True) as tls:
                    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
                    conn.initiate_connection()
                    tls.sendall(conn.data_to_send())
                    bodies: dict[int, bytes] = {}
                    while True:
                        data = tls.recv(65536)
                        if not data:
                            return
                        for event in conn.receive_data(data):
                            if isinstance(event, h2.events.DataReceived):
                                bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                            elif isinstance(event, h2.events.StreamEnded):
                                answer(conn, event.stream_id, bodies.get(event.stream_id, b""))
                        tls.sendall(conn.data_to_send())
            except (OSError, ssl.SSLError, h2.exceptions.H2Error):
                pass

        super().__init__(script)


# --- a run with a DoH lookup in its resolve stage ---------------------------------------------------

def queries() -> list[bytes]:
    out = []
    for kind in ("A", "AAAA"):
        message = dns.message.make_query(NAME, kind)
        message.id = 0  # RFC 8484: 0 in DoH, so caches can share answers
        out.append(message.to_wire())
    return out


class DohInResolve:
    """The resolve stage with a DoH lookup in it, as the resolve stage runs one: the transport's
    exchange, then the run's own lookup; the DoH findings reported as its own."""

    def __init__(self, transport: DohTransport, step: Step, plan: Plan, timeout: float = 10.0) -> None:
        self.transport = transport
        self.inner = ResolveStage(step, plan)
        self.timeout = timeout
        self.exchanged: Exchanged | None = None

    def run(self, ctx: StageContext, state: RunState) -> StageOutcome:
        self.exchanged = self.transport.exchange(queries(), ctx, self.timeout)
        outcome = self.inner.run(ctx, state)
        return outcome._replace(findings=outcome.findings + self.exchanged.findings)


@pytest.fixture
def listener():
    """A plain TCP listener on loopback: the run's own target (its connection is not the point)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def run_with_doh(url: str, run_spec: ConnectionSpec, *, insecure: bool = False, cafile: str | None = None,
                 cancel: CancelToken | None = None, on_event=None):
    """A run whose resolve stage looks names up over DoH first; (result, exchanged, events)."""
    transport = DohTransport(url, run_spec, insecure, cafile)
    prepared = preflight(run_spec)
    index = next(i for i, s in enumerate(prepared.plan.steps) if s.name == "resolve")
    stage = DohInResolve(transport, prepared.plan.steps[index], prepared.plan, timeout=run_spec.timeout)
    prepared.stages[index] = stage
    events: list[Event] = []

    def seen(event: Event) -> None:
        events.append(event)
        if on_event is not None:
            on_event(event)

    result = run_probe(run_spec, on_event=seen, cancel=cancel, prepared=prepared)
    return result, stage.exchanged, events



"""The end of a run: close_notify sent, the server's session tickets read, its close_notify awaited.

Outside every stage's clock and the run's total. Without this, a TLS 1.3 server's unread tickets
make the client's kernel answer the close with a reset, which servers log as an error.
"""

from __future__ import annotations

import pytest

from tlsbench.engine.runner import run_probe
from tlsbench.engine.spec import build_spec

pytestmark = pytest.mark.servers


def test_tls13_tickets_are_read_and_the_close_is_clean(tls_server, lab_certs):
    server = tls_server("good")
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert)))
    assert result.ok and result.tls.version == "TLSv1.3"
    assert result.tickets >= 1
    assert [m.name for m in result.messages if m.direction == "received"][-1] in ("NewSessionTicket",
                                                                                "alert: close_notify")
    assert result.closing.close_notify_sent and result.closing.peer == "close_notify"
    sent = [m.name for m in result.messages if m.direction == "sent"]
    assert sent[-1] == "alert: close_notify"
    # The close is not part of the run's time.
    assert result.total_ms <= result.stages[-1].started_ms + 5.0
    data = result.to_json_dict()
    assert data["schema"] == 3 and data["tls"]["session_tickets"] == result.tickets
    assert data["tls"]["close"]["peer"] == "close_notify"


def test_tls12_has_no_tickets_after_the_handshake_and_still_closes(tls_server, lab_certs):
    server = tls_server("good")
    result = run_probe(build_spec(f"localhost:{server.port}", cafile=str(lab_certs.ca_cert), tls_max="1.2"))
    assert result.ok and result.tls.version == "TLSv1.2"
    assert result.closing.close_notify_sent and result.closing.peer in ("close_notify", "eof")


def test_without_tls_there_is_no_tls_close(plain_http):
    result = run_probe(build_spec(plain_http.address, tls=False, http=True))
    assert result.ok and result.closing is None and result.to_json_dict()["tls"] is None

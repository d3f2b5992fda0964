"""A capture's credentials overwritten in place: the same bytes, the same lengths, no password.

Each direction of each TCP connection is masked as one stream (Redactor.mask_in_place), so a secret
split between two writes is still found; each datagram is masked alone. Lengths never change, so
the synthesised TCP stream keeps every sequence number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlsbench.engine.capture.taps import RECEIVED, SENT, Chunk

if TYPE_CHECKING:
    from tlsbench.engine.capture.taps import Capture


def masked_chunks(capture: Capture) -> list[Chunk]:
    """The capture's chunks with every credential of the run overwritten in place (same lengths)."""
    redactor = capture.redactor
    if not redactor.masks:
        return list(capture.chunks)
    chunks = list(capture.chunks)
    streams: dict[tuple[int, str], list[int]] = {}
    for n, chunk in enumerate(chunks):
        if chunk.what in (SENT, RECEIVED) and isinstance(chunk.data, bytes):
            streams.setdefault((chunk.connection, chunk.what), []).append(n)
    for (connection, _), indexes in streams.items():
        udp = capture.connections[connection].udp
        # A datagram stands alone; a stream's kept bytes are its start (nothing is kept past the limit).
        runs = [[n] for n in indexes] if udp else [indexes]
        for run in runs:
            whole = b"".join(chunks[n].data for n in run)  # type: ignore[misc]  # bytes, checked above
            masked = redactor.mask_in_place(whole)
            if masked == whole:
                continue
            at = 0
            for n in run:
                size = len(chunks[n].data)  # type: ignore[arg-type]
                chunks[n] = chunks[n]._replace(data=masked[at:at + size])
                at += size
    return chunks

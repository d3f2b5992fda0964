"""Frames between a parent and the engine's child processes (the workbench's run process and its
listener): a 4-byte big-endian length, then a pickled object. Both ends are tlsbench itself."""

from __future__ import annotations

import pickle
import struct
from typing import IO, Any, MutableSequence

HEADER = struct.Struct("!I")


def write_frame(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """One frame, or None at the end of the stream (or a frame cut short)."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    body = stream.read(size)
    return pickle.loads(body) if len(body) == size else None


def drain_lines(stream: IO[bytes], into: MutableSequence[str]) -> None:
    """Read a child's stderr to its end, keeping its non-empty lines: read all the time, since a child
    writing warnings into a full pipe would block mid-run."""
    for raw in stream:
        line = raw.decode("utf-8", "replace").strip()
        if line:
            into.append(line)

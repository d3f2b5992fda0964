"""Lines written whole: a line of output is one write of its bytes that no signal can cut.

A pipe write larger than a page may be interrupted by a signal after part of it went out; Python's
buffered stdout then lost the rest of a `--json-lines` run's line (seen after Ctrl-C: the summary
continued on the same line, 4096 bytes into a run's object). So each line goes straight to the file
descriptor, after what is buffered, in a loop that finishes short writes, with SIGINT, SIGTERM and
SIGHUP blocked in this thread for that time: a Ctrl-C is delivered as soon as the line is out.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
from typing import Iterator, TextIO

DEFERRED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Keep SIGINT/SIGTERM/SIGHUP pending (not lost) while the block runs; delivered after it."""
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED)
    except (AttributeError, OSError, ValueError):  # no POSIX signal masks here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_line(out: TextIO, text: str) -> None:
    """Write `text` and a newline to `out` as one whole line (see the module docstring)."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):  # not a file (a test's StringIO)
        out.write(text + "\n")
        out.flush()
        return
    data = (text + "\n").encode(getattr(out, "encoding", None) or "utf-8", getattr(out, "errors", None) or "strict")
    with signals_deferred():
        out.flush()  # what was written the buffered way goes first
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

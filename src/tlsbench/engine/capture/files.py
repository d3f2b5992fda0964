"""Where a capture is written (`--pcap FILE`, the workbench's save): atomically, 0600, never through a link.

As curl's --output and tcpdump's -w, an existing file at the path is replaced: naming it is the
request. What is refused, in one line, before the run and again when writing: a missing folder, a
directory, a FIFO, socket or device, and a symbolic link — a capture holds the TLS secrets of the
run, so it is written only where the path itself says, not wherever a link would lead. The file is
written beside its final name (mkstemp, fsync, rename), so a reader never sees half a capture, and
is 0600 whatever an earlier file at the path allowed.
"""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

from tlsbench.engine.capture.pcapng import pcapng_bytes
from tlsbench.engine.capture.taps import Captured
from tlsbench.safe_files import FileRefused, file_kind, write_atomic


def check_pcap_path(path: str, field: str | None = "pcap") -> Path:
    """The path to write, or FileRefused (one line) naming what is wrong with it."""
    if not path:
        raise FileRefused(path, "no file named", field=field)
    if path == "-":  # tcpdump's standard output: tlsbench's is the waterfall's (or the JSON's)
        raise FileRefused(path, "a capture is not written to standard output; give a file name", field=field)
    target = Path(os.path.expanduser(path))
    if not target.parent.is_dir():
        raise FileRefused(path, "its folder does not exist", field=field)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise FileRefused(path, f"cannot be checked: {exc.strerror or exc}", field=field) from None
    if stat.S_ISLNK(st.st_mode):
        raise FileRefused(path, "is a symbolic link; a capture is written only to a file named itself, give "
                                "the link's target", field=field)
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(path, f"is {file_kind(st.st_mode)}, not a regular file; not written over", field=field)
    return target


def save_pcap(path: str, capture: Captured) -> Path:
    """Write the capture to `path` (checked again: the path may have changed during the run)."""
    target = check_pcap_path(path)
    return write_atomic(target, pcapng_bytes(capture), mode=0o600)


def default_pcap_name(host: str, port: int, when: datetime | None = None) -> str:
    """`tlsbench-HOST-PORT-YYYYmmdd-HHMMSS.pcapng` (odd characters of the host, IPv6's ':' too, as '_')."""
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in host)[:100] or "host"
    return f"tlsbench-{name}-{port}-{stamp}.pcapng"

"""A private key log for one handshake: where OpenSSL writes a captured session's secrets, briefly.

Python 3.11's ssl hands out a session's secrets only through `SSLContext.keylog_filename`, a
path OpenSSL opens and appends NSS key log lines to. The least exposed path there is: on Linux an
anonymous memory file (memfd_create), opened by OpenSSL through /proc/self/fd/N — it never has a
name in any directory, and is gone once closed; elsewhere a 0600 file in a 0700 directory of its
own under the temporary directory. Either is read after the handshake and removed at once, also
when the handshake failed or the run was cancelled (TlsKeys.collect, in a `finally`).
"""

from __future__ import annotations

import os
import shutil
import tempfile


class PrivateKeyLog:
    """`path` for SSLContext.keylog_filename; `read()` what was written; `remove()` (idempotent)."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._dir: str | None = None
        memfd = getattr(os, "memfd_create", None)
        if memfd is not None:
            try:
                self._fd = memfd("tlsbench-keylog", getattr(os, "MFD_CLOEXEC", 0))
                self.path = f"/proc/self/fd/{self._fd}"
                if os.path.exists(self.path):
                    return
                os.close(self._fd)  # no /proc: OpenSSL could not open it
                self._fd = None
            except OSError:
                self._fd = None
        self._dir = tempfile.mkdtemp(prefix="tlsbench-keylog-")  # 0700
        self.path = os.path.join(self._dir, "keys")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)

    def read(self) -> bytes:
        if self._fd is None:
            return b""
        out, offset = bytearray(), 0
        while True:
            part = os.pread(self._fd, 1 << 16, offset)
            if not part:
                return bytes(out)
            out += part
            offset += len(part)

    def remove(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        folder, self._dir = self._dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

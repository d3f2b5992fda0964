"""Where tlsbench keeps a person's files: the config directory (profiles, state) and the data directory.

Both come from platformdirs and can be moved with an environment variable, which is what tests and
portable set-ups use: TLSBENCH_CONFIG_DIR and TLSBENCH_DATA_DIR. Directories are created private (0700).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "tlsbench"
CONFIG_ENV = "TLSBENCH_CONFIG_DIR"
DATA_ENV = "TLSBENCH_DATA_DIR"


def ensure_private_dir(path: Path, what: str = "directory") -> Path:
    """Create `path` (and missing parents) with mode 0700; an existing directory is left as it is.

    Raises InputError naming the directory when it cannot be used (a file is in the way, no
    permission): the path usually comes from the user's environment.
    """
    if not path.is_dir():
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask; say exactly what we mean.
            os.chmod(path, 0o700)
        except OSError as exc:
            from tlsbench.errors import InputError

            reason = "a file is in the way" if path.exists() else (exc.strerror or str(exc))
            raise InputError(f"{what} {str(path)!r} cannot be used: {reason}") from None
    return path


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def config_dir(create: bool = True) -> Path:
    """The user config directory ($TLSBENCH_CONFIG_DIR, else platformdirs' user config dir)."""
    path = _from_env(CONFIG_ENV)
    if path is None:
        import platformdirs

        path = platformdirs.user_config_path(APP_NAME)
    return ensure_private_dir(path, f"config directory (${CONFIG_ENV})") if create else path


def data_dir(create: bool = True) -> Path:
    """The user data directory ($TLSBENCH_DATA_DIR, else platformdirs' user data dir)."""
    path = _from_env(DATA_ENV)
    if path is None:
        import platformdirs

        path = platformdirs.user_data_path(APP_NAME)
    return ensure_private_dir(path, f"data directory (${DATA_ENV})") if create else path

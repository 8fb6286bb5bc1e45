"""Where sessions and access tokens live: the user's data folder, never the working directory.

A recording started from inside a repository must not end up in it (a ``git add -A`` would
commit physiological data and tokens), so the default is the platform's per-user data folder:

- Linux and other Unix: ``$XDG_DATA_HOME/coregulate``, else ``~/.local/share/coregulate``
  (XDG Base Directory Specification 0.8);
- macOS: ``~/Library/Application Support/coregulate``;
- Windows: ``%LOCALAPPDATA%\\coregulate``.

``--data DIR`` and then the environment variable ``COREGULATE_DATA`` override it. The folder is
created readable by its owner only (0700); the token file in it is 0600.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

ENV_VAR = "COREGULATE_DATA"
APP_NAME = "coregulate"


def user_data_dir() -> Path:
    """The platform's per-user data folder for Coregulate (not created here)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # the specification says a relative value is invalid and must be ignored
        base = xdg if os.path.isabs(xdg) else str(Path.home() / ".local" / "share")
    return Path(base) / APP_NAME


def resolve_data_dir(given: str | os.PathLike | None = None) -> Path:
    """``--data`` if given, else ``$COREGULATE_DATA``, else :func:`user_data_dir`."""
    if given:
        return Path(given).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return user_data_dir()


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 if missing; an existing folder is left as it is.

    Returns the path. Raises OSError if it cannot be created.
    """
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    return path


def is_private(path: Path) -> bool:
    """True when neither group nor others can read or enter ``path``."""
    try:
        return not (path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False

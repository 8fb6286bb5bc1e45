"""Bounds on what a client may make the server read: request body size and file locations.

* :data:`MAX_BODY_BYTES` bounds request bodies, so a large body cannot exhaust memory.
* :func:`confine_specs` keeps file sources named over the API inside the data directory, so
  that the API cannot be used to read any file the server process happens to be able to read.
"""

from __future__ import annotations

from pathlib import Path

#: The largest request body the API accepts (an annotation is at most a few kB); the app
#: passes it to FastAPI's own limit, which answers 413 by the announced Content-Length and by
#: the bytes actually received.
MAX_BODY_BYTES = 1 << 20


def _spec_path(text: str) -> Path:
    from ..sensors.spec import parse_spec
    from .sources import is_session_spec, is_simulator_spec, session_path

    if is_simulator_spec(text):
        raise ValueError("the simulator is a 'simulator' source, not a file")
    if is_session_spec(text):
        return Path(session_path(text))
    return Path(parse_spec(text).path)


def confine_specs(specs: list[str], root: str | Path) -> None:
    """Raise ``ValueError`` unless every SPEC names a path inside ``root``.

    Paths are resolved as the readers will open them (relative to the working directory,
    following symlinks and ``..``), so neither ``../`` nor a symlink leads out of ``root``.
    """
    base = Path(root).resolve()
    for text in specs:
        if "\x00" in text:
            raise ValueError("a SPEC cannot contain a NUL byte")
        path = _spec_path(text)
        try:
            real = path.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # symlink loops and the like
            raise ValueError(f"cannot resolve {path}: {exc.__class__.__name__}") from None
        if real != base and base not in real.parents:
            raise ValueError(f"{path}: files must lie inside the server's data folder ({base}); "
                             "copy the recording there first")

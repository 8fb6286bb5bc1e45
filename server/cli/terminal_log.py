"""What reaches the user's terminal from Python's logging.

Without a handler, Python prints any library's warning or error through its "last resort"
handler, tracebacks included: pyxdf logs a full traceback for a corrupt file before the reader
has said what is wrong; pyedflib, wfdb and bleak log their own internals. By default only
Coregulate's own warnings are shown, as one line each, and never with a traceback: the error
that matters reaches the user as the CLI's one-line message. ``--verbose`` shows every logger at
INFO and up, with tracebacks, for a bug report.
"""

from __future__ import annotations

import logging
import sys

#: Loggers whose warnings the user sees without ``--verbose``.
OWN_LOGGERS = ("coregulate",)


class _OneLine(logging.Formatter):
    """``coregulate: warning: message`` -- the first line of the message, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        first = record.getMessage().splitlines()[0] if record.getMessage() else ""
        return f"coregulate: {record.levelname.lower()}: {first}"


class _OwnOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return any(record.name == n or record.name.startswith(n + ".") for n in OWN_LOGGERS)


class _ExpectedShutdownNoise(logging.Filter):
    """uvicorn's "timeout graceful shutdown exceeded" is logged as an error when Ctrl-C meets an
    idle keep-alive TLS connection still waiting for its peer's close_notify: the expected end of
    a served session (``serve`` caps that wait at 1 s), not an error to show the user."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "timeout graceful shutdown exceeded" not in str(record.msg)


def configure(verbose: bool = False) -> None:
    """Route logging to stderr: one-line own warnings by default, everything with ``verbose``."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_coregulate", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._coregulate = True  # type: ignore[attr-defined]
    if verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.INFO)
    else:
        handler.setFormatter(_OneLine())
        handler.addFilter(_OwnOnly())
        handler.setLevel(logging.WARNING)
        root.setLevel(logging.WARNING)
    # a handler on the root means the last-resort handler (tracebacks of any library) never runs
    root.addHandler(handler)
    # uvicorn's loggers have their own handlers (set by uvicorn.run); logger filters survive that
    uvicorn_error = logging.getLogger("uvicorn.error")
    for f in [f for f in uvicorn_error.filters if isinstance(f, _ExpectedShutdownNoise)]:
        uvicorn_error.removeFilter(f)
    if not verbose:
        uvicorn_error.addFilter(_ExpectedShutdownNoise())

"""Keep access tokens out of the server's log output.

Uvicorn logs every websocket handshake with its query string (``"WebSocket /api/...?token=..."
[accepted]``) on the ``uvicorn.error`` logger, even with the access log off, and browsers that
cannot send headers may put the token there. :func:`install` adds a filter that masks
``token=<value>`` and the ``token.<value>`` subprotocol in every record of the server's loggers.
"""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(token[=.])[^\s&\"',;]+", re.IGNORECASE)
LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "coregulate", "coregulate.server")


def redact(text: str) -> str:
    """``text`` with every ``token=VALUE`` or ``token.VALUE`` replaced by ``***``."""
    return _TOKEN.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message and arguments with tokens masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask tokens in the record's message and string arguments; always keeps the record."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def install(names: tuple[str, ...] = LOGGERS) -> None:
    """Attach the filter to the named loggers (idempotent). Logger filters survive uvicorn's
    ``dictConfig``, which replaces handlers but keeps filters."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())

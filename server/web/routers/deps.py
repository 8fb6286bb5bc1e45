"""Shared helpers of the routers: the session manager and error mapping."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

from ....sensors.errors import InputError
from ..sessions import SessionError, SessionManager


def manager(request: Request) -> SessionManager:
    return request.app.state.manager


def http_error(exc: SessionError) -> HTTPException:
    return HTTPException(exc.status, exc.message)


def plain(x: Any) -> dict[str, Any]:
    """An event or row as a JSON-ready dict (stores may return dataclasses)."""
    if hasattr(x, "to_dict"):
        return x.to_dict()
    return dict(x)


def read_store(request: Request, session_id: str, fn):
    """Open the session's store in this worker thread, apply ``fn``, close it.

    A store refusing what it was asked (an annotation without text) is the client's 422.
    """
    try:
        with manager(request).store(session_id) as st:
            return fn(st)
    except SessionError as exc:
        raise http_error(exc) from None
    except InputError as exc:
        raise http_error(SessionError(422, str(exc))) from None

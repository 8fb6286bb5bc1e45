"""Shared helpers of the routers: the session manager and error mapping."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

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

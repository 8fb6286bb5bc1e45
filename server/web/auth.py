"""Access control: one token per role per server, checked on every API route and websocket.

Two roles: ``supervisor`` (control sessions, annotate) and ``viewer`` (read only). Tokens are
generated on first start and kept in ``DATA/token.json`` (mode 0600), or given by the operator.
They travel as ``Authorization: Bearer <token>``; a browser websocket cannot set headers, so the
websocket also accepts the subprotocol ``token.<token>`` (next to ``coregulate``) or ``?token=``.
Comparison is constant-time (:func:`hmac.compare_digest`) and tokens are never logged.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, HTTPException, Request, WebSocket, status

SUPERVISOR = "supervisor"
VIEWER = "viewer"
#: Subprotocol the dashboard offers first; the server echoes it back (never the token one).
WS_PROTOCOL = "coregulate"
WS_TOKEN_PREFIX = "token."
#: Close code for a websocket without a valid token (4000-4999 is the application range).
WS_CLOSE_UNAUTHORIZED = 4401


@dataclass(frozen=True)
class Tokens:
    """The two access tokens of a server: the supervisor's (full control) and the viewer's (read only)."""

    supervisor: str
    viewer: str

    def role_of(self, presented: str | None) -> str | None:
        """The role a presented token grants, or ``None``; both compares always run."""
        if not presented:
            return None
        p = presented.encode()
        is_sup = hmac.compare_digest(p, self.supervisor.encode())
        is_view = hmac.compare_digest(p, self.viewer.encode())
        if is_sup:
            return SUPERVISOR
        if is_view:
            return VIEWER
        return None

    def __repr__(self) -> str:  # keep tokens out of logs and tracebacks
        return "Tokens(supervisor=***, viewer=***)"


def new_token() -> str:
    """A new random token (24 bytes from ``secrets``, URL-safe text)."""
    return secrets.token_urlsafe(24)


def load_or_create(data_dir: str | Path, supervisor: str | None = None, viewer: str | None = None) -> Tokens:
    """Tokens from the arguments, else ``DATA/token.json``, else freshly generated and saved.

    A configured token overrides the stored one for this run only; the file is written only
    when it did not exist, with mode 0600 from the moment it is created.
    """
    path = Path(data_dir) / "token.json"
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"{path}: unreadable token file ({exc.__class__.__name__}); delete it to regenerate") from None
    if not stored.get(SUPERVISOR) or not stored.get(VIEWER):
        stored = {SUPERVISOR: stored.get(SUPERVISOR) or new_token(), VIEWER: stored.get(VIEWER) or new_token()}
        if not path.parent.is_dir():  # the folder that holds the tokens: its owner only
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.chmod(path, 0o600)
    tokens = Tokens(supervisor=supervisor or stored[SUPERVISOR], viewer=viewer or stored[VIEWER])
    if len(tokens.supervisor) < 16 or len(tokens.viewer) < 16:
        raise ValueError("tokens must be at least 16 characters")
    if hmac.compare_digest(tokens.supervisor.encode(), tokens.viewer.encode()):
        raise ValueError("the supervisor and viewer tokens must differ")
    return tokens


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, tok = value.partition(" ")
    return tok.strip() if scheme.lower() == "bearer" and tok.strip() else None


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid token", headers={"WWW-Authenticate": "Bearer"})


def current_role(request: Request) -> str:
    """Dependency: the caller's role from the bearer header (401 if absent or wrong)."""
    tokens: Tokens = request.app.state.tokens
    role = tokens.role_of(_bearer(request.headers.get("authorization")))
    if role is None:
        raise _unauthorized()
    return role


def require_viewer(role: str = Depends(current_role)) -> str:
    """Any valid token may read."""
    return role


def require_supervisor(role: str = Depends(current_role)) -> str:
    """Only the supervisor token may control sessions or write annotations."""
    if role != SUPERVISOR:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this action needs the supervisor token")
    return role


def websocket_role(ws: WebSocket) -> tuple[str | None, str | None]:
    """``(role, subprotocol to echo)`` for a websocket handshake; role ``None`` means reject."""
    tokens: Tokens = ws.app.state.tokens
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    presented = None
    for p in offered:
        if p.startswith(WS_TOKEN_PREFIX):
            presented = p[len(WS_TOKEN_PREFIX):]
    presented = presented or _bearer(ws.headers.get("authorization")) or ws.query_params.get("token")
    echo = WS_PROTOCOL if WS_PROTOCOL in offered else None
    return tokens.role_of(presented), echo

"""Access control: every API route and the websocket, with no, wrong, viewer and supervisor tokens."""

from __future__ import annotations

import json
import os
import re
import stat
import time

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from coregulate.server.web import auth
from coregulate.server.web.app import Settings

from server_helpers import SUP, VIEW

BAD = [None, "Bearer", "Bearer wrong-token-wrong-token", f"Basic {SUP}", f"Bearer {SUP}x", f"Bearer {VIEW[:-1]}"]


def _fill(path: str, sid: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: {"session_id": sid, "ann_id": "1"}.get(m.group(1), "x"), path)


def _flat(app):
    """Every route, including those of included routers (FastAPI >= 0.16x nests them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        return [(r, r.path, getattr(r, "methods", None)) for r in app.routes]
    return [(rc.original_route, rc.path, rc.methods) for rc in iter_route_contexts(app.routes)]


def _routes(app):
    out = []
    for r, path, methods in _flat(app):
        if isinstance(r, APIRoute) and path.startswith("/api"):
            for m in sorted(methods - {"HEAD", "OPTIONS"}):
                out.append((m, path))
    return out


def test_only_the_dashboard_shell_is_outside_api():
    from coregulate.server.web.app import create_app
    import tempfile
    app = create_app(tempfile.mkdtemp())
    public = sorted(path for r, path, _ in _flat(app) if not path.startswith("/api"))
    assert public == ["/", "/static"]


@pytest.fixture
def app_with_session(make_app):
    app = make_app()
    with TestClient(app) as c:
        r = c.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": 3}, "speed": "max"},
                   headers={"Authorization": f"Bearer {SUP}"})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        for _ in range(100):
            if c.get(f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {SUP}"}).json()["status"] == "complete":
                break
            time.sleep(0.02)
        yield app, c, sid


def test_every_api_route_rejects_missing_or_wrong_tokens(app_with_session):
    app, c, sid = app_with_session
    routes = _routes(app)
    assert len(routes) >= 15  # the matrix really covers the API
    for method, path in routes:
        url = _fill(path, sid)
        for h in BAD:
            r = c.request(method, url, headers={"Authorization": h} if h else {})
            assert r.status_code == 401, (method, path, h, r.status_code)
            assert r.headers.get("www-authenticate") == "Bearer"


def test_viewer_reads_but_cannot_control_or_annotate(app_with_session):
    app, c, sid = app_with_session
    for method, path in _routes(app):
        r = c.request(method, _fill(path, sid), headers={"Authorization": f"Bearer {VIEW}"},
                      json={"t_s": 1, "text": "x"} if method != "GET" else None)
        if method == "GET":
            assert r.status_code not in (401, 403), (method, path, r.status_code)
        else:
            assert r.status_code == 403, (method, path, r.status_code)


def test_supervisor_passes_auth_everywhere(app_with_session):
    app, c, sid = app_with_session
    for method, path in _routes(app):
        r = c.request(method, _fill(path, sid), headers={"Authorization": f"Bearer {SUP}"})
        assert r.status_code not in (401, 403), (method, path, r.status_code)


def test_websocket_rejects_missing_or_wrong_tokens_and_accepts_three_ways(app_with_session):
    app, c, sid = app_with_session
    ws_routes = [path for r, path, _ in _flat(app) if isinstance(r, APIWebSocketRoute)]
    assert ws_routes == ["/api/sessions/{session_id}/ws"]
    url = _fill(ws_routes[0], sid)
    for kw in ({}, {"subprotocols": ["coregulate", "token.nope-nope-nope-nope"]}, {"headers": {"Authorization": "Bearer nope"}}):
        with pytest.raises(WebSocketDisconnect) as e:
            with c.websocket_connect(url + "?since=0", **kw) as ws:
                ws.receive_text()
        assert e.value.code == auth.WS_CLOSE_UNAUTHORIZED
    with pytest.raises(WebSocketDisconnect) as e:
        with c.websocket_connect(url + "?token=wrong") as ws:
            ws.receive_text()
    assert e.value.code == auth.WS_CLOSE_UNAUTHORIZED
    for kw, q in (({"subprotocols": ["coregulate", f"token.{VIEW}"]}, ""), ({"headers": {"Authorization": f"Bearer {SUP}"}}, ""),
                  ({}, f"&token={VIEW}")):
        with c.websocket_connect(url + "?since=0" + q, **kw) as ws:
            hello = json.loads(ws.receive_text())
            assert hello["type"] == "hello" and hello["data"]["role"] in ("viewer", "supervisor")
            if "subprotocols" in kw:
                assert ws.accepted_subprotocol == "coregulate"  # the token is never echoed


def test_dashboard_shell_is_public_and_carries_security_headers(app_with_session):
    app, c, sid = app_with_session
    r = c.get("/")
    assert r.status_code == 200 and "not a diagnostic device" in r.text
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "http" not in csp  # no external sources
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    api = c.get("/api/sessions", headers={"Authorization": f"Bearer {VIEW}"})
    assert api.headers["cache-control"] == "no-store" and "content-security-policy" in api.headers
    # CORS is closed: no allow-origin header for a foreign origin, preflight not honoured
    r = c.get("/api/sessions", headers={"Authorization": f"Bearer {VIEW}", "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = c.options("/api/sessions", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in r.headers


def test_token_file_is_generated_once_with_mode_0600(tmp_path):
    t1 = auth.load_or_create(tmp_path)
    p = tmp_path / "token.json"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert t1.supervisor != t1.viewer and len(t1.supervisor) >= 24
    t2 = auth.load_or_create(tmp_path)
    assert t2 == t1
    t3 = auth.load_or_create(tmp_path, supervisor="configured-supervisor-token")
    assert t3.supervisor == "configured-supervisor-token" and t3.viewer == t1.viewer
    assert json.loads(p.read_text())["supervisor"] == t1.supervisor  # configured tokens are not persisted
    assert t1.supervisor not in repr(t1)
    with pytest.raises(ValueError):
        auth.load_or_create(tmp_path, supervisor="short")
    with pytest.raises(ValueError):
        auth.load_or_create(tmp_path, supervisor="same-token-for-both", viewer="same-token-for-both")


def test_roles_from_tokens():
    t = auth.Tokens(SUP, VIEW)
    assert (t.role_of(SUP), t.role_of(VIEW), t.role_of(""), t.role_of(None), t.role_of(SUP + " ")) == \
        ("supervisor", "viewer", None, None, None)


def test_server_binds_localhost_by_default():
    assert Settings().host == "127.0.0.1"
    import inspect
    from coregulate.server.web import app as app_mod
    assert inspect.signature(app_mod.serve).parameters["host"].default == "127.0.0.1"

"""REST and websocket behaviour of the server (fast in-memory stand-ins for the session pieces)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server_helpers import SUP, VIEW, auth, read_until_end

H = auth(SUP)


def _create(c, duration_s=20, speed="max", start=True):
    r = c.post("/api/sessions", headers=H, json={"source": {"kind": "simulator", "duration_s": duration_s},
                                                  "speed": speed, "start": start, "label": "t"})
    assert r.status_code == 201, r.text
    return r.json()


def _wait(c, sid, status="complete", timeout=120.0):  # only a hang fails it (busy machines are slow)
    t = time.time()
    while time.time() - t < timeout:
        d = c.get(f"/api/sessions/{sid}", headers=H).json()
        if d["status"] == status:
            return d
        time.sleep(0.02)
    raise AssertionError(f"session {sid} never became {status}: {d}")


def test_session_lifecycle_and_data_ranges(client):
    s = _create(client, start=False)
    assert s["status"] == "created" and s["live"]
    assert {x["key"] for x in s["streams"]} >= {"client/ecg", "therapist/ecg"}
    sid = s["id"]
    assert client.post(f"/api/sessions/{sid}/start", headers=H).json()["status"] == "running"
    assert client.post(f"/api/sessions/{sid}/start", headers=H).status_code == 409
    d = _wait(client, sid)
    assert not d["live"] and d["participants"] == ["client", "therapist"] and d["duration_s"] == pytest.approx(20)
    assert [x["id"] for x in client.get("/api/sessions", headers=H).json()] == [sid]
    f = client.get(f"/api/sessions/{sid}/features", headers=H, params={"t_from": 5, "t_to": 9, "participant": "client"}).json()
    assert [r["t_s"] for r in f["rows"]] == [5, 6, 7, 8, 9] and f["columns"][:3] == ["t_s", "utc", "participant"]
    assert len(client.get(f"/api/sessions/{sid}/dyad", headers=H).json()["rows"]) == 20
    ev = client.get(f"/api/sessions/{sid}/events", headers=H, params={"t_from": 6}).json()["events"]
    assert [e["t_start"] for e in ev] == [10, 15, 20]
    assert client.get(f"/api/sessions/{sid}/participants", headers=H).json() == ["client", "therapist"]
    w = client.get(f"/api/sessions/{sid}/waveform", headers=H, params={"stream": "client/ecg", "t_from": 0, "t_to": 10}).json()
    assert w["stream"] == "client/ecg" and len(w["t"]) == len(w["v"]) > 0
    assert client.get(f"/api/sessions/{sid}/waveform", headers=H, params={"stream": "nobody/ecg", "t_to": 10}).status_code == 404
    assert client.get(f"/api/sessions/{sid}/features", headers=H, params={"t_from": 9, "t_to": 5}).status_code == 422
    st = client.get(f"/api/sessions/{sid}/status", headers=H).json()
    assert st["hub"]["seq"] > 20 and st["session_time_s"] == pytest.approx(20)


def test_unknown_sessions_and_bad_requests(client):
    for path in ("/api/sessions/nope", "/api/sessions/nope/features", "/api/sessions/..%2Fx/features",
                 "/api/sessions/nope/annotations"):
        assert client.get(path, headers=H).status_code == 404, path
    assert client.post("/api/sessions/nope/stop", headers=H).status_code == 404
    bad = [{"source": {"kind": "camera"}}, {"source": {"kind": "simulator", "duration_s": -1}},
           {"source": {"kind": "simulator"}, "speed": 0}, {"source": {"kind": "simulator"}, "speed": "fast"},
           {"source": {"kind": "simulator"}, "extra": 1}]
    for body in bad:
        assert client.post("/api/sessions", headers=H, json=body).status_code == 422, body
    # a source that cannot be opened is a clear 422, not a 500
    missing = client.app.state.settings.data_dir / "no" / "such.csv"
    r = client.post("/api/sessions", headers=H, json={"source": {"kind": "files", "specs": [f"client={missing}"]}})
    assert r.status_code == 422 and "source" in r.json()["detail"]
    # and one outside the data folder is refused before anything is opened
    r = client.post("/api/sessions", headers=H, json={"source": {"kind": "files", "specs": ["client=/no/such.csv"]}})
    assert r.status_code == 403 and "data folder" in r.json()["detail"]


def test_stop_keeps_the_recording(client):
    sid = _create(client, duration_s=20, speed=2.0)["id"]
    time.sleep(0.3)
    r = client.post(f"/api/sessions/{sid}/stop", headers=H)
    assert r.status_code == 200 and r.json()["status"] == "stopped"
    assert 0 < client.get(f"/api/sessions/{sid}", headers=H).json()["duration_s"] < 20
    assert client.post(f"/api/sessions/{sid}/stop", headers=H).status_code == 409


def test_stopping_a_session_never_started_answers_with_it(client):
    sid = _create(client, start=False)["id"]
    r = client.post(f"/api/sessions/{sid}/stop", headers=H)
    assert r.status_code == 200 and r.json()["id"] == sid and r.json()["status"] == "stopped"
    assert client.post(f"/api/sessions/{sid}/stop", headers=H).status_code == 404  # gone, nothing recorded


def test_annotations_live_then_after_the_session(client):
    sid = _create(client, duration_s=20, speed=4.0)["id"]
    with client.websocket_connect(f"/api/sessions/{sid}/ws?since=0", subprotocols=["coregulate", f"token.{VIEW}"]) as ws:
        r = client.post(f"/api/sessions/{sid}/annotations", headers=H, json={"t_s": 1.5, "text": "client looks away"})
        assert r.status_code == 201
        a = r.json()
        seen = None
        for _ in range(200):
            fr = json.loads(ws.receive_text())
            if fr["type"] == "annotation":
                seen = fr
                break
        assert seen and seen["data"]["text"] == "client looks away" and seen["data"]["id"] == a["id"]
    assert client.patch(f"/api/sessions/{sid}/annotations/{a['id']}", headers=H, json={"text": "gaze aversion"}).status_code == 200
    _wait(client, sid)
    anns = client.get(f"/api/sessions/{sid}/annotations", headers=auth(VIEW)).json()
    assert [(x["t_s"], x["text"]) for x in anns] == [(1.5, "gaze aversion")]
    r = client.post(f"/api/sessions/{sid}/annotations", headers=H, json={"t_s": 12, "t_end": 14, "text": "repair"})
    assert r.status_code == 201
    b = r.json()["id"]
    assert client.patch(f"/api/sessions/{sid}/annotations/{b}", headers=H, json={"t_s": 11}).json()["t_s"] == 11
    assert client.patch(f"/api/sessions/{sid}/annotations/{b}", headers=H, json={"t_s": 15}).status_code == 422
    assert client.delete(f"/api/sessions/{sid}/annotations/{a['id']}", headers=H).status_code == 204
    assert client.delete(f"/api/sessions/{sid}/annotations/{a['id']}", headers=H).status_code == 404
    assert [x["text"] for x in client.get(f"/api/sessions/{sid}/annotations", headers=H).json()] == ["repair"]
    assert client.post(f"/api/sessions/{sid}/annotations", headers=H, json={"t_s": 1, "text": ""}).status_code == 422


def _kept(frames):
    return [f["seq"] for f in frames if not f.get("lossy")]


def test_websocket_resume_after_reconnect_has_no_gaps(client):
    sid = _create(client, duration_s=20, speed=10.0)["id"]
    got = []
    url = f"/api/sessions/{sid}/ws"
    proto = ["coregulate", f"token.{VIEW}"]
    with client.websocket_connect(url + "?since=0", subprotocols=proto) as ws:
        while len(_kept(got)) < 8:
            got.append(json.loads(ws.receive_text()))
    time.sleep(0.5)  # frames published while disconnected must come back on resume
    last = _kept(got)[-1]
    with client.websocket_connect(f"{url}?since={last}", subprotocols=proto) as ws:
        hello = json.loads(ws.receive_text())
        assert hello["type"] == "hello" and hello["data"]["seq"] > last + 2
        read_until_end(ws, got)
    seqs = _kept(got)
    assert seqs == list(range(1, seqs[-1] + 1))  # every kept frame exactly once
    types = {f["type"] for f in got}
    assert {"features", "dyad", "events", "wave", "level", "sensors", "end"} <= types
    feats = [r for f in got if f["type"] == "features" for r in f["data"]]
    assert sorted({(r["t_s"], r["participant"]) for r in feats}) == [(t, p) for t in range(1, 21) for p in ("client", "therapist")]


def test_websocket_of_a_recording_only_session_is_refused_cleanly(client):
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect("/api/sessions/nope/ws", subprotocols=["coregulate", f"token.{VIEW}"]) as ws:
            ws.receive_text()
    assert e.value.code == 4404


def test_old_since_gets_resync(make_app):
    with TestClient(make_app(hub_options={"buffer_frames": 10})) as c:
        sid = _create(c, duration_s=20)["id"]
        _wait(c, sid)
        with c.websocket_connect(f"/api/sessions/{sid}/ws?since=1", subprotocols=["coregulate", f"token.{VIEW}"]) as ws:
            assert json.loads(ws.receive_text())["type"] == "hello"
            rs = json.loads(ws.receive_text())
            assert rs["type"] == "resync" and rs["data"]["since"] == 1


def test_openapi_lists_the_api(client):
    spec = client.get("/api/openapi.json", headers=auth(VIEW)).json()
    assert "/api/sessions/{session_id}/annotations/{ann_id}" in spec["paths"]
    assert "SessionCreate" in spec["components"]["schemas"]


def test_finished_sessions_leave_memory_but_stay_listed(client):
    m = client.app.state.manager
    m.keep_finished_s = 0.0
    a = _create(client, duration_s=5)["id"]
    _wait(client, a)
    assert a in m.live
    b = _create(client, duration_s=5)["id"]
    assert a not in m.live and b in m.live  # a's hub is gone ...
    _wait(client, b)
    assert {x["id"] for x in client.get("/api/sessions", headers=H).json()} == {a, b}  # ... its recording is not
    assert client.get(f"/api/sessions/{a}/features", headers=H).json()["rows"]


def test_a_session_whose_thread_has_finished_is_not_live_before_the_server_sees_its_task_end():
    """The session thread sets the final status (after closing the recorder); the server loop's
    future completes a moment later. In between the session must already read as finished."""
    from coregulate.server.web.sessions import LiveSession

    loop = asyncio.new_event_loop()
    try:
        s = LiveSession(id="x", path=Path("x.sqlite"), request=None, source=None, config=None, hub=None, sink=None)
        assert s.active  # created
        s.task = loop.create_future()
        s.status = "running"
        assert s.active
        s.status = "complete"  # the thread is done; the task is not yet
        assert not s.active
        s.status = "running"
        s.task.set_result(None)  # a task that ended without a final status is not live either
        assert not s.active
    finally:
        loop.close()


def test_an_annotation_racing_the_session_end_goes_to_the_finished_file(client, monkeypatch):
    """The route found the session running, but its recorder closed before the write reached the
    session thread: the note lands in the finished file (was a 500 with a traceback)."""
    sid = _create(client, duration_s=20, speed="max")["id"]
    m = client.app.state.manager
    stale = m.live[sid]
    _wait(client, sid)
    assert stale.runner.recorder.closed
    monkeypatch.setattr(m, "running_session", lambda session_id: stale)  # the request's earlier view
    r = client.post(f"/api/sessions/{sid}/annotations", headers=H, json={"t_s": 3, "text": "late note"})
    assert r.status_code == 201, r.text
    ann_id = r.json()["id"]
    assert client.patch(f"/api/sessions/{sid}/annotations/{ann_id}", headers=H, json={"text": "late"}).status_code == 200
    assert [x["text"] for x in client.get(f"/api/sessions/{sid}/annotations", headers=H).json()] == ["late"]
    assert client.delete(f"/api/sessions/{sid}/annotations/{ann_id}", headers=H).status_code == 204
    assert client.get(f"/api/sessions/{sid}/annotations", headers=H).json() == []

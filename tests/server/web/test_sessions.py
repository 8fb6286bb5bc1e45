"""SessionManager's creation of a session: the source is built off the server's event loop.

Building a source blocks (a Simulator takes a fraction of a second, a replay opens its files); in
the loop it would stall every viewer's pushes while a session is being created (issue #15,
``bench/bench_create_stall.py``).
"""

from __future__ import annotations

import asyncio
import threading
import time

from fastapi.testclient import TestClient

from server_fakes import fake_backends
from server_helpers import SUP, auth

H = auth(SUP)


def _recording_where_sources_are_built():
    """Fake backends whose make_source notes, per call, its thread and whether an event loop runs in it."""
    backends = fake_backends(duration_s=5)
    make = backends.make_source
    calls: list[dict] = []

    def make_source(spec, speed):
        try:
            asyncio.get_running_loop()
            in_loop = True
        except RuntimeError:
            in_loop = False
        calls.append({"thread": threading.current_thread().name, "in_loop": in_loop})
        return make(spec, speed)

    backends.make_source = make_source
    return backends, calls


def _wait_complete(c, sid, timeout=60.0):  # only a hang fails it
    t = time.time()
    while time.time() - t < timeout:
        d = c.get(f"/api/sessions/{sid}", headers=H).json()
        if d["status"] == "complete":
            return d
        time.sleep(0.05)
    raise AssertionError(f"session {sid} never completed: {d}")


def test_post_builds_the_source_off_the_event_loop_and_the_session_runs(make_app):
    backends, calls = _recording_where_sources_are_built()
    with TestClient(make_app(backends)) as c:
        r = c.post("/api/sessions", headers=H, json={"source": {"kind": "simulator", "duration_s": 5}, "speed": "max"})
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "running"
        sid = r.json()["id"]
        d = _wait_complete(c, sid)
        rows = c.get(f"/api/sessions/{sid}/features", headers=H).json()["rows"]
        loop_thread = c.portal.call(lambda: threading.current_thread().name)  # the server loop's thread
    assert d["duration_s"] == 5 and len(rows) == 2 * 5  # both people, every second
    assert len(calls) == 1 and not calls[0]["in_loop"] and calls[0]["thread"] != loop_thread


def test_source_errors_are_unchanged(make_app):
    backends, calls = _recording_where_sources_are_built()
    with TestClient(make_app(backends)) as c:
        inside = c.app.state.settings.data_dir / "x.csv"  # the API replays files of the data folder only
        r = c.post("/api/sessions", headers=H, json={"source": {"kind": "files", "specs": [f"client={inside}"]}})
    # the fake backends only simulate: their ValueError becomes the usual 422 message
    assert r.status_code == 422 and r.json()["detail"] == "cannot open source: fake backends only simulate"
    assert [call["in_loop"] for call in calls] == [False]


def test_demo_session_of_the_startup_path_is_built_off_the_event_loop(make_app):
    backends, calls = _recording_where_sources_are_built()
    with TestClient(make_app(backends, demo=True, demo_speed=1000.0, demo_duration_s=5)) as c:
        _wait_complete(c, c.app.state.demo_session)
    assert [call["in_loop"] for call in calls] == [False]

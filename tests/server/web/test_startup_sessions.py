"""Sessions started with the server: `replay` (a SessionCreate from SPECs) and `record` (a
PreparedSession whose live source the command opened), both recorded and listed like any other."""

from __future__ import annotations

import time

import numpy as np
from fastapi.testclient import TestClient

from coregulate.models.config import PipelineConfig
from coregulate.server.web.app import Settings, create_app
from coregulate.server.session.store import SessionStore
from coregulate.server.web.schemas import SessionCreate, SourceSpec
from coregulate.server.web.sessions import PreparedSession
from coregulate.sensors.simulator import Simulator

from server_helpers import SUP, VIEW, auth


class CountingSink:
    def __init__(self):
        self.rows = 0

    def on_features(self, rows):
        self.rows += len(rows)


def _wait_done(c, sid, timeout=120):
    t = time.time()
    while c.get(f"/api/sessions/{sid}", headers=auth(VIEW)).json()["status"] in ("created", "starting", "running"):
        assert time.time() - t < timeout
        time.sleep(0.2)


def test_replay_and_prepared_live_sessions_start_with_the_server(tmp_path):
    rr = tmp_path / "client_rr.txt"
    rng = np.random.default_rng(0)
    rr.write_text("".join(f"{v:.0f}\n" for v in 800 + 40 * rng.standard_normal(500)))
    sink = CountingSink()
    live = PreparedSession(Simulator(seed=3, duration_s=320, audio=False), PipelineConfig(), sinks=[sink], label="live")
    replay = SessionCreate(source=SourceSpec(kind="files", specs=[f"client=rr:{rr}"]), speed="max", label="replay")
    app = create_app(Settings(data_dir=tmp_path / "data", token=SUP, viewer_token=VIEW, startup=[replay, live]))
    with TestClient(app) as c:
        listed = c.get("/api/sessions", headers=auth(VIEW)).json()
        sessions = listed["sessions"] if isinstance(listed, dict) else listed
        assert len(sessions) == 2
        for s in sessions:
            _wait_done(c, s["id"])
        paths = sorted((tmp_path / "data" / "sessions").glob("*.sqlite"))
        assert len(paths) == 2
    by_label = {}
    for p in paths:
        with SessionStore(p) as st:
            by_label[st._meta_value("label")] = (st.status(), len(st.features()), st.participants())
    assert by_label["replay"][0] == "complete" and by_label["replay"][2] == {"client": "client"}
    assert by_label["live"][0] == "complete" and by_label["live"][1] == 2 * 320
    assert sink.rows == 2 * 320  # the extra sink (an LSL outlet in `record --lsl-out`) saw every row


def test_a_live_source_cannot_be_created_over_rest(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data", token=SUP, viewer_token=VIEW))
    with TestClient(app) as c:
        r = c.post("/api/sessions", headers=auth(SUP), json={"source": {"kind": "live"}})
        assert r.status_code == 422 and "coregulate record" in r.text

"""The server on the real stack: Simulator -> SessionRunner (pipeline, recorder) -> hub -> websocket,
then the recording over REST and as export downloads."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from fastapi.testclient import TestClient

from server_helpers import SUP, VIEW, auth, read_until_end
from coregulate.server.web.app import Settings, create_app

H = auth(SUP)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("data"), token=SUP, viewer_token=VIEW))
    with TestClient(app) as c:
        r = c.post("/api/sessions", headers=H, json={"source": {"kind": "simulator", "duration_s": 330, "seed": 1},
                                                      "speed": 30.0, "label": "integration"})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        with c.websocket_connect(f"/api/sessions/{sid}/ws?since=0", subprotocols=["coregulate", f"token.{VIEW}"]) as ws:
            frames = read_until_end(ws, [])
        t = time.time()
        while c.get(f"/api/sessions/{sid}", headers=H).json()["status"] == "running":
            assert time.time() - t < 30
            time.sleep(0.1)
        yield c, sid, frames


def test_live_frames_cover_the_session_without_gaps(real):
    c, sid, frames = real
    kept = [f["seq"] for f in frames if not f.get("lossy")]
    assert kept == list(range(1, kept[-1] + 1))
    assert frames[-1]["type"] == "end" and frames[-1]["data"]["status"] == "complete"
    rows = [r for f in frames if f["type"] == "features" for r in f["data"]]
    for who in ("client", "therapist"):
        assert sorted(r["t_s"] for r in rows if r["participant"] == who) == list(range(1, 331))
    assert any(r.get("hr_bpm") for r in rows) and any("arousal" in r for r in rows)
    waves = [f for f in frames if f["type"] == "wave"]
    assert {w["data"]["stream"] for w in waves} == {"client/ecg", "therapist/ecg"}
    assert {f["data"]["stream"] for f in frames if f["type"] == "level"} == {"client/audio", "therapist/audio"}
    evs = [e for f in frames if f["type"] == "events" for e in f["data"]]
    assert any(e["kind"] == "zone_change" for e in evs)


def test_recording_over_rest_matches_what_was_pushed(real):
    c, sid, frames = real
    d = c.get(f"/api/sessions/{sid}", headers=H).json()
    assert d["status"] == "complete" and d["label"] == "integration" and d["duration_s"] == pytest.approx(330)
    assert d["tolerance"]["hyper_enter"] > 0 and d["tolerance"]["hypo_enter"] > 0
    feats = c.get(f"/api/sessions/{sid}/features", headers=H, params={"participant": "client"}).json()["rows"]
    pushed = {r["t_s"]: r for f in frames if f["type"] == "features" for r in f["data"] if r["participant"] == "client"}
    assert len(feats) == 330
    for r in feats[::37]:
        assert r["hr_bpm"] == pytest.approx(pushed[r["t_s"]].get("hr_bpm"), abs=1e-3)
    evs = c.get(f"/api/sessions/{sid}/events", headers=H).json()["events"]
    assert {e["id"] for e in evs} == {e["id"] for f in frames if f["type"] == "events" for e in f["data"]}
    w = c.get(f"/api/sessions/{sid}/waveform", headers=H, params={"stream": "client/ecg", "t_from": 100, "t_to": 110,
                                                                   "max_points": 400}).json()
    assert 200 <= len(w["t"]) <= 400 and min(w["t"]) >= 100 and max(w["t"]) <= 110
    # raw audio is not stored unless opted in
    w = c.get(f"/api/sessions/{sid}/waveform", headers=H, params={"stream": "client/audio", "t_from": 0, "t_to": 5}).json()
    assert w["t"] == []


def test_annotation_on_the_finished_session_and_exports(real):
    c, sid, _ = real
    a = c.post(f"/api/sessions/{sid}/annotations", headers=H, json={"t_s": 310, "text": "after baseline"}).json()
    assert [x["text"] for x in c.get(f"/api/sessions/{sid}/annotations", headers=auth(VIEW)).json()] == ["after baseline"]
    for fmt in ("csv", "edf", "rr"):
        r = c.get(f"/api/sessions/{sid}/export", headers=auth(VIEW), params={"fmt": fmt})
        assert r.status_code == 200, (fmt, r.text)
        assert r.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert names and all(n.startswith(f"{sid}-{fmt}/") for n in names), names
        if fmt == "csv":
            z = zipfile.ZipFile(io.BytesIO(r.content))
            feat = [n for n in names if n.endswith("features.csv")]
            assert feat and z.read(feat[0]).decode().splitlines()[0].startswith("t_s,utc,participant")
    assert c.get(f"/api/sessions/{sid}/export", headers=H, params={"fmt": "xls"}).status_code == 422
    assert c.delete(f"/api/sessions/{sid}/annotations/{a['id']}", headers=H).status_code == 204

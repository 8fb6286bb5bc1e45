"""``--baseline-from``: the baseline from a separate resting recording, used from the first second."""

from __future__ import annotations

import csv

from coregulate.models.config import PipelineConfig
from coregulate.server.offline.analysis import analyze_session
from coregulate.server.offline.baseline import FROM_RECORDING, with_baseline_from


def test_baseline_from_a_separate_recording(tmp_path):
    rest = ["sim?seed=1&duration=400&audio=0"]  # a separate recording (the whole of it is the baseline)
    cfg = with_baseline_from(rest, PipelineConfig(), ["client", "therapist"])
    ref = cfg.baseline_reference
    assert set(ref) == {"client", "therapist"} and ref["client"]["tolerance"]["origin"] == FROM_RECORDING
    res = analyze_session(["sim?seed=2&duration=400&audio=0"], tmp_path / "s", config=cfg, report=False)
    assert any(n.startswith("baseline of client: separate resting recording") for n in res.notes)
    with open(tmp_path / "s" / "features.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["participant"] == "client"]
    # the session's own first 300 s would leave arousal empty until t = 300; here it starts at once
    with_arousal = [int(r["t_s"]) for r in rows if r["arousal"]]
    assert with_arousal and with_arousal[0] < 120
    with open(tmp_path / "s" / "events.csv") as f:
        labels = [r["label"] for r in csv.DictReader(f) if r["kind"] == "baseline"]
    assert labels and all("from the separate resting recording" in x for x in labels)


def test_baseline_from_over_the_api(tmp_path):
    """``SessionCreate.baseline_from``: the same resting baseline as the CLI's, from the data folder only."""
    import time

    import numpy as np
    from fastapi.testclient import TestClient

    from server_helpers import SUP, VIEW, auth
    from coregulate.server.app import Settings, create_app

    rng = np.random.default_rng(3)
    data = tmp_path / "data"
    data.mkdir()
    (data / "rest.txt").write_text("\n".join(f"{x:.0f}" for x in 850 + rng.normal(0, 15, 450)) + "\n")  # ~70 bpm
    (data / "session.txt").write_text("\n".join(f"{x:.0f}" for x in 600 + rng.normal(0, 10, 400)) + "\n")  # ~100 bpm
    h = auth(SUP)
    body = {"source": {"kind": "files", "specs": [f"client={data / 'session.txt'}"]}, "speed": "max",
            "baseline_from": [f"client={data / 'rest.txt'}"]}
    with TestClient(create_app(Settings(data_dir=data, token=SUP, viewer_token=VIEW))) as c:
        assert c.post("/api/sessions", headers=h, json={**body, "baseline": [0, 120]}).status_code == 422
        outside = {**body, "baseline_from": [f"client={tmp_path / 'elsewhere.txt'}"]}
        assert c.post("/api/sessions", headers=h, json=outside).status_code == 403
        other_role = {**body, "baseline_from": [f"therapist={data / 'rest.txt'}"]}
        r = c.post("/api/sessions", headers=h, json=other_role)
        assert r.status_code == 422 and "therapist" in r.json()["detail"]
        r = c.post("/api/sessions", headers=h, json=body)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        t = time.time()
        while c.get(f"/api/sessions/{sid}", headers=h).json()["status"] == "running":
            assert time.time() - t < 120
            time.sleep(0.1)
        events = c.get(f"/api/sessions/{sid}/events", headers=h).json()["events"]
        rows = c.get(f"/api/sessions/{sid}/features", headers=h, params={"participant": "client"}).json()["rows"]
    assert [e["label"] for e in events if e["kind"] == "baseline"][0].endswith("(from the separate resting recording)")
    arousal = [(r["t_s"], r["arousal"]) for r in rows if r.get("arousal") is not None]
    assert arousal and arousal[0][0] < 120  # from the first seconds, not after a 300-s baseline of its own
    assert np.mean([a for _, a in arousal]) > 2  # 100 bpm against a 70-bpm rest

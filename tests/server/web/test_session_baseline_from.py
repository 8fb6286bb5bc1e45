"""``baseline_from`` in a session request: the resting recording's baseline over the API (``--baseline-from``
of the CLI is tested in tests/server/offline/test_baseline_from.py)."""

from __future__ import annotations


def test_baseline_from_over_the_api(tmp_path):
    """``SessionCreate.baseline_from``: the same resting baseline as the CLI's, from the data folder only."""
    import time

    import numpy as np
    from fastapi.testclient import TestClient

    from server_helpers import SUP, VIEW, auth
    from coregulate.server.web.app import Settings, create_app

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

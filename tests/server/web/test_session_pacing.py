"""A session whose baseline is played faster (the demo): the request is checked, the source gets the
fast-forward, and the session description tells the dashboard the baseline and the pacing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from coregulate.sensors.pacing import FastForward
from coregulate.server.web.sessions import default_backends

from server_helpers import SUP


def test_baseline_speed_reaches_the_source_and_the_description(make_app):
    with TestClient(make_app(backends=default_backends())) as c:
        h = {"Authorization": f"Bearer {SUP}"}
        r = c.post("/api/sessions", headers=h, json={"source": {"kind": "simulator", "duration_s": 330, "audio": False},
                                                      "speed": 1.0, "baseline_speed": 20.0, "start": False})
        assert r.status_code == 201, r.text
        d = r.json()
        assert d["baseline"] == [0.0, 300.0]
        assert d["pacing"] == {"speed": 1.0, "baseline_speed": 20.0, "fast_until_s": 300.0}
        s = c.app.state.manager.live[d["id"]]
        assert s.source.fast_forward == FastForward(until_s=300.0, speed=20.0)
        # a custom baseline moves the end of the fast part with it
        r = c.post("/api/sessions", headers=h, json={"source": {"kind": "simulator", "duration_s": 400, "audio": False},
                                                      "baseline": [60, 200], "baseline_speed": "max", "start": False})
        d = r.json()
        assert d["baseline"] == [60.0, 200.0] and d["pacing"]["fast_until_s"] == 200.0
        assert c.app.state.manager.live[d["id"]].source.fast_forward == FastForward(until_s=200.0, speed=None)
        # without it, nothing is fast-forwarded
        d = c.post("/api/sessions", headers=h, json={"source": {"kind": "simulator", "duration_s": 330, "audio": False},
                                                      "start": False}).json()
        assert d["pacing"] == {"speed": 1.0} and c.app.state.manager.live[d["id"]].source.fast_forward is None
        assert c.post("/api/sessions", headers=h, json={"source": {"kind": "simulator"}, "baseline_speed": 0}).status_code == 422

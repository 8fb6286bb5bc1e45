"""Provisional dyad events through the runner, the hub and the recorder (issue #15, item 3): rupture,
repair and co-regulation candidates pushed on the wire before their final events, confirmed by them, and the
session file's final record unchanged."""

from __future__ import annotations

import asyncio
import json

from coregulate.models.config import PipelineConfig
from coregulate.sensors.simulator import Simulator
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.runner import SessionRunner
from coregulate.server.session.store import SessionStore
from coregulate.server.web.hub import Hub
from coregulate.server.web.hub_sink import HubSink
from coregulate.server.web.schemas import ProvisionalEventUpdate

DYAD_KINDS = {"rupture_candidate", "repair_candidate", "co_regulation"}
CONFIG = PipelineConfig(options={"heart": {"beat_sources": ["rr"]}})


def _run(tmp_path, name, sinks):
    sim = Simulator(seed=2, duration_s=700, audio=False)
    rec = Recorder(tmp_path / f"{name}.sqlite", name, sim.streams, CONFIG, utc0=sim.utc0)
    asyncio.run(SessionRunner(sim, rec, CONFIG, sinks=sinks).run())
    with SessionStore(tmp_path / f"{name}.sqlite") as st:
        return st.features(), st.events(), st.withdrawn_events()


def test_dyad_events_reach_the_viewer_provisionally_before_their_final_events(tmp_path):
    hub = Hub("s", max_lossy=100_000, max_kept=100_000)  # this test reads every frame at the end
    viewer = hub.subscribe(None)
    feats, events, withdrawn = _run(tmp_path, "live", [HubSink(hub)])
    plain_feats, plain_events, _ = _run(tmp_path, "plain", [])
    assert feats == plain_feats and events == plain_events  # the final record is the same

    frames = [json.loads(f.text) for f in asyncio.run(viewer.next_batch())]
    final_at = {e["id"]: i for i, f in enumerate(frames) if f["type"] == "events" for e in f["data"]}
    updates = [(i, u) for i, f in enumerate(frames) if f["type"] == "provisional_event" for u in f["data"]
               if u["event"]["kind"] in DYAD_KINDS]
    for _, u in updates:
        ProvisionalEventUpdate.model_validate(u)  # the documented wire schema
    pushed = {u["pid"]: (i, u) for i, u in updates if u["state"] == "provisional"}
    settled = {u["pid"]: (i, u) for i, u in updates if u["state"] != "provisional"}
    assert set(settled) == set(pushed)  # every pushed dyad event was settled
    finals = [e for e in events if e["kind"] in DYAD_KINDS]
    assert {e["kind"] for e in finals} == DYAD_KINDS  # the script's ruptures, repairs and co-regulation
    confirmed = [u for _, u in settled.values() if u["state"] == "confirmed"]
    assert sorted(u["final_id"] for u in confirmed) == sorted(e["id"] for e in finals)
    for u in confirmed:
        at, first = pushed[u["pid"]]
        assert at < final_at[u["final_id"]]  # on the wire before the final event
        assert first["event"]["participant"] is None and first["due_s"] is not None
    # withdrawn ones, if any, are kept apart in the file with the final second that withdrew them
    gone = sorted((u["pid"], u["event"]["kind"]) for _, u in settled.values() if u["state"] == "withdrawn")
    assert sorted((w["pid"], w["kind"]) for w in withdrawn if w["kind"] in DYAD_KINDS) == gone

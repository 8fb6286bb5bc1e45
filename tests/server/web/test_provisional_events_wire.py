"""Provisional events through the runner, the hub and the recorder (issue #15, item 3): pushed and
settled on the wire, withdrawn ones kept apart in the session file, final events unchanged."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from pathlib import Path

from coregulate.models.config import PipelineConfig
from coregulate.models.registry import Registry
from coregulate.sensors.simulator import Simulator
from coregulate.server.offline.export import export_csv
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.runner import SessionRunner
from coregulate.server.session.store import SessionStore
from coregulate.server.web.hub import Hub
from coregulate.server.web.hub_sink import HubSink
from coregulate.server.web.schemas import ProvisionalEventUpdate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))
from physio_helpers import PassThroughHeart  # noqa: E402

MISLEADING = (200.0, 240.0)  # the therapist's provisional HR is inflated by half over these seconds


class MisleadingHeart(PassThroughHeart):
    """RR beats straight through, the therapist's made 50 % faster for a while: provisional evidence
    of a hyperarousal that the final tier (which sees the true beats) never confirms."""

    def update(self, chunk):
        values = super().update(chunk)
        if self.participant == "therapist":
            for v in values:
                v["beat_hr_bpm"] = [h * 1.5 if MISLEADING[0] <= t < MISLEADING[1] else h
                                    for t, h in zip(v["beat_times"], v["beat_hr_bpm"])]
                v["hr_inst_bpm"] = v["beat_hr_bpm"][-1]
        return values


class MisleadingRegistry(Registry):
    def provisional_heart(self, participant, streams, config):
        return MisleadingHeart(participant, streams, config)


#: ECG beats only in the final tier (8-s blocks: about 15 s behind the data), and a 10-s sustain, so
#: that the provisional seconds alone can meet the zone rule
CONFIG = PipelineConfig(baseline=(0.0, 120.0), options={"tolerance": {"sustain_s": 10},
                                                        "heart": {"beat_sources": ["ecg"]}})


def _run(tmp_path, name, sinks):
    sim = Simulator(seed=2, duration_s=310, audio=False)
    rec = Recorder(tmp_path / f"{name}.sqlite", name, sim.streams, CONFIG, utc0=sim.utc0)
    asyncio.run(SessionRunner(sim, rec, CONFIG, sinks=sinks, registry=MisleadingRegistry()).run())
    (tmp_path / f"{name}-csv").mkdir()
    with SessionStore(tmp_path / f"{name}.sqlite") as st:
        exported = {p.name for p in export_csv(st, tmp_path / f"{name}-csv")}
        return st.features(), st.events(), st.withdrawn_events(), exported


def test_misleading_provisional_evidence_is_pushed_withdrawn_and_kept_apart_from_the_final_events(tmp_path):
    hub = Hub("s", max_lossy=100_000, max_kept=100_000)  # this test reads every frame at the end
    viewer = hub.subscribe(None)
    feats, events, withdrawn, exported = _run(tmp_path, "live", [HubSink(hub)])
    plain_feats, plain_events, plain_withdrawn, plain_exported = _run(tmp_path, "plain", [])
    assert feats == plain_feats and events == plain_events  # the final record is the same
    assert plain_withdrawn == []  # no viewer, no provisional tier: nothing provisional at all
    # the export adds the audit record only where there is one (`analyze` outputs are unchanged)
    assert exported - plain_exported == {"withdrawn_events.csv"} and plain_exported <= exported
    with open(tmp_path / "live-csv" / "withdrawn_events.csv") as fh:
        assert len(list(csv.DictReader(fh))) == len(withdrawn)

    frames = [json.loads(f.text) for f in asyncio.run(viewer.next_batch())]
    updates = [u for f in frames if f["type"] == "provisional_event" for u in f["data"]]
    assert all(f["lossy"] for f in frames if f["type"] == "provisional_event")
    for u in updates:
        ProvisionalEventUpdate.model_validate(u)  # the documented wire schema
    pushed = {u["pid"]: u for u in updates if u["state"] == "provisional"}
    therapist = [u for u in pushed.values() if u["event"]["participant"] == "therapist"
                 and u["event"]["label"] == "window -> hyper"]
    assert therapist and MISLEADING[0] <= therapist[0]["event"]["t_start"] <= MISLEADING[1]
    # the final tier never called it: withdrawn on the wire, and kept as such in the file only
    assert not any(e["participant"] == "therapist" and e["label"] == "window -> hyper" for e in events)
    settled = {u["pid"]: u for u in updates if u["state"] != "provisional"}
    assert set(settled) == set(pushed)  # every pushed event was settled
    assert settled[therapist[0]["pid"]]["state"] == "withdrawn"
    gone = [u for u in settled.values() if u["state"] == "withdrawn"]
    assert [(w["pid"], w["kind"], w["label"], w["t_start"]) for w in withdrawn] == sorted(
        [(u["pid"], u["event"]["kind"], u["event"]["label"], u["event"]["t_start"]) for u in gone],
        key=lambda x: (x[3], x[0]))
    for w in withdrawn:  # withdrawn once the final rows passed it by the tolerance
        assert w["final_upto_s"] >= w["t_start"] + settled[w["pid"]]["tolerance_s"]
    # a confirmation names the final event by the id the events frames carry
    ids = {e["id"] for f in frames if f["type"] == "events" for e in f["data"]}
    assert all(u["final_id"] in ids for u in settled.values() if u["state"] == "confirmed")

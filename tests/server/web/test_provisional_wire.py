"""The provisional tier on the wire (issue #15): to viewers only, throttled, never recorded."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.sensors.base import Source
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.sensors.simulator import Simulator
from coregulate.server.web.hub import Hub
from coregulate.server.web.hub_sink import PROVISIONAL_MIN_S, HubSink
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))
from physio_helpers import PassThroughRegistry  # noqa: E402


class _Collect:
    def __init__(self):
        self.provisional, self.features = [], []

    def on_provisional(self, values):
        self.provisional += values

    def on_features(self, rows):
        self.features += rows


def _run(tmp_path, name, sinks):
    sim = Simulator(seed=2, duration_s=310, audio=False)
    cfg = PipelineConfig()
    rec = Recorder(tmp_path / f"{name}.sqlite", name, sim.streams, cfg, utc0=sim.utc0)
    asyncio.run(SessionRunner(sim, rec, cfg, sinks=sinks, registry=PassThroughRegistry()).run())
    with SessionStore(tmp_path / f"{name}.sqlite") as st:
        recorded = (st.features(), st.dyad(), [(e["kind"], e["t_start"], e["participant"]) for e in st.events()])
    with sqlite3.connect(tmp_path / f"{name}.sqlite") as con:
        tables = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    return recorded, tables


def test_runner_sends_provisional_values_to_sinks_and_records_the_same_rows(tmp_path):
    viewer = _Collect()
    with_viewer, tables_a = _run(tmp_path, "a", [viewer])
    plain, tables_b = _run(tmp_path, "b", [])
    assert with_viewer == plain and tables_a == tables_b  # nothing provisional reaches the file
    assert viewer.provisional and {v["participant"] for v in viewer.provisional} == {"client", "therapist"}
    # the provisional value of a beat is out before the final row of its second
    first_final = min(r["t_s"] for r in viewer.features if r.get("hr_bpm") is not None)
    assert min(v["t"] for v in viewer.provisional) < first_final - 5


def _frames(hub_frames):
    return [json.loads(f.text) for f in hub_frames]


async def test_sink_throttles_per_person_on_session_time_and_loses_no_beat():
    hub = Hub("s", max_lossy=1000)  # this test reads every frame
    viewer = hub.subscribe(None)
    sink = HubSink(hub)
    ecg = StreamInfo("client", StreamKind.ECG, 100.0)
    beats = []
    for k in range(40):  # a beat every 0.1 s: faster than the throttle
        t = 0.1 * (k + 1)
        beats.append(t)
        sink.on_chunk(Chunk(ecg, np.zeros(10), t0=t - 0.1))
        sink.on_provisional([{"participant": "client", "t": t, "hr_inst_bpm": 600.0, "beat_times": [t],
                              "beat_hr_bpm": [600.0]}])
        sink.on_provisional([{"participant": "therapist", "t": t, "hr_inst_bpm": 60.0, "beat_times": [t],
                              "beat_hr_bpm": [60.0]}])
    sink.on_chunk(Chunk(ecg, np.zeros(100), t0=4.0))  # the client's data moves on: what is held goes out
    frames = [f for f in _frames(await viewer.next_batch()) if f["type"] == "provisional"]
    assert all(f["lossy"] for f in frames)
    # 40 values over 4 s of data: at most one frame per PROVISIONAL_MIN_S each, every beat once, in order
    for who in ("client", "therapist"):
        mine = [f["data"][0] for f in frames if f["data"][0]["participant"] == who]
        assert 4.0 / PROVISIONAL_MIN_S / 2 <= len(mine) <= 4.0 / PROVISIONAL_MIN_S + 1
        assert np.allclose([b for v in mine for b in v["beat_times"]], beats[: sum(len(v["beat_times"]) for v in mine)])
        assert np.all(np.diff([v["t"] for v in mine]) > 0)
    # the client's data moved on to 4.1 s: nothing of theirs is held back
    client = [f["data"][0] for f in frames if f["data"][0]["participant"] == "client"]
    assert np.allclose([b for v in client for b in v["beat_times"]], beats)


class _ChunkList(Source):
    """A recorded source of fixed chunks (voice frames, skin conductance and device RR of one person)."""

    def __init__(self, streams, chunks):
        self.streams, self.chunks = streams, chunks

    async def __aiter__(self):
        for c in self.chunks:
            yield c


async def test_voice_and_skin_conductance_reach_the_hub_before_their_rows_and_match_them(tmp_path):
    from test_provisional_streams import CONFIG, EDA, EDA_COLUMNS, PROSODY, RR, _interleaved

    from coregulate.models.voice import VOICE_COLUMNS
    from coregulate.server.web.schemas import ProvisionalValue

    streams, chunks = [RR, EDA, PROSODY], _interleaved(0.5)
    hub = Hub("s", max_lossy=100_000, max_kept=100_000)  # this test reads every frame
    viewer = hub.subscribe(None)
    rec = Recorder(tmp_path / "a.sqlite", "a", streams, CONFIG)
    await SessionRunner(_ChunkList(streams, chunks), rec, CONFIG, sinks=[HubSink(hub)]).run()
    frames = _frames(await viewer.next_batch())  # published in this loop: all there once the run ends
    prov = [ProvisionalValue.model_validate(v) for f in frames if f["type"] == "provisional" for v in f["data"]]
    rows = {r["t_s"]: r for f in frames if f["type"] == "features" for r in f["data"]}
    with SessionStore(tmp_path / "a.sqlite") as st:
        recorded = {r["t_s"]: r for r in st.features()}
    for family, columns in (("voice", VOICE_COLUMNS), ("eda", EDA_COLUMNS)):
        mine = [v for v in prov if v.family == family]
        assert len(mine) >= 190  # one per second, from the session's first on
        for v in mine:
            t = int(v.t)
            # the row of that second says the same (the features frame leaves out nulls)
            assert {k: getattr(v, k) for k in columns if getattr(v, k) is not None} == \
                   {k: rows[t][k] for k in columns if k in rows[t]}
            # ... and so does the recorded row (the wire rounds floats to 4 decimals)
            assert {k: getattr(v, k) for k in columns} == pytest.approx({k: recorded[t][k] for k in columns}, abs=1e-4)
        # sent before the features frame holding their second
        first_row_frame = {t: i for i, f in reversed(list(enumerate(frames))) if f["type"] == "features"
                           for t in (r["t_s"] for r in f["data"])}
        seen = {int(v["t"]): i for i, f in enumerate(frames) if f["type"] == "provisional"
                for v in f["data"] if v.get("family") == family}
        assert all(seen[t] < first_row_frame[t] for t in seen if t in first_row_frame)
    assert any(v.family == "eda" and v.arousal is not None for v in prov)  # skin conductance moves it
    assert all(v.family == "heart" for v in prov if v.beat_times)  # heart beats stay in heart values

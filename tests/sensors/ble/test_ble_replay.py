"""A fake Polar H10 fed with the simulator's client ECG and beats, through the real adapter,
recorded by the session runner; the recording replays to identical features, and the live
times match the simulator's truth to within the scripted BLE latency."""

import asyncio

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.sensors.ble.adapter import PolarH10Source
from coregulate.sensors.ble.emulator import FakeHub, FakeNow, collect, strap_script, until
from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.live import LiveSource
from coregulate.sensors.replay import ReplaySource
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner
from coregulate.server.session.session_source import SessionFileReader



class TinyDataConfig(PipelineConfig):
    """A config whose baseline may be shorter than the 60 s users can set: these recordings last seconds."""

    MIN_BASELINE_S = 0.0


DURATION = 120.0
DROP = (60.0, 64.0)  # link down: what the strap measured then is lost


async def run_live(tmp_path, events):
    hub, now = FakeHub(), FakeNow()
    strap = PolarH10Source("A0:9E:1A:00:00:01", "client", client_factory=hub.factory, now=now, backoff=(0.0,))
    source = LiveSource([strap])
    config = TinyDataConfig(baseline=(10, 50))
    rec = Recorder(tmp_path / "live.sqlite", "live", source.streams, config)
    runner = SessionRunner(source, rec, config)
    task = asyncio.create_task(runner.run())
    await until(lambda: strap.stats.connects == 1)
    sent_beats, dropped = [], False
    for arrival, uuid, payload, what in events:
        if DROP[0] <= arrival < DROP[1]:
            if not dropped:
                hub.current.drop()
                dropped = True
            continue
        if dropped and strap.stats.connects == 1:
            await until(lambda: strap.stats.connects == 2)
        now.t = arrival
        hub.current.notify(uuid, payload)
        if what[0] == "rr":
            sent_beats.append((what[1], what[2]))
        await asyncio.sleep(0)  # let the runner keep up, as a live session would
    await source.aclose()
    assert await asyncio.wait_for(task, 60) == "complete"
    return tmp_path / "live.sqlite", sent_beats


async def test_live_recording_replays_to_identical_features(tmp_path):
    for family in ("autonomic", "tolerance", "dyad"):  # the pipeline is still being assembled
        pytest.importorskip(f"coregulate.models.{family}")
    events, _ = strap_script()
    path, sent = await run_live(tmp_path, events)
    with SessionStore(path) as st:
        live = st.features(participant="client")
        rr_chunks = list(st.chunks("client/rr"))
        gaps = st.gaps()
    assert len(live) >= 100 and any(r["hr_bpm"] is not None for r in live)
    config = TinyDataConfig(baseline=(10, 50))
    replay_src = ReplaySource([SessionFileReader(path)], speed=None)
    rec2 = Recorder(tmp_path / "again.sqlite", "again", replay_src.streams, config)
    assert await SessionRunner(replay_src, rec2, config).run() == "complete"
    with SessionStore(tmp_path / "again.sqlite") as st2:
        again = st2.features(participant="client")
    assert again == live
    # the drop is a recorded gap on every stream, and no beat was lost or doubled
    down = {g["stream"]: (g["t_start"], g["t_end"]) for g in gaps}
    assert set(down) == {"client/ecg", "client/rr", "client/hr"}
    for a, b in down.values():  # each gap covers the link's down time, less one frame of 0.56 s
        assert a <= DROP[0] and b >= DROP[1] - 73 / 130 and b - a > DROP[1] - DROP[0] - 73 / 130
    assert sum(c.gap_before for c in rr_chunks) == 1
    got = np.concatenate([c.values for c in rr_chunks])
    want = np.concatenate([rr for _, rr in sent])
    np.testing.assert_allclose(got, np.round(want * 1.024) / 1.024, atol=1e-9)


async def test_live_times_match_truth(tmp_path):
    events, _ = strap_script(seed=1)
    hub, now = FakeHub(), FakeNow()
    strap = PolarH10Source("AA", "client", client_factory=hub.factory, now=now)
    out = []
    task = asyncio.create_task(collect(strap, out))
    await until(lambda: strap.stats.connects == 1)
    truth_beats = []
    for arrival, uuid, payload, what in events:
        now.t = arrival
        hub.current.notify(uuid, payload)
        if what[0] == "rr":
            truth_beats.append(what[1])
    await strap.aclose()
    await task
    ecg = [c for c in out if c.kind is StreamKind.ECG]
    t0_err = np.array([c.t0 - k * 73 / 130.0 for k, c in enumerate(ecg)])
    beat_t = np.concatenate([c.times for c in out if c.kind is StreamKind.RR])
    beat_err = beat_t - np.concatenate(truth_beats)
    # after the first 30 s the clock fit holds samples and beats to the fastest delivery (8-10 ms)
    assert np.abs(t0_err[len(t0_err) // 4 :]).max() < 0.012, np.abs(t0_err).max()
    assert np.abs(beat_err[len(beat_err) // 4 :]).max() < 0.015, np.abs(beat_err).max()
    assert not any(c.gap_before for c in out)

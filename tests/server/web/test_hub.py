"""Hub: sequence numbers, resume without gaps, lossy-first dropping, slow viewers cut loose."""

from __future__ import annotations

import asyncio
import json

import numpy as np

from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.server.web.hub import Hub, _clean, _dumps, clean_records
from coregulate.server.web.hub_sink import HubSink


def _seqs(frames):
    return [json.loads(f.text)["seq"] for f in frames if f.kept]


async def test_kept_frames_are_numbered_consecutively_and_lossy_ones_reuse_the_last():
    hub = Hub("s")
    a = hub.publish("features", [{"t_s": 1}])
    w = hub.publish("wave", {"t": [0.1], "v": [1.0]})
    b = hub.publish("events", [{"kind": "x"}])
    assert (a.seq, w.seq, b.seq) == (1, 1, 2)
    assert json.loads(w.text)["lossy"] is True and "lossy" not in json.loads(b.text)


async def test_resume_replays_every_kept_frame_after_since():
    hub = Hub("s")
    for i in range(10):
        hub.publish("features", [{"t_s": i}])
        hub.publish("wave", {"t": [i], "v": [0]})
    v = hub.subscribe(since=4)
    batch = await v.next_batch()
    assert _seqs(batch) == list(range(5, 11))
    assert json.loads(batch[0].text)["type"] == "hello"
    hub.publish("dyad", [{"t_s": 11}])
    assert _seqs(await v.next_batch()) == [11]


async def test_resume_beyond_buffer_asks_for_resync():
    hub = Hub("s", buffer_frames=5)
    for i in range(20):
        hub.publish("features", [{"t_s": i}])
    v = hub.subscribe(since=3)
    types = [json.loads(f.text)["type"] for f in await v.next_batch()]
    assert types == ["hello", "resync"]
    v2 = hub.subscribe(since=15)  # 16..20 are still buffered
    assert _seqs(await v2.next_batch()) == [16, 17, 18, 19, 20]


async def test_since_from_the_future_asks_for_resync():
    hub = Hub("s")
    hub.publish("features", [])
    v = hub.subscribe(since=99)
    assert [json.loads(f.text)["type"] for f in await v.next_batch()] == ["hello", "resync"]


async def test_slow_viewer_loses_waveforms_first_and_is_cut_when_kept_frames_overflow():
    hub = Hub("s", max_kept=10, max_lossy=4)
    slow, fast = hub.subscribe(None), hub.subscribe(None)
    await slow.next_batch(), await fast.next_batch()  # hellos
    for i in range(8):
        hub.publish("wave", {"i": i})
        hub.publish("features", [{"t_s": i}])
        assert len(await fast.next_batch()) == 2  # the fast viewer sees everything
    assert slow.dropped_lossy == 4 and len(slow.lossy) == 4 and len(slow.kept) == 8
    for i in range(3):
        hub.publish("features", [{"t_s": 100 + i}])
        await fast.next_batch()
    assert slow.overflowed and await slow.next_batch() == []
    assert not fast.overflowed  # publishing never waited on the slow viewer


async def test_viewer_of_an_ended_session_gets_the_rest_then_stops():
    hub = Hub("s")
    hub.publish("features", [])
    hub.publish("end", {"status": "complete"})
    v = hub.subscribe(since=1)
    assert [json.loads(f.text)["type"] for f in await v.next_batch()] == ["hello", "end"]
    assert await asyncio.wait_for(v.next_batch(), 1) == []


def test_sink_reduces_ecg_to_an_envelope_and_audio_to_levels():
    hub = Hub("s")
    sink = HubSink(hub)
    ecg = StreamInfo("client", StreamKind.ECG, 130.0)
    aud = StreamInfo("client", StreamKind.AUDIO, 16000.0)
    got = []
    v = hub.subscribe(None)
    for k in range(4):
        t0 = k * 0.25
        sink.on_chunk(Chunk(ecg, np.sin(np.arange(int(130 * 0.25)) / 5.0) * 500, t0=t0))
        sink.on_chunk(Chunk(aud, np.full(4000, 0.1), t0=t0))
    got = [json.loads(f.text) for _, f in v.lossy]
    waves = [g for g in got if g["type"] == "wave"]
    levels = [g for g in got if g["type"] == "level"]
    assert waves and levels and any(g["type"] == "sensors" for g in got)
    pts = sum(len(w["data"]["v"]) for w in waves)
    assert 30 <= pts <= 70  # ~50 points per second of ECG, not 130
    assert all(abs(x - 20 * np.log10(0.1)) < 0.2 for lv in levels for x in lv["data"]["v"])
    sink.on_features([{"t_s": 1, "participant": "client", "hr_bpm": float("nan"), "rmssd_ms": None}])
    f = json.loads(hub.buffer[-1].text)
    assert f["type"] == "features" and f["data"] == [{"t_s": 1, "participant": "client", "hr_bpm": None}]


def test_one_silence_counts_as_one_gap_however_often_the_source_renews_it():
    sink = HubSink(Hub("s"))
    eda = StreamInfo("client", StreamKind.EDA, 4.0)
    key = eda.key
    sink.on_chunk(Chunk(eda, np.full(8, 2.0), t0=0.0))
    for t in (3.0, 4.0, 5.0):  # the live source's silence mark, renewed every second
        sink.on_chunk(Chunk(eda, np.empty(0), t0=t, t_end=t, gap_before=True, meta={"silent": True}))
    assert sink.streams[key].gaps == 1
    sink.on_chunk(Chunk(eda, np.full(4, 2.0), t0=6.0, gap_before=True))  # data back after the silence
    assert sink.streams[key].gaps == 2
    sink.on_chunk(Chunk(eda, np.empty(0), t0=9.0, t_end=9.0, gap_before=True, meta={"silent": True}))
    assert sink.streams[key].gaps == 3  # a new silence is a new gap


def test_clean_records_gives_what_the_general_cleaning_gives_on_flat_records():
    # the provisional frames' fast path: every type it handles itself, and those it hands on
    records = [
        {"participant": "client", "family": "heart", "t": 123.456789123, "hr_inst_bpm": 71.23456, "hr_bpm": None,
         "beat_times": [123.456789123, 124.1000049], "beat_hr_bpm": [None, 60.123456], "zone": "window",
         "n": 3, "ok": True, "nan": float("nan"), "inf": -float("inf"), "empty": []},
        {"participant": "therapist", "np_float": np.float64(0.123456789), "np_int": np.int64(7), "np_bool": np.bool_(False),
         "mixed": [np.float32(1.5), float("nan"), 2, "x", {"a": 1.234567}, (1.0000001, None)],
         "nested": {"z": float("inf"), "w": [np.float64(2.000049)]}, "tuple": (1.23456789,)},
        ["not", "a", "dict", 1.234567],
    ]
    fast, plain = clean_records(records), _clean(records)
    assert fast == plain
    # the same JSON text, as the hub sends it (types included: a numpy value is converted as before)
    assert _dumps(fast) == _dumps(plain)
    assert [type(x) for x in fast[1].values()] == [type(x) for x in plain[1].values()]


def test_the_sink_sends_provisional_values_cleaned_as_the_hub_would_clean_them():
    hub = Hub("s")
    sent = []
    hub.submit = lambda type_, data, clean=True: sent.append((type_, data, clean))
    sink = HubSink(hub)
    value = {"participant": "client", "family": "heart", "t": 10.123456789, "hr_inst_bpm": float("nan"),
             "beat_times": [10.123456789], "beat_hr_bpm": [None], "arousal": np.float64(0.987654321)}
    sink.on_provisional([value])
    [(type_, data, clean)] = sent
    assert type_ == "provisional" and clean is False
    assert _dumps(data) == _dumps(_clean([value]))

"""Hub: sequence numbers, resume without gaps, lossy-first dropping, slow viewers cut loose."""

from __future__ import annotations

import asyncio
import json

import numpy as np

from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.server.web.hub import RECORDS, Hub, _clean, _dumps, encode_records
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


def _flat_scalar(rng):
    kind = rng.integers(9)
    if kind == 0:
        return float(rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -5e-324, 0.00005, 0.00015, 2.5e-5]))
    if kind == 1:
        return float(rng.normal() * 10.0 ** rng.integers(-8, 9))
    if kind == 2:
        return None
    if kind == 3:
        return bool(rng.integers(2))
    if kind == 4:
        return int(rng.integers(-(10**12), 10**12)) * int(10 ** rng.integers(0, 10))
    if kind == 5:
        return "".join(rng.choice(list('ab"\\/\n\t\x00\x7féü€😀 zk')) for _ in range(rng.integers(0, 6)))
    if kind == 6:
        return round(float(rng.uniform(-200, 200)), int(rng.integers(0, 7)))
    return float(rng.uniform(-1, 1)) * 10.0 ** int(rng.integers(-30, 30))


def test_encode_records_writes_what_cleaning_then_dumping_writes():
    # the provisional frames' fast path against the general one, on every type it handles itself
    rng = np.random.default_rng(7)
    records = [{"participant": "client", "family": "heart", "t": 123.456789123, "hr_inst_bpm": 71.23456,
                "hr_bpm": None, "beat_times": [123.456789123, 124.1000049], "beat_hr_bpm": [None, 60.123456],
                "zone": "window", "n": 3, "ok": True, "no": False, "nan": float("nan"), "inf": -float("inf"),
                "empty": [], "unicode \u00e9 \"key\"": "\u20ac\n", "mixed": [1, "x", True, None, 2.0000001]}, {}]
    for i in range(2000):
        if i:  # random flat records: keys old and new, values and lists of every plain type
            records = [{f"k{int(rng.integers(40))}é"[: int(rng.integers(1, 5))]: (
                [_flat_scalar(rng) for _ in range(int(rng.integers(0, 4)))] if rng.integers(4) == 0
                else _flat_scalar(rng)) for _ in range(int(rng.integers(0, 12)))} for _ in range(int(rng.integers(0, 4)))]
        assert encode_records(records) == _dumps(_clean(records))
    # anything else is left to the general path
    for other in ([{"a": np.float64(1.5)}], [{"a": [np.float64(1.5)]}], [{"a": (1.0,)}], [{"a": [[1.0]]}],
                  [{"a": {"b": 1.0}}], [{1: 1.0}], [["a", 1.0]], ({"a": 1.0},), {"a": 1.0}, None,
                  [{"a": 1.0}, {"b": np.int64(2)}], [{"new key": np.bool_(True)}], [{"a": object()}]):
        assert encode_records(other) is None


def test_a_frame_of_records_is_the_frame_of_the_general_path():
    rng = np.random.default_rng(3)
    for type_ in ("provisional", "features"):
        for wall in (1_700_000_000.1234567, 12.0, 7, float("inf"), None):
            records = [{"participant": "client", "t": _flat_scalar(rng), "beat_times": [_flat_scalar(rng)]},
                       {"participant": "therapist", "np": np.float64(rng.normal())}][: int(rng.integers(1, 3))]
            fast, plain = Hub("s"), Hub("s")
            a = fast.publish(type_, records, clean=RECORDS, t_pub=1.0, wall=wall)
            b = plain.publish(type_, records, clean=True, t_pub=1.0, wall=wall)
            if wall is None:  # the hub's own clock: only the time stamps may differ
                a.text, b.text = (json.dumps({**json.loads(f.text), "ts": 0}) for f in (a, b))
            assert (a.seq, a.type, a.text, a.kept) == (b.seq, b.type, b.text, b.kept)


def test_the_sink_sends_provisional_values_as_records_the_hub_cleans_as_it_would_clean_them():
    hub = Hub("s")
    sent = []
    hub.submit = lambda type_, data, clean=True: sent.append((type_, data, clean))
    sink = HubSink(hub)
    value = {"participant": "client", "family": "heart", "t": 10.123456789, "hr_inst_bpm": float("nan"),
             "beat_times": [10.123456789], "beat_hr_bpm": [None], "arousal": np.float64(0.987654321)}
    sink.on_provisional([value])
    [(type_, data, clean)] = sent
    assert type_ == "provisional" and clean == RECORDS and data == [value] and data[0] is not value
    frame = Hub("s").publish(type_, data, clean=clean, wall=5.0)
    assert frame.text == Hub("s").publish(type_, [value], clean=True, wall=5.0).text

import itertools

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.heart import HeartEstimator
from coregulate.models.provisional_heart import ProvisionalHeart
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk
from coregulate.sensors.simulator import Simulator

from physio_helpers import rr_chunks, rr_series

CFG = PipelineConfig()


def _run(ph, chunks):
    out = []
    for c in chunks:
        out += ph.update(c)
    return out


def _beats(out):
    return np.array([b for o in out for b in o["beat_times"]]), [h for o in out for h in o["beat_hr_bpm"]]


@pytest.fixture(scope="module")
def sim_client():
    """90 s of the simulated client: ECG and RR chunks (1 s), in the simulator's order."""
    sim = Simulator(seed=4, duration_s=400, audio=False, rr=True)
    chunks = [c for c in itertools.takewhile(lambda c: c.start < 90, sim.chunks()) if c.participant == "client"]
    return sim, [s for s in sim.streams if s.participant == "client"], chunks


def test_rr_goes_straight_through_with_the_final_window_mean():
    rr = rr_series(200, seed=1)
    t = 1.0 + np.cumsum(rr) / 1000.0
    info, chunks = rr_chunks(t, rr, per=3)
    out = _run(ProvisionalHeart("client", [info], CFG), chunks)
    assert len(out) == len(chunks)  # one value per chunk that brought beats, no look-ahead
    beats, hr = _beats(out)
    assert np.allclose(beats, t, atol=1e-9)
    assert hr[0] is None and np.allclose(hr[1:], 60000.0 / rr[1:])
    for o in out:
        assert o["t"] == o["beat_times"][-1] and o["beat_source"] == "rr"
        sel = (t > o["t"] - CFG.window_s + 1e-9) & (t <= o["t"] + 1e-9)  # beat times rebuilt from the RR sum
        iv = rr[sel][1:] if sel[0] else rr[sel]  # the first beat of all has no interval
        covered = iv.sum() / 1000.0 / CFG.window_s
        if covered >= 0.5 and len(iv) >= 3:
            assert o["hr_bpm"] == pytest.approx(60000.0 / iv.mean(), rel=1e-9) and o["heart_source"] == "rr"
        else:
            assert o["hr_bpm"] is None and o["heart_source"] is None


def test_device_hr_goes_straight_through_where_no_beats_are_live():
    hr_info = StreamInfo("client", StreamKind.HR, 1.0)
    rr_info = StreamInfo("client", StreamKind.RR)
    ph = ProvisionalHeart("client", [hr_info, rr_info], CFG)
    hr = 60 + 5 * np.sin(np.arange(20) / 3)
    out = [ph.update(Chunk(hr_info, hr[k : k + 1], t0=float(k))) for k in range(10)]
    assert all(len(o) == 1 for o in out)
    assert [o[0]["hr_inst_bpm"] for o in out] == pytest.approx(hr[:10].tolist())
    assert out[-1][0]["hr_bpm"] == pytest.approx(hr[:10].mean()) and out[-1][0]["heart_source"] == "device_hr"
    # RR beats arrive: they speak for their moments, the device HR goes quiet until they stop for gap_s
    rr = np.full(5, 800.0)
    ph.update(Chunk(rr_info, rr, times=10.0 + np.cumsum(rr) / 1000.0))
    assert ph.update(Chunk(hr_info, hr[10:11], t0=10.0)) == []
    assert ph.update(Chunk(hr_info, hr[12:13], t0=16.5)) == []  # the last beat (14 s) is < 3 s old
    assert ph.update(Chunk(hr_info, hr[13:14], t0=17.5))[0]["hr_inst_bpm"] == pytest.approx(hr[13])


def test_contact_lost_device_hr_is_not_published():
    hr_info = StreamInfo("client", StreamKind.HR, 1.0)
    ph = ProvisionalHeart("client", [hr_info], CFG)
    assert ph.update(Chunk(hr_info, np.array([70.0]), t0=0.0, meta={"contact": False})) == []


def test_ecg_beats_follow_the_simulated_heart(sim_client):
    sim, streams, chunks = sim_client
    ecg_only = [s for s in streams if s.kind == StreamKind.ECG]
    out = _run(ProvisionalHeart("client", ecg_only, CFG), [c for c in chunks if c.kind == StreamKind.ECG])
    beats, hr = _beats(out)
    truth = sim.truth.beat_times["client"]
    truth = truth[(truth > 1.3) & (truth < 89.5)]
    assert abs(len(beats) - len(truth)) <= 2
    j = np.searchsorted(beats, truth).clip(1, len(beats) - 1)
    err = np.minimum(np.abs(beats[j] - truth), np.abs(beats[j - 1] - truth))
    assert np.median(err) < 0.01 and np.mean(err < 0.05) > 0.98
    assert {o["beat_source"] for o in out} == {"ecg"}
    assert out[-1]["hr_bpm"] == pytest.approx(60.0 / np.mean(np.diff(truth[truth > 89.5 - 60])), rel=0.02)


def test_ecg_values_do_not_depend_on_chunking(sim_client):
    _, streams, chunks = sim_client
    ecg = [c for c in chunks if c.kind == StreamKind.ECG]
    ecg_only = [s for s in streams if s.kind == StreamKind.ECG]
    a = _run(ProvisionalHeart("client", ecg_only, CFG), ecg)
    b = _run(ProvisionalHeart("client", ecg_only, CFG), rechunk(ecg, 0.37))
    ba, ha = _beats(a)
    bb, hb = _beats(b)
    assert np.array_equal(ba, bb) and ha == hb
    # the window mean at a beat is the same whichever chunk brought it
    at = {o["t"]: o["hr_bpm"] for o in a}
    common = [o for o in b if o["t"] in at]
    assert len(common) > 20 and all(o["hr_bpm"] == at[o["t"]] for o in common)


def test_rr_ranks_above_ecg_and_ecg_fills_an_rr_dropout(sim_client):
    _, streams, chunks = sim_client
    # the strap's RR stream stops for 20 s (30-50 s); the ECG goes on
    fed = [c for c in chunks if not (c.kind == StreamKind.RR and 30 <= c.start < 50)]
    ph = ProvisionalHeart("client", streams, CFG)
    out = _run(ph, fed)
    # the R-peak detector ran only around the dropout (from 2 s after the last RR beat until
    # the RR is back): about 20 of the 90 s
    assert 15 * 130 <= ph.sources[StreamKind.ECG].samples_detected <= 23 * 130
    used = [(b, h, o["beat_source"]) for o in out for b, h in zip(o["beat_times"], o["beat_hr_bpm"])]
    src = {s for b, _, s in used if 36 < b < 48}
    assert src == {"ecg"}  # beyond gap_s (3 s) after the last RR beat, the ECG speaks
    assert {s for b, _, s in used if 2 < b < 29 or b > 52} == {"rr"}
    # no interval across a switch of source
    for (b0, _, s0), (b1, h1, s1) in zip(used, used[1:]):
        if s0 != s1:
            assert h1 is None
    assert all(b1 > b0 for (b0, _, _), (b1, _, _) in zip(used, used[1:]))  # one beat series in time order
    # hr_bpm never disappears across the dropout: the window keeps the beats of both sources
    assert all(o["hr_bpm"] is not None for o in out if o["t"] > 35)


def test_a_gap_restarts_only_the_run(sim_client):
    _, streams, chunks = sim_client
    ecg = [c for c in chunks if c.kind == StreamKind.ECG]
    ecg_only = [s for s in streams if s.kind == StreamKind.ECG]
    cut = [c for c in ecg if not 40 <= c.start < 45]
    cut = [Chunk(c.stream, c.values, t0=c.t0, gap_before=True) if c.start == 45 else c for c in cut]
    out = _run(ProvisionalHeart("client", ecg_only, CFG), cut)
    beats, hr = _beats(out)
    first_after = int(np.searchsorted(beats, 45.0))
    assert hr[first_after] is None and all(h is not None for h in hr[first_after + 1 :])
    assert beats[first_after] > 45.7  # the detector warms up again after the gap (1 s, 0.3 s of it look-ahead)
    assert not np.any((beats > 40.0) & (beats < 45.0))
    # the window keeps the beats before the gap: hr_bpm is there with the first beats after it
    with_second = next(o for o in out if beats[first_after + 1] in o["beat_times"])
    assert with_second["hr_bpm"] is not None


def test_deterministic_and_ignores_other_people(sim_client):
    _, streams, chunks = sim_client
    a = _run(ProvisionalHeart("client", streams, CFG), chunks)
    b = _run(ProvisionalHeart("client", streams, CFG), chunks)
    assert a == b
    other = [Chunk(StreamInfo("therapist", c.kind, c.stream.rate), c.values, t0=c.t0, times=c.times, t_end=c.t_end)
             for c in chunks]
    assert _run(ProvisionalHeart("client", streams, CFG), other) == []


def test_final_rows_are_unchanged_by_the_provisional_tier(sim_client):
    _, streams, chunks = sim_client
    alone = HeartEstimator("client", streams, CFG)
    rows_alone = [r for c in chunks for r in alone.update(c)] + alone.finish()
    beside = HeartEstimator("client", streams, CFG)
    ph = ProvisionalHeart("client", streams, CFG)
    rows_beside = []
    for c in chunks:
        ph.update(c)
        rows_beside += beside.update(c)
    rows_beside += beside.finish()
    assert rows_beside == rows_alone and len(rows_alone) >= 89


def test_detection_never_idles_when_the_final_gate_is_off(sim_client):
    _, streams, chunks = sim_client
    cfg = PipelineConfig(options={"heart": {"ecg_gate_margin_s": 0}})
    ph = ProvisionalHeart("client", streams, cfg)
    out = _run(ph, chunks)
    assert ph.sources[StreamKind.ECG].samples_detected == sum(len(c) for c in chunks if c.kind == StreamKind.ECG)
    gated = _run(ProvisionalHeart("client", streams, CFG), chunks)

    def rr_beats(values):
        return [b for o in values if o["beat_source"] == "rr" for b in o["beat_times"] if b > 3.0]

    # the gate only saves work: the RR beats shown are the same either way
    assert rr_beats(out) == rr_beats(gated) and len(rr_beats(out)) > 90
    # with the detector running throughout, the priority rule alone keeps its beats out
    assert {o["beat_source"] for o in out if o["t"] > 3.0} == {"rr"}


def test_an_rr_dropout_starts_a_new_run_and_keeps_the_window():
    rr = rr_series(120, seed=2)
    t = 1.0 + np.cumsum(rr) / 1000.0
    info = StreamInfo("client", StreamKind.RR)
    keep = (t < 50) | (t > 55)  # 5 s of beats lost, the next chunk says so
    first_after = int(np.argmax(t > 55))
    chunks = [Chunk(info, rr[i : i + 4][keep[i : i + 4]], times=t[i : i + 4][keep[i : i + 4]],
                    gap_before=bool(i <= first_after < i + 4)) for i in range(0, len(rr), 4) if keep[i : i + 4].any()]
    out = _run(ProvisionalHeart("client", [info], CFG), chunks)
    beats, hr = _beats(out)
    k = int(np.searchsorted(beats, 55.0))
    assert np.allclose(beats, t[keep], atol=1e-9)
    assert hr[k] is None and hr[k + 1] == pytest.approx(60000.0 / rr[first_after + 1])
    with_gap = next(o for o in out if beats[k] in o["beat_times"])
    assert with_gap["hr_bpm"] is not None  # the window still holds the beats before the dropout


def test_a_beat_closer_than_min_rr_is_dropped():
    info = StreamInfo("client", StreamKind.RR)
    t = np.array([1.0, 1.8, 1.9, 2.6])  # 1.9 is 100 ms after 1.8: no heart beats at 600 bpm
    out = ProvisionalHeart("client", [info], CFG).update(Chunk(info, np.array([800.0, 800.0, 100.0, 800.0]), times=t))
    # times come from the cumulative intervals (as the final track rebuilds them): 1.9 + 0.8
    assert out[0]["beat_times"] == pytest.approx([1.0, 1.8, 2.7])
    assert out[0]["beat_hr_bpm"][2] == pytest.approx(60.0 / 0.9)


def test_missing_samples_end_the_run_at_the_hole(sim_client):
    _, streams, chunks = sim_client
    ecg = [c for c in chunks if c.kind == StreamKind.ECG]
    ecg_only = [s for s in streams if s.kind == StreamKind.ECG]
    holed = []
    for c in ecg:
        if c.start == 30:
            v = np.array(c.values, dtype=float)
            v[40:60] = np.nan  # 0.15 s of samples missing inside the chunk
            c = Chunk(c.stream, v, t0=c.t0)
        holed.append(c)
    beats, hr = _beats(_run(ProvisionalHeart("client", ecg_only, CFG), holed))
    k = int(np.searchsorted(beats, 30.0 + 60 / 130.0))
    assert hr[k] is None and beats[k] > 30.0 + 60 / 130.0 + 0.7  # a new segment, warmed up again
    assert all(h is not None for h in hr[k + 1 :])
